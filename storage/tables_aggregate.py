"""The weekly aggregate of the trend reports (migration 0015) and of the sources table (0017), built by
reports/weekly.py and read by reports/trends.py and reports/activity.py.

Rows are per segment (an ISO week cut at month ends: a week within one month is one segment, a week across two
months two; `day` is the segment's first day as a day number since 1970-01-01), substance and region (0: none),
and for offers unit and currency ('' for none), for sources the source. The class tables hold the same rows with
a substance class in place of the substance (its substances merged; '*' every substance). Arrays are float64 or int64 bytes: each row's prices sorted
ascending with their quantities, its distinct post, ad and source ids sorted. `trend_stale` holds the days that
writes touched since the last refresh (set by triggers, see the migration).
"""
from __future__ import annotations

from sqlalchemy import BigInteger, Column, Integer, LargeBinary, PrimaryKeyConstraint, String, Table

from sqlmodel import SQLModel

T_OFFER_WEEK = Table(
    "trend_offer_week", SQLModel.metadata,
    Column("day", Integer, nullable=False),
    Column("substance_id", Integer, nullable=False),
    Column("region_id", Integer, nullable=False),
    Column("unit", String(8), nullable=False),
    Column("currency", String(8), nullable=False),
    Column("offers", Integer, nullable=False),  # all offers, priced or not
    Column("prices", LargeBinary, nullable=False),  # price per unit in `currency`, sorted
    Column("qty", LargeBinary, nullable=False),  # quantities: first those of `prices` (same order), then unpriced
    Column("usd", LargeBinary, nullable=False),  # price per unit in USD, sorted
    Column("usd_qty", LargeBinary, nullable=False),
    PrimaryKeyConstraint("day", "substance_id", "region_id", "unit", "currency"),
)
T_MENTION_WEEK = Table(
    "trend_mention_week", SQLModel.metadata,
    Column("day", Integer, nullable=False),
    Column("substance_id", Integer, nullable=False),
    Column("region_id", Integer, nullable=False),
    Column("posts", Integer, nullable=False),
    Column("ads", Integer, nullable=False),
    Column("sources", Integer, nullable=False),
    Column("first_seen", BigInteger, nullable=False),  # the first and last mention, seconds since 1970 (rounded)
    Column("last_seen", BigInteger, nullable=False),
    Column("post_ids", LargeBinary, nullable=False),
    Column("ad_ids", LargeBinary, nullable=False),
    Column("source_ids", LargeBinary, nullable=False),
    PrimaryKeyConstraint("day", "substance_id", "region_id"),
)
T_STALE = Table("trend_stale", SQLModel.metadata, Column("day", Integer, nullable=False),
                PrimaryKeyConstraint("day"))
T_SOURCE_WEEK = Table(  # migration 0017: per source, for the substance page's sources table
    "trend_source_week", SQLModel.metadata,
    Column("day", Integer, nullable=False),
    Column("substance_id", Integer, nullable=False),
    Column("region_id", Integer, nullable=False),
    Column("source_id", Integer, nullable=False),
    Column("posts", Integer, nullable=False),
    Column("ads", Integer, nullable=False),
    Column("offers", Integer, nullable=False),  # the offers of the source's posts (rows of offers only: posts 0)
    Column("first_seen", BigInteger, nullable=False),  # as trend_mention_week's; 0 in a row of offers only
    Column("last_seen", BigInteger, nullable=False),
    Column("post_ids", LargeBinary, nullable=False),
    Column("ad_ids", LargeBinary, nullable=False),
    PrimaryKeyConstraint("day", "substance_id", "region_id", "source_id"),
)


def _class_twin(table: Table, name: str) -> Table:
    """`table` with a class (or '*': every substance) in place of the substance (migration 0017)."""
    cols = [Column("cls", String(40), nullable=False) if c.name == "substance_id" else
            Column(c.name, c.type, nullable=False) for c in table.columns]
    keys = ["cls"] + [c.name for c in table.primary_key.columns if c.name != "substance_id"]  # a class: one range
    return Table(name, SQLModel.metadata, *cols, PrimaryKeyConstraint(*keys))


T_CLASS_OFFER_WEEK = _class_twin(T_OFFER_WEEK, "trend_class_offer_week")
T_CLASS_MENTION_WEEK = _class_twin(T_MENTION_WEEK, "trend_class_mention_week")
T_CLASS_SOURCE_WEEK = _class_twin(T_SOURCE_WEEK, "trend_class_source_week")
