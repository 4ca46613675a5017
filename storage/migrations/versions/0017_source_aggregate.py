"""trend_source_week: the weekly aggregate per source (the substance page's sources table), beside 0015's; and
the three per class (trend_class_*_week): a class page or the map of everything reads a few merged rows

trend_source_week has rows per segment (as trend_mention_week's), substance, region and source: the posts,
distinct ads, first and last time seen and offers of that source there, with the distinct post and ad ids. The
class tables are 0015's two and this one with a class in place of the substance: a class's substances merged, and
'*' every substance. The stale-day triggers of 0015 cover their writes; the trigger on a post's ad or source also
marks the days of the post's offers now (an offer counts for its post's source), and a substance moved to another
class marks the days of its offers and mentions. On an existing database every day with offers or mentions is
marked: the first read builds the new rows.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_DAY_SQLITE = "CAST(julianday({x}) + 0.5 AS INTEGER) - 2440588"
_DAY_PG = "(({x} AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"


def upgrade() -> None:
    op.create_table(
        "trend_source_week",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("substance_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("ads", sa.Integer(), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("post_ids", sa.LargeBinary(), nullable=False),
        sa.Column("ad_ids", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day", "substance_id", "region_id", "source_id"),
    )
    # class first in the keys: a class's rows are one range of the table
    def cls() -> sa.Column:  # a substance class, or '*': every substance
        return sa.Column("cls", sa.String(length=40), nullable=False)

    op.create_table(
        "trend_class_offer_week",
        sa.Column("day", sa.Integer(), nullable=False), cls(),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        *(sa.Column(k, sa.LargeBinary(), nullable=False) for k in ("prices", "qty", "usd", "usd_qty")),
        sa.PrimaryKeyConstraint("cls", "day", "region_id", "unit", "currency"),
    )
    op.create_table(
        "trend_class_mention_week",
        sa.Column("day", sa.Integer(), nullable=False), cls(),
        sa.Column("region_id", sa.Integer(), nullable=False),
        *(sa.Column(k, sa.Integer(), nullable=False) for k in ("posts", "ads", "sources")),
        *(sa.Column(k, sa.BigInteger(), nullable=False) for k in ("first_seen", "last_seen")),
        *(sa.Column(k, sa.LargeBinary(), nullable=False) for k in ("post_ids", "ad_ids", "source_ids")),
        sa.PrimaryKeyConstraint("cls", "day", "region_id"),
    )
    op.create_table(
        "trend_class_source_week",
        sa.Column("day", sa.Integer(), nullable=False), cls(),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.Integer(), nullable=False),
        *(sa.Column(k, sa.Integer(), nullable=False) for k in ("posts", "ads", "offers")),
        *(sa.Column(k, sa.BigInteger(), nullable=False) for k in ("first_seen", "last_seen")),
        *(sa.Column(k, sa.LargeBinary(), nullable=False) for k in ("post_ids", "ad_ids")),
        sa.PrimaryKeyConstraint("cls", "day", "region_id", "source_id"),
    )
    if op.get_bind().dialect.name == "postgresql":
        _pg_post_trigger(with_offers=True)
        op.execute(f"""CREATE FUNCTION trend_stale_substance() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {_substance_days(_DAY_PG, True)}
  RETURN NULL;
END $$""")
        op.execute('CREATE TRIGGER trend_stale_substance_update AFTER UPDATE OF "class" ON substance FOR EACH ROW '
                   'WHEN (OLD."class" IS DISTINCT FROM NEW."class") EXECUTE FUNCTION trend_stale_substance()')
        day = _DAY_PG
    else:
        _sqlite_post_trigger(with_offers=True)
        op.execute('CREATE TRIGGER trend_stale_substance_update AFTER UPDATE OF "class" ON substance '
                   f'WHEN OLD."class" IS NOT NEW."class" BEGIN {_substance_days(_DAY_SQLITE, False)} END')
        day = _DAY_SQLITE
    # every segment of the existing rows is rebuilt on the next refresh (0015's tables with the new one)
    pg = day == _DAY_PG
    op.execute(f"INSERT {'' if pg else 'OR IGNORE '}INTO trend_stale(day) SELECT DISTINCT {day.format(x='observed_at')} "
               f"FROM offer WHERE observed_at IS NOT NULL UNION SELECT DISTINCT {day.format(x='observed_at')} "
               f"FROM mention WHERE observed_at IS NOT NULL{' ON CONFLICT DO NOTHING' if pg else ''}")


def _post_days(table: str, day: str, pg: bool) -> str:
    return (f"INSERT {'' if pg else 'OR IGNORE '}INTO trend_stale(day) SELECT DISTINCT {day.format(x='observed_at')} "
            f"FROM {table} WHERE post_id = NEW.id AND observed_at IS NOT NULL{' ON CONFLICT DO NOTHING' if pg else ''};")


def _substance_days(day: str, pg: bool) -> str:
    return " ".join(f"INSERT {'' if pg else 'OR IGNORE '}INTO trend_stale(day) SELECT DISTINCT "
                    f"{day.format(x='observed_at')} FROM {t} WHERE substance_id = NEW.id AND observed_at IS NOT NULL"
                    f"{' ON CONFLICT DO NOTHING' if pg else ''};" for t in ("mention", "offer"))


def _sqlite_post_trigger(with_offers: bool) -> None:
    op.execute("DROP TRIGGER IF EXISTS trend_stale_post_update")
    body = _post_days("mention", _DAY_SQLITE, False) + (" " + _post_days("offer", _DAY_SQLITE, False)
                                                         if with_offers else "")
    op.execute("CREATE TRIGGER trend_stale_post_update AFTER UPDATE OF ad_id, source_id ON post "
               f"WHEN OLD.ad_id IS NOT NEW.ad_id OR OLD.source_id IS NOT NEW.source_id BEGIN {body} END")


def _pg_post_trigger(with_offers: bool) -> None:
    body = _post_days("mention", _DAY_PG, True) + ("\n  " + _post_days("offer", _DAY_PG, True) if with_offers else "")
    op.execute(f"""CREATE OR REPLACE FUNCTION trend_stale_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  {body}
  RETURN NULL;
END $$""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _pg_post_trigger(with_offers=False)
        op.execute("DROP TRIGGER IF EXISTS trend_stale_substance_update ON substance")
        op.execute("DROP FUNCTION IF EXISTS trend_stale_substance()")
    else:
        _sqlite_post_trigger(with_offers=False)
        op.execute("DROP TRIGGER IF EXISTS trend_stale_substance_update")
    for table in ("trend_class_source_week", "trend_class_mention_week", "trend_class_offer_week",
                  "trend_source_week"):
        op.drop_table(table)
