"""Image hashes in the database (table `image_hash`): record a post's pictures, find reposts, link channels.

- `record_images(conn, rows)` stores one row per picture of a post (idempotent on post and position; a
  re-read picture updates its row) and points `first_id` at the earliest sighting of the same picture: a pHash
  within `NEAR_BITS` bits, found through the indexed 16-bit quarters of the hash.
- `known_files(engine, keys)`: what OCR read from files seen before (the same Telegram photo forwarded, or
  re-read by a reconcile), so a file is read once.
- `shared_image_edges(conn)`: one edge per pair of sources that posted the same picture, weighted by how
  many (the channel graph shows them next to forwards, links and shared ads).
- `reposts(engine)`: pictures seen before in another post, with where they were first seen.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from .sqlupsert import upsert
from .tables import T_IMAGE

__all__ = ["ImageRow", "record_images", "known_files", "shared_image_edges", "reposts", "NEAR_BITS"]

NEAR_BITS = 3  # at most this many of the 64 pHash bits differ: the same picture (recompressed, resized)
_CHUNK = 500


def _bands(h: int) -> tuple[int, int, int, int]:
    u = h & 0xFFFF_FFFF_FFFF_FFFF
    return tuple((u >> s) & 0xFFFF for s in (48, 32, 16, 0))  # type: ignore[return-value]


def _hamming(a: int, b: int) -> int:
    return bin((a ^ b) & 0xFFFF_FFFF_FFFF_FFFF).count("1")


@dataclass(frozen=True)
class ImageRow:
    src: str  # source key of the post
    message_id: str  # the post's external id
    position: int
    phash: int  # signed 64-bit
    file_key: str | None = None
    text: str | None = None  # OCR text, already pseudonymised
    width: int | None = None
    height: int | None = None
    seen_at: datetime | None = None


def _first_sighting(conn: Connection, row: ImageRow) -> int | None:
    """`first_id` of the earliest stored picture near `row`'s hash in another post, or None."""
    c = T_IMAGE.c
    b = _bands(row.phash)
    q = (select(c.id, c.phash, c.first_id, c.seen_at)
         .where(or_(c.band0 == b[0], c.band1 == b[1], c.band2 == b[2], c.band3 == b[3]),
                or_(c.src != row.src, c.message_id != row.message_id))
         .order_by(c.id))
    near = [r for r in conn.execute(q) if _hamming(r.phash, row.phash) <= NEAR_BITS]
    if not near:
        return None
    return min(r.first_id or r.id for r in near)


def record_images(conn: Connection, rows: Sequence[ImageRow]) -> int:
    """Store pictures (in the caller's transaction); returns how many were new."""
    c = T_IMAGE.c
    new = 0
    for row in rows:
        b = _bands(row.phash)
        values = {"src": row.src, "message_id": row.message_id, "position": row.position, "phash": row.phash,
                  "band0": b[0], "band1": b[1], "band2": b[2], "band3": b[3], "file_key": row.file_key,
                  "text": row.text, "width": row.width, "height": row.height, "seen_at": row.seen_at}
        old = conn.execute(select(c.id, c.phash).where(c.src == row.src, c.message_id == row.message_id,
                                                       c.position == row.position)).first()
        if old is not None and old.phash == row.phash:
            conn.execute(update(T_IMAGE).where(c.id == old.id).values(text=row.text, file_key=row.file_key))
            continue
        first = _first_sighting(conn, row)
        if old is not None:  # the post now shows another picture at this place
            conn.execute(update(T_IMAGE).where(c.id == old.id).values(**values, first_id=first or old.id))
            continue
        upsert(conn, T_IMAGE, [values | {"first_id": first}], ["src", "message_id", "position"])
        if first is None:
            conn.execute(update(T_IMAGE).where(c.src == row.src, c.message_id == row.message_id,
                                               c.position == row.position, c.first_id.is_(None))
                         .values(first_id=c.id))
        new += 1
    return new


def known_files(engine: Engine, keys: Iterable[str]) -> dict[str, tuple[str | None, int, int | None, int | None]]:
    """file key -> (OCR text, pHash, width, height) of files read before."""
    keys = list(dict.fromkeys(k for k in keys if k))
    out: dict[str, tuple[str | None, int, int | None, int | None]] = {}
    c = T_IMAGE.c
    with engine.connect() as conn:
        for i in range(0, len(keys), _CHUNK):
            for k, text, h, w, hh in conn.execute(select(c.file_key, c.text, c.phash, c.width, c.height)
                                                  .where(c.file_key.in_(keys[i:i + _CHUNK])).order_by(c.id)):
                out.setdefault(k, (text, h, w, hh))
    return out


def shared_image_edges(conn: Connection) -> list[dict]:
    """One edge per pair of sources that posted the same picture, weighted by the pictures they share."""
    c = T_IMAGE.c
    per = select(c.first_id, c.src).where(c.first_id.is_not(None)).distinct().subquery()
    a, b = per.alias("a"), per.alias("b")
    rows = conn.execute(select(a.c.src, b.c.src, func.count())
                        .select_from(a.join(b, and_(a.c.first_id == b.c.first_id, a.c.src < b.c.src)))
                        .group_by(a.c.src, b.c.src).order_by(a.c.src, b.c.src)).all()
    return [{"src": x, "dst": y, "weight": n, "forwards": 0, "links": 0, "shared_ads": 0, "shared_images": n}
            for x, y, n in rows]


def reposts(engine: Engine, *, source: str | None = None, limit: int | None = None) -> list[dict]:
    """Pictures seen before in another post: the repost (src, message_id, seen_at) and the first sighting
    (first_src, first_message_id, first_seen_at), newest first."""
    c = T_IMAGE.c
    first = T_IMAGE.alias("first")
    q = (select(c.src, c.message_id, c.position, c.seen_at, first.c.src.label("first_src"),
                first.c.message_id.label("first_message_id"), first.c.seen_at.label("first_seen_at"))
         .join(first, first.c.id == c.first_id).where(c.first_id != c.id)
         .order_by(c.seen_at.desc(), c.id.desc()))
    if source:
        q = q.where(c.src == source)
    if limit:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]
