"""Telegram metrics over time in the database: channel samples, post samples, and the series read from them.

Samples are appended, never updated: a channel's subscribers or a post's views are a time series. What a
channel changed (title, description, username, linked group, flags) is read from consecutive samples
(`channel_changes`), so nothing is stored twice.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, func, select

from .tables import T_CHANNEL_SAMPLE, T_POST_SAMPLE

# fields of a channel sample whose change is reported, in the order they are shown
TRACKED = ("title", "username", "about", "linked_chat_id", "verified", "scam", "fake", "restricted")


@dataclass(frozen=True)
class ChannelSample:
    key: str
    at: datetime
    channel_id: int
    subscribers: int | None
    title: str | None
    username: str | None
    about: str | None
    linked_chat_id: int | None
    verified: bool
    scam: bool
    fake: bool
    restricted: bool


@dataclass(frozen=True)
class ChannelChange:
    at: datetime
    field: str  # one of TRACKED
    old: Any
    new: Any


@dataclass(frozen=True)
class PostSample:
    key: str
    message_id: int
    at: datetime
    views: int | None
    forwards: int | None
    replies: int | None
    reactions: int | None
    reaction_counts: dict | None


def _aware(d: datetime) -> datetime:
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def record_channel_sample(engine: Engine, row: Mapping[str, Any]) -> None:
    with engine.begin() as c:
        c.execute(T_CHANNEL_SAMPLE.insert().values(**row))


def record_post_samples(conn: Connection, rows: Iterable[Mapping[str, Any]]) -> int:
    rows = list(rows)
    if rows:
        conn.execute(T_POST_SAMPLE.insert(), rows)
    return len(rows)


def channel_series(engine: Engine, key: str, since: datetime | None = None) -> list[ChannelSample]:
    """A channel's samples, oldest first."""
    c = T_CHANNEL_SAMPLE.c
    q = select(*(getattr(c, f) for f in ChannelSample.__dataclass_fields__)).where(c.key == key).order_by(c.at, c.id)
    if since is not None:
        q = q.where(c.at >= since)
    with engine.connect() as conn:
        return [ChannelSample(**{**r._mapping, "at": _aware(r.at)}) for r in conn.execute(q)]


def channel_changes(samples: list[ChannelSample]) -> list[ChannelChange]:
    """What changed between consecutive samples (title, username, description, linked group, flags)."""
    out = []
    for before, after in zip(samples, samples[1:]):
        for f in TRACKED:
            if getattr(before, f) != getattr(after, f):
                out.append(ChannelChange(after.at, f, getattr(before, f), getattr(after, f)))
    return out


def sampled_channels(engine: Engine) -> list[tuple[str, int, datetime]]:
    """(key, samples, last sampled) of every channel with samples."""
    c = T_CHANNEL_SAMPLE.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.key, func.count(), func.max(c.at)).group_by(c.key).order_by(c.key))
        return [(k, n, _aware(at)) for k, n, at in rows]


def post_series(engine: Engine, key: str, message_id: int | None = None, since: datetime | None = None
                ) -> list[PostSample]:
    """Samples of a channel's posts (one post with `message_id`), by post then time."""
    c = T_POST_SAMPLE.c
    q = select(*(getattr(c, f) for f in PostSample.__dataclass_fields__)).where(c.key == key)
    if message_id is not None:
        q = q.where(c.message_id == message_id)
    if since is not None:
        q = q.where(c.at >= since)
    with engine.connect() as conn:
        return [PostSample(**{**r._mapping, "at": _aware(r.at)})
                for r in conn.execute(q.order_by(c.message_id, c.at, c.id))]
