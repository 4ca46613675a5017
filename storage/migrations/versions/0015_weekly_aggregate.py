"""trend_offer_week, trend_mention_week, trend_stale: the materialised weekly aggregate of the trend reports

Every write to `offer` or `mention` (and a change of a post's ad or source) marks the day it touches in
`trend_stale`, by triggers, whichever code path writes; `storage/aggregate.py` rebuilds the marked weeks.
On an existing database every day with offers or mentions is marked: the first report builds the aggregate.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None

# the UTC day number (since 1970-01-01) of a timestamp, as `reports.trends` computes it
_DAY_SQLITE = "CAST(julianday({x}) + 0.5 AS INTEGER) - 2440588"
_DAY_PG = "(({x} AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"


def upgrade() -> None:
    op.create_table(
        "trend_offer_week",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("substance_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=8), nullable=False),
        sa.Column("offers", sa.Integer(), nullable=False),
        sa.Column("prices", sa.LargeBinary(), nullable=False),
        sa.Column("qty", sa.LargeBinary(), nullable=False),
        sa.Column("usd", sa.LargeBinary(), nullable=False),
        sa.Column("usd_qty", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day", "substance_id", "region_id", "unit", "currency"),
    )
    op.create_table(
        "trend_mention_week",
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("substance_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("ads", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.BigInteger(), nullable=False),
        sa.Column("last_seen", sa.BigInteger(), nullable=False),
        sa.Column("post_ids", sa.LargeBinary(), nullable=False),
        sa.Column("ad_ids", sa.LargeBinary(), nullable=False),
        sa.Column("source_ids", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("day", "substance_id", "region_id"),
    )
    op.create_table("trend_stale", sa.Column("day", sa.Integer(), nullable=False),
                    sa.PrimaryKeyConstraint("day"))
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _pg_triggers()
        day = _DAY_PG
    else:
        _sqlite_triggers()
        day = _DAY_SQLITE
    op.execute(f"INSERT INTO trend_stale(day) SELECT DISTINCT {day.format(x='observed_at')} FROM offer "
               f"WHERE observed_at IS NOT NULL UNION SELECT DISTINCT {day.format(x='observed_at')} FROM mention "
               "WHERE observed_at IS NOT NULL")


def _sqlite_triggers() -> None:
    mark = "INSERT OR IGNORE INTO trend_stale(day) SELECT " + _DAY_SQLITE + " WHERE {x} IS NOT NULL;"
    for table in ("offer", "mention"):
        new, old = mark.format(x="NEW.observed_at"), mark.format(x="OLD.observed_at")
        op.execute(f"CREATE TRIGGER trend_stale_{table}_insert AFTER INSERT ON {table} BEGIN {new} END")
        op.execute(f"CREATE TRIGGER trend_stale_{table}_update AFTER UPDATE ON {table} BEGIN {old} {new} END")
        op.execute(f"CREATE TRIGGER trend_stale_{table}_delete AFTER DELETE ON {table} BEGIN {old} END")
    op.execute("CREATE TRIGGER trend_stale_post_update AFTER UPDATE OF ad_id, source_id ON post "
               "WHEN OLD.ad_id IS NOT NEW.ad_id OR OLD.source_id IS NOT NEW.source_id BEGIN "
               "INSERT OR IGNORE INTO trend_stale(day) SELECT DISTINCT " + _DAY_SQLITE.format(x="observed_at")
               + " FROM mention WHERE post_id = NEW.id AND observed_at IS NOT NULL; END")


def _pg_triggers() -> None:
    # statement-level triggers with transition tables: one INSERT per statement, not per row (a COPY of a
    # million offers marks its days in one go)
    def insert_from(rows: str) -> str:
        return (f"INSERT INTO trend_stale(day) SELECT DISTINCT {_DAY_PG.format(x='observed_at')} FROM {rows} "
                "WHERE observed_at IS NOT NULL ON CONFLICT DO NOTHING;")

    op.execute(f"""CREATE FUNCTION trend_stale_mark() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN {insert_from('new_rows')} END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN {insert_from('old_rows')} END IF;
  RETURN NULL;
END $$""")
    for table in ("offer", "mention"):
        op.execute(f"CREATE TRIGGER trend_stale_{table}_insert AFTER INSERT ON {table} REFERENCING NEW TABLE AS "
                   f"new_rows FOR EACH STATEMENT EXECUTE FUNCTION trend_stale_mark()")
        op.execute(f"CREATE TRIGGER trend_stale_{table}_update AFTER UPDATE ON {table} REFERENCING OLD TABLE AS "
                   f"old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION trend_stale_mark()")
        op.execute(f"CREATE TRIGGER trend_stale_{table}_delete AFTER DELETE ON {table} REFERENCING OLD TABLE AS "
                   f"old_rows FOR EACH STATEMENT EXECUTE FUNCTION trend_stale_mark()")
    op.execute(f"""CREATE FUNCTION trend_stale_post() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO trend_stale(day) SELECT DISTINCT {_DAY_PG.format(x='observed_at')} FROM mention
    WHERE post_id = NEW.id AND observed_at IS NOT NULL ON CONFLICT DO NOTHING;
  RETURN NULL;
END $$""")
    op.execute("CREATE TRIGGER trend_stale_post_update AFTER UPDATE OF ad_id, source_id ON post FOR EACH ROW "
               "WHEN (OLD.ad_id IS DISTINCT FROM NEW.ad_id OR OLD.source_id IS DISTINCT FROM NEW.source_id) "
               "EXECUTE FUNCTION trend_stale_post()")


def downgrade() -> None:
    bind = op.get_bind()
    for table in ("offer", "mention"):
        for event in ("insert", "update", "delete"):
            on = f" ON {table}" if bind.dialect.name == "postgresql" else ""
            op.execute(f"DROP TRIGGER IF EXISTS trend_stale_{table}_{event}{on}")
    op.execute("DROP TRIGGER IF EXISTS trend_stale_post_update" + (" ON post" if bind.dialect.name == "postgresql"
                                                                   else ""))
    if bind.dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS trend_stale_mark()")
        op.execute("DROP FUNCTION IF EXISTS trend_stale_post()")
    op.drop_table("trend_stale")
    op.drop_table("trend_mention_week")
    op.drop_table("trend_offer_week")
