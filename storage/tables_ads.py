"""The distinct-ads table (migration 0007): one row per ad, the posts repeating it point at it (`post.ad_id`).

An ad keeps the MinHash signature of its first post (pipelines/ads.py), or for a text too short to compare, the
exact key of its cleaned text, so that posts stored later join it without reading old texts again.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, DateTime, LargeBinary
from sqlmodel import Field, SQLModel


class Ad(SQLModel, table=True):
    __tablename__ = "ad"
    id: int | None = Field(default=None, primary_key=True)
    first_post_id: int | None = Field(default=None, foreign_key="post.id")
    first_seen: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    signature: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    exact_key: str | None = Field(default=None, max_length=40, index=True)
