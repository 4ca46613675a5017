"""Keeping the weekly trend aggregate (migrations 0015 and 0017) up to date: refresh the segments writes touched,
or rebuild.

Every write to offers and mentions (and a change of a post's ad or source) marks its days in `trend_stale`, by
triggers, whatever the code path (writer, extract-pending, reparse, imports, retention, rescrub). `refresh()`
rebuilds the segments of those days from the offers and mentions, read once (`reports.trends.read_rows`), for
every table (`rows_of`, per source `reports.activity.source_rows_of`) in one transaction; `rebuild()` rebuilds everything. Reports are exact
without a refresh (they build stale segments on the fly), only slower; the application refreshes before reading
when days are marked.
"""
from __future__ import annotations

import numpy as np
from sqlalchemy import Engine, delete, insert, select, text

from npswatch.storage.tables import (T_CLASS_MENTION_WEEK, T_CLASS_OFFER_WEEK, T_CLASS_SOURCE_WEEK, T_MENTION_WEEK,
                                     T_OFFER_WEEK, T_SOURCE_WEEK, T_STALE)

from .activity import SOURCE_BLOBS, source_rows_of
from .trends import (MENTION_BLOBS, OFFER_BLOBS, Coded, Ragged, _ranges_where, class_codes, read_rows, rows_of,
                     segment_end, segment_start)

_BATCH = 5000
_TABLES = (T_OFFER_WEEK, T_MENTION_WEEK, T_SOURCE_WEEK, T_CLASS_OFFER_WEEK, T_CLASS_MENTION_WEEK, T_CLASS_SOURCE_WEEK)


def refresh(engine: Engine, *, full: bool = False) -> int:
    """Rebuild the segments of the days marked stale (`full`: every segment); returns the segments rebuilt."""
    with engine.begin() as c:
        if engine.dialect.name == "postgresql":
            c.execute(text("SELECT pg_advisory_xact_lock(7150015)"))  # one refresh at a time
        # the DELETE takes SQLite's write lock first: no write commits between reading the marks and storing
        days = np.array(sorted(c.execute(delete(T_STALE).returning(T_STALE.c.day)).scalars()), dtype=np.int64)
        if full:
            for t in _TABLES:
                c.execute(delete(t))
            where = "observed_at IS NOT NULL"
            segments = None
        else:
            if not len(days):
                return 0
            segments = np.unique(segment_start(days))
            for t in _TABLES:
                for i in range(0, len(segments), 500):
                    c.execute(delete(t).where(t.c.day.in_(segments[i:i + 500].tolist())))
            where = "observed_at IS NOT NULL AND " + _ranges_where(segments, segment_end(segments),
                                                                   engine.dialect.name)
        read = read_rows(engine, where)
        lut = class_codes(engine)
        offers, mentions = rows_of(read)
        by_class = (*rows_of(read, lut), source_rows_of(read, lut))
        sources = source_rows_of(read)
        names = lut[1]
        mention_counts = ("posts", "ads", "sources", "first_seen", "last_seen")
        source_counts = ("source_id", "posts", "ads", "offers", "first_seen", "last_seen")
        _store(c, T_OFFER_WEEK, offers, OFFER_BLOBS, ("offers",), ("unit", "currency"))
        _store(c, T_MENTION_WEEK, mentions, MENTION_BLOBS, mention_counts, ())
        _store(c, T_SOURCE_WEEK, sources, SOURCE_BLOBS, source_counts, ())
        for table, rows, blobs, counts, texts in zip(
                (T_CLASS_OFFER_WEEK, T_CLASS_MENTION_WEEK, T_CLASS_SOURCE_WEEK), by_class,
                (OFFER_BLOBS, MENTION_BLOBS, SOURCE_BLOBS), (("offers",), mention_counts, source_counts),
                (("unit", "currency"), (), ())):
            rows = {**rows, "cls": Coded(rows["substance_id"], names)}
            del rows["substance_id"]
            _store(c, table, rows, blobs, counts, texts + ("cls",))
        return len(np.unique(np.r_[offers["day"], mentions["day"]])) if segments is None else len(segments)


def rebuild(engine: Engine) -> int:
    return refresh(engine, full=True)


def refresh_if_stale(engine: Engine) -> int:
    """`refresh()` when writes marked days since the last one (a cheap look first)."""
    with engine.connect() as c:
        if c.execute(select(T_STALE.c.day).limit(1)).first() is None:
            return 0
    return refresh(engine)


def _store(c, table, rows: dict, blobs: dict, counts: tuple[str, ...], texts: tuple[str, ...]) -> None:
    n = len(rows["day"])
    if not n:
        return
    cols = {k: rows[k].tolist() for k in ("day", "substance_id", "region_id") + counts if k in rows}
    for k in texts:
        values = rows[k].values
        cols[k] = [values[i] for i in rows[k].codes.tolist()]
    for k, dtype in blobs.items():
        r: Ragged = rows[k]
        cols[k] = Ragged(r.values.astype(dtype, copy=False), r.starts).to_bytes()
    names = list(cols)
    for i in range(0, n, _BATCH):
        c.execute(insert(table), [dict(zip(names, vals)) for vals in zip(*(cols[k][i:i + _BATCH] for k in names))])
