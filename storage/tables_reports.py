"""Tables of the reports and early-warning feature (signals, digest deliveries). Migration 0003.

`signal` records every early-warning signal once: its `key` names what it is about (kind, substance,
region, period), so detecting it again updates its evidence instead of adding a row. `delivery` is the
outbox: one row per signal and recipient, written before sending, so a signal sent to a recipient is
never sent again and a failed delivery stays `failed` (with the error) until a later run sends it.

The same migration adds two covering indexes for the trend reports to `offer` and `mention`: they are declared
with those tables in storage/models.py.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=index))


class StoredSignal(SQLModel, table=True):
    __tablename__ = "signal"
    __table_args__ = (Index("ix_signal_kind_period", "kind", "period_start"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=400)  # kind|substance|region|currency|period: stable across runs
    kind: str = Field(max_length=20)  # new_substance | new_in_region | spike | price_shift | sales
    substance_id: int | None = Field(default=None, foreign_key="substance.id", index=True)
    substance: str = Field(max_length=200)  # display name: canonical, else the lexicon key
    cls: str = Field(sa_column_kwargs={"name": "class"}, max_length=32)
    region_id: int | None = Field(default=None, foreign_key="region.id")
    countries: list | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # ISO codes it concerns
    title: str = Field(max_length=400)  # one line: what happened, where
    period_start: datetime | None = _ts()
    period_end: datetime | None = _ts()
    first_seen: datetime | None = _ts()
    last_seen: datetime | None = _ts()
    value: float | None = None  # what was observed (mentions, median price, units sold)
    baseline: float | None = None  # what was expected
    score: float | None = None  # kind-specific strength: p-value, relative change
    posts: int = 0
    sources: int = 0
    evidence: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    detected_at: datetime | None = _ts(index=True)
    updated_at: datetime | None = _ts()


class Delivery(SQLModel, table=True):
    """Outbox: a signal for a recipient (an e-mail address or a webhook URL)."""

    __tablename__ = "delivery"
    __table_args__ = (
        UniqueConstraint("signal_id", "recipient", name="uq_delivery_signal_recipient"),
        Index("ix_delivery_recipient_status", "recipient", "status"),
    )
    id: int | None = Field(default=None, primary_key=True)
    signal_id: int = Field(foreign_key="signal.id", index=True)
    recipient: str = Field(max_length=400)  # "mailto:a@b" | webhook URL
    channel: str = Field(max_length=10)  # email | webhook
    status: str = Field(default="pending", max_length=10)  # pending | sent | failed
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime | None = _ts()
    last_attempt_at: datetime | None = _ts()
    sent_at: datetime | None = _ts()
