"""The review queue of web sites found in crawled pages and posts (`discovered_site`).

`record_sites` counts each site once per page or post that names it, keeping the earliest sighting (date and
source); `discovered_sites` lists the queue, most mentioned first; `mark_added` closes an entry once a
definition stub has been written for it.
"""
from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, Engine, case, select, update

from .tables import T_SITE_FOUND
from .sqlupsert import upsert

__all__ = ["record_sites", "discovered_sites", "mark_added"]


def record_sites(conn: Connection, sightings: Iterable[tuple[str, datetime | None, str | None]]) -> int:
    """Count sightings (site origin, when, in which source); one per page or post. Returns the sites touched."""
    rows: dict[str, dict] = {}
    for key, seen, source in sightings:
        r = rows.setdefault(key, {"key": key, "mentions": 0, "first_seen": seen, "first_seen_in": source,
                                  "last_seen": seen, "status": "new"})
        r["mentions"] += 1
        if seen is not None and (r["first_seen"] is None or seen < r["first_seen"]):
            r["first_seen"], r["first_seen_in"] = seen, source
        if seen is not None and (r["last_seen"] is None or seen > r["last_seen"]):
            r["last_seen"] = seen
    if not rows:
        return 0
    c = T_SITE_FOUND.c
    upsert(conn, T_SITE_FOUND, list(rows.values()), ["key"], lambda ex: {
        "mentions": c.mentions + ex.mentions,
        "first_seen_in": case((ex.first_seen < c.first_seen, ex.first_seen_in), else_=c.first_seen_in),
        "first_seen": case((ex.first_seen < c.first_seen, ex.first_seen), else_=c.first_seen),
        "last_seen": case((ex.last_seen > c.last_seen, ex.last_seen), else_=c.last_seen),
    })
    return len(rows)


def discovered_sites(engine: Engine, *, min_mentions: int = 1, status: str | None = "new",
                     limit: int | None = None) -> list[dict]:
    c = T_SITE_FOUND.c
    q = select(T_SITE_FOUND).where(c.mentions >= min_mentions).order_by(c.mentions.desc(), c.first_seen, c.key)
    if status:
        q = q.where(c.status == status)
    if limit:
        q = q.limit(limit)
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(q).mappings()]


def mark_added(engine: Engine, key: str) -> bool:
    with engine.begin() as conn:
        return bool(conn.execute(update(T_SITE_FOUND).where(T_SITE_FOUND.c.key == key).values(status="added")).rowcount)
