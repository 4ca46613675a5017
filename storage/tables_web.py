"""Tables of the web collection feature (listing life cycle, per-crawl observations, page snapshots). Migration 0002.

`listing` is one row per web post (shop card, forum post, board ad) with when it was first and last seen and
when it disappeared; `listing_observation` is what each crawl (`crawl_run`) saw of it: price and stock, and
how they changed, so stock drops between crawls can be counted as sales; `page_snapshot` indexes the raw
page bodies kept (gzip, named by sha256) under `<data_dir>/snapshots/` for `npswatch reparse`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=index))

class Listing(SQLModel, table=True):
    """Life of one web listing (a post of a web source): first and last seen, disappeared, current price/stock.

    `disappeared_at` is set when a complete crawl of the site no longer shows the listing, and cleared when it
    shows up again.
    """

    __tablename__ = "listing"
    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="post.id", unique=True)
    source_id: int = Field(foreign_key="source.id", index=True)
    first_seen: datetime | None = _ts()
    last_seen: datetime | None = _ts(index=True)
    disappeared_at: datetime | None = _ts()
    last_run_id: int | None = Field(default=None, foreign_key="crawl_run.id")
    price_text: str | None = Field(default=None, max_length=200)  # the price as the page shows it
    price: float | None = None  # its number
    stock: int | None = None  # units in stock ("в наличии 5"); None when the page does not say
    observations: int = 0


class ListingObservation(SQLModel, table=True):
    """What one crawl saw of one listing: price and stock, and how they changed since the crawl before.

    Stock drops between crawls are the raw material of sales estimates.
    """

    __tablename__ = "listing_observation"
    __table_args__ = (
        UniqueConstraint("crawl_run_id", "post_id", name="uq_listing_observation_run_post"),
        Index("ix_listing_observation_post_observed", "post_id", "observed_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    crawl_run_id: int = Field(foreign_key="crawl_run.id", index=True)
    post_id: int = Field(foreign_key="post.id")
    observed_at: datetime | None = _ts()
    price_text: str | None = Field(default=None, max_length=200)
    price: float | None = None
    stock: int | None = None
    status: str = Field(default="seen", max_length=12)  # new | seen | changed | reappeared
    price_changed: bool = False  # the price number differs from the previous observation
    stock_delta: int | None = None  # stock minus the previous observation's (negative: units gone)


class PageSnapshot(SQLModel, table=True):
    """Index of raw page bodies kept for re-parsing: the body is a gzip file named by its sha256."""

    __tablename__ = "page_snapshot"
    __table_args__ = (Index("ix_page_snapshot_source_fetched", "source", "fetched_at"),)
    id: int | None = Field(default=None, primary_key=True)
    crawl_run_id: int | None = Field(default=None, foreign_key="crawl_run.id", index=True)
    source: str = Field(max_length=200)
    url: str
    role: str = Field(max_length=10)  # start | listing | detail: how the spider reached the page
    sha256: str = Field(max_length=64, index=True)
    size: int = 0  # bytes of the (uncompressed) body
    status: int = 200
    content_type: str | None = Field(default=None, max_length=200)
    page_date: str | None = Field(default=None, max_length=64)  # the response's Date header (relative dates)
    fetched_at: datetime | None = _ts()


class DiscoveredSite(SQLModel, table=True):
    """A web shop or market named in a crawled page or a post (link, .onion host, mirror list): the review queue
    of `npswatch sources discovered`. Migration 0007."""

    __tablename__ = "discovered_site"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=300)  # origin: scheme://host[:port]
    mentions: int = 0  # pages and posts that named it
    first_seen: datetime | None = _ts()
    first_seen_in: str | None = Field(default=None, max_length=200)  # source key where it was first seen
    last_seen: datetime | None = _ts()
    status: str = Field(default="new", max_length=12)  # new | added
