"""The image-hash table (migration 0012): what is kept of a picture a channel posted. Never the picture.

One row per image of a post (an album's images are positions 0, 1, ... of one post): the post it belongs to
(source key and external id, as `channel_link` keys posts), a 64-bit perceptual hash (imagehash pHash) and its
four 16-bit quarters (indexed: two hashes within 3 bits share a quarter, so a near-duplicate is found by
index), the text OCR read from it (pseudonymised like a post's text, cleared by retention with post texts),
the size in pixels, and the Telegram file id or the sha256 of the file's bytes (`file_key`: the same file is
not read twice). `first_id` is the row of the earliest sighting of the same picture (itself for a first
sighting): a repost, and across channels a link between them.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class ImageHash(SQLModel, table=True):
    __tablename__ = "image_hash"
    __table_args__ = (
        UniqueConstraint("src", "message_id", "position", name="uq_image_hash_post"),
        Index("ix_image_hash_band0", "band0"),
        Index("ix_image_hash_band1", "band1"),
        Index("ix_image_hash_band2", "band2"),
        Index("ix_image_hash_band3", "band3"),
        Index("ix_image_hash_file_key", "file_key"),
        Index("ix_image_hash_first_id", "first_id"),
    )
    id: int | None = Field(default=None, primary_key=True)
    src: str = Field(max_length=200)  # source key of the post
    message_id: str = Field(max_length=200)  # the post's external id (an album: its first message)
    position: int = 0  # the image's place in the post
    phash: int = Field(sa_column=Column(BigInteger, nullable=False))
    band0: int
    band1: int
    band2: int
    band3: int
    file_key: str | None = Field(default=None, max_length=80)
    text: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    width: int | None = None
    height: int | None = None
    seen_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True))
    first_id: int | None = None
