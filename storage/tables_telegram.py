"""Tables of the Telegram collection feature. Migrations 0004, 0010 and 0014.

- `telegram_channel`: channels promoted with `npswatch telegram add` or by the discovery rules
  (`[telegram.discovery]`, `added_by = "auto"` with the reason); listeners watch these on top of the
  configured `telegram.channels` (the database is the one list every listener shares, and promoting a
  channel never rewrites the operator's TOML file).
- `telegram_entity`: the persisted username -> channel id map, so a username is resolved over the network
  once, not on every start (repeated resolves get accounts limited for hours).
- `discovered_channel`: the review queue of channels seen in forwards and t.me links.
- `telegram_channel_status`: each channel's access state over time (joined, refused, private, banned, gone,
  renamed), so one bad channel is a recorded fact instead of a stopped listener.
- `channel_link`: one row per (post, linked channel, kind): the forward/mention network. Counts are derived
  from it, so re-reading a post (reconcile, re-import) never counts a mention twice.

Channel keys are the lowercase username, or `c<id>` for a channel known only by id (the form of
`t.me/c/<id>/<post>` links).
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, UniqueConstraint
from sqlmodel import Field, SQLModel


def _ts(nullable: bool = True):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


class TelegramChannel(SQLModel, table=True):
    """A channel promoted from the review queue; watched by every listener whose shard it falls in."""

    __tablename__ = "telegram_channel"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    active: bool = True
    added_at: datetime | None = _ts()
    added_by: str | None = Field(default=None, max_length=20)  # "auto": the discovery rules (0014); else an analyst
    reason: str | None = Field(default=None, max_length=300)  # why the rules added it


class TelegramEntity(SQLModel, table=True):
    """Username -> channel id, learnt once from the network."""

    __tablename__ = "telegram_entity"
    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(unique=True, max_length=64)  # lowercase, without @
    channel_id: int = Field(sa_column=Column(BigInteger, nullable=False, index=True))
    title: str | None = Field(default=None, max_length=255)
    updated_at: datetime | None = _ts()


class DiscoveredChannel(SQLModel, table=True):
    __tablename__ = "discovered_channel"
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(unique=True, max_length=200)
    username: str | None = Field(default=None, max_length=64)
    channel_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    title: str | None = Field(default=None, max_length=255)
    subscribers: int | None = None  # when an entity carried it
    first_seen: datetime | None = _ts()  # date of the earliest post that linked or forwarded it
    first_seen_in: str | None = Field(default=None, max_length=200)  # key of the channel of that post
    last_seen: datetime | None = _ts()
    status: str = Field(default="new", max_length=12)  # new | added


class ChannelLink(SQLModel, table=True):
    __tablename__ = "channel_link"
    __table_args__ = (
        UniqueConstraint("src", "message_id", "dst", "kind", name="uq_channel_link"),
        Index("ix_channel_link_dst", "dst"),
        Index("ix_channel_link_dst_src_kind", "dst", "src", "kind"),  # the discovered channels' counts (0016)
    )
    id: int | None = Field(default=None, primary_key=True)
    src: str = Field(max_length=200)  # channel whose post links or forwards
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    dst: str = Field(max_length=200)
    kind: str = Field(max_length=10)  # forward | link
    seen_at: datetime | None = _ts()  # the post's date


class TelegramChannelStatus(SQLModel, table=True):
    """A channel's access state over time (migration 0010): one row each time it changes.

    status: ok | join_refused | join_pending | private | banned | gone | renamed. A shop closing or going
    private is a fact analysts want, so rows are appended, never overwritten; the newest row is the state.
    """

    __tablename__ = "telegram_channel_status"
    __table_args__ = (Index("ix_telegram_channel_status_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    channel_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    status: str = Field(max_length=20)
    detail: str | None = Field(default=None, max_length=300)
    at: datetime | None = _ts(nullable=False)
