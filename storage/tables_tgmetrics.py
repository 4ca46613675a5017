"""Tables of Telegram channel and post metrics over time (migration 0013).

- `telegram_channel_sample`: one row per look at a channel (on listener start, at each recheck, and by the
  `metrics` job): subscribers, title, description (scrubbed: identifiers of people pseudonymised), username,
  linked discussion group, and Telegram's verified / scam / fake / restricted flags. Changes of title,
  description or username are read from consecutive rows.
- `telegram_post_sample`: one row per look at a recent post: views, forwards, replies and reactions (the total
  and per emoji), so a post's reach is a time series instead of the count seen first.

Channels are named by their source key (lowercase username, or `c<id>`), as in the other Telegram tables.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


def _ts():
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=False))


class TelegramChannelSample(SQLModel, table=True):
    __tablename__ = "telegram_channel_sample"
    __table_args__ = (Index("ix_telegram_channel_sample_key_at", "key", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)
    channel_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    at: datetime | None = _ts()
    subscribers: int | None = None
    title: str | None = Field(default=None, max_length=255)
    username: str | None = Field(default=None, max_length=64)
    about: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    linked_chat_id: int | None = Field(default=None, sa_column=Column(BigInteger, nullable=True))
    verified: bool = False
    scam: bool = False
    fake: bool = False
    restricted: bool = False


class TelegramPostSample(SQLModel, table=True):
    __tablename__ = "telegram_post_sample"
    __table_args__ = (Index("ix_telegram_post_sample_key_msg_at", "key", "message_id", "at"),)
    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200)  # the channel's source key
    message_id: int = Field(sa_column=Column(BigInteger, nullable=False))
    at: datetime | None = _ts()
    views: int | None = None
    forwards: int | None = None
    replies: int | None = None
    reactions: int | None = None  # all reactions together
    reaction_counts: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))  # emoji -> count
