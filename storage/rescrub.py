"""Rescrub: pass a database (and its page snapshots) written before the scrubber knew every form through it again.

Every scraped text column outside the source and discovery tables is read in batches and written back only
where the scrubber changes it; a post's `text_hash` follows its text, so the next crawl of the same page finds
it unchanged. Snapshot files are decoded with their charset, scrubbed, stored under the hash of the new
content, and the old file is removed once no row refers to it. Facts (offers, mentions) are not recomputed:
the scrubber leaves everything an extraction reads untouched (a test holds that). Running it twice changes
nothing the second time.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, bindparam, select, update

from npswatch.pipelines.privacy import Pseudonymiser

from .snapshots import BlobStore, scrub_body
from .tables import T_POST, T_SNAP, T_SOURCE, T_VERSION
from .writer import NAME_KEYS, text_hash

__all__ = ["rescrub", "RescrubResult"]

_BATCH = 500


@dataclass
class RescrubResult:
    rows: dict[str, int] = field(default_factory=dict)  # "table.column" -> rows changed
    files: int = 0  # snapshot files rewritten

    @property
    def total(self) -> int:
        return sum(self.rows.values()) + self.files


def _pages(engine: Engine, table, cols: list, where=None):
    """Rows of `table` in id order, a batch at a time (so a large database is never read at once)."""
    last = 0
    while True:
        q = select(table.c.id, *cols).where(table.c.id > last).order_by(table.c.id).limit(_BATCH)
        if where is not None:
            q = q.where(where)
        with engine.connect() as c:
            rows = c.execute(q).all()
        if not rows:
            return
        yield rows
        last = rows[-1][0]


def _column(engine: Engine, table, column: str, fix: Callable, result: RescrubResult) -> None:
    col = table.c[column]
    n = 0
    for rows in _pages(engine, table, [col], col.is_not(None)):
        changed = [{"b_id": i, "b_v": new} for i, v in rows if (new := fix(v)) != v]
        if changed:
            with engine.begin() as c:
                c.execute(update(table).where(table.c.id == bindparam("b_id")).values({column: bindparam("b_v")}),
                          changed)
            n += len(changed)
    result.rows[f"{table.name}.{column}"] = n


def rescrub(engine: Engine, ps: Pseudonymiser, snapshots: str | Path | None = None) -> RescrubResult:
    """Scrub every stored scraped text again (and the snapshot files under `snapshots`); returns what changed."""
    from .tables import T_CHANNEL_SAMPLE, T_IMAGE, T_LISTING, T_MENTION, T_OBS, T_RUN, T_SIGNAL

    result = RescrubResult()
    with engine.connect() as c:
        country = dict(c.execute(select(T_SOURCE.c.id, T_SOURCE.c.country)).all())

    n = 0
    for rows in _pages(engine, T_POST, [T_POST.c.source_id, T_POST.c.text, T_POST.c.url, T_POST.c.extra]):
        changed = []
        for pid, sid, text, url, extra in rows:
            region = country.get(sid)
            new_text = ps.scrub(text, region)
            new_url = ps.scrub(url, region) if url else url
            new_extra = ps.scrub_value(extra, region, names=NAME_KEYS) if extra else extra
            if (new_text, new_url, new_extra) != (text, url, extra):
                changed.append({"b_id": pid, "b_text": new_text, "b_hash": text_hash(new_text), "b_url": new_url,
                                "b_extra": new_extra})
        if changed:
            with engine.begin() as c:
                c.execute(update(T_POST).where(T_POST.c.id == bindparam("b_id")).values(
                    text=bindparam("b_text"), text_hash=bindparam("b_hash"), url=bindparam("b_url"),
                    extra=bindparam("b_extra")), changed)
            n += len(changed)
    result.rows["post"] = n
    if n:
        from .search import rebuild_index

        with engine.begin() as c:
            rebuild_index(c)

    n = 0
    for rows in _pages(engine, T_VERSION, [T_VERSION.c.text]):
        changed = [{"b_id": i, "b_text": new, "b_hash": text_hash(new)} for i, t in rows if (new := ps.scrub(t)) != t]
        if changed:
            with engine.begin() as c:
                c.execute(update(T_VERSION).where(T_VERSION.c.id == bindparam("b_id")).values(
                    text=bindparam("b_text"), text_hash=bindparam("b_hash")), changed)
            n += len(changed)
    result.rows["post_version"] = n

    for table, column in ((T_LISTING, "price_text"), (T_OBS, "price_text"), (T_MENTION, "matched"),
                          (T_RUN, "message"), (T_SIGNAL, "title"), (T_SNAP, "url"), (T_CHANNEL_SAMPLE, "about"),
                          (T_CHANNEL_SAMPLE, "title"), (T_IMAGE, "text")):
        _column(engine, table, column, ps.scrub, result)
    _column(engine, T_SIGNAL, "evidence", lambda v: ps.scrub_value(v, names=NAME_KEYS), result)

    if snapshots is not None and Path(snapshots).is_dir():
        result.files = _rescrub_files(engine, ps, BlobStore(snapshots))
    return result


def _rescrub_files(engine: Engine, ps: Pseudonymiser, blobs: BlobStore) -> int:
    c = T_SNAP.c
    with engine.connect() as conn:
        rows = conn.execute(select(c.sha256, c.content_type, c.source).distinct()).all()
        country = dict(conn.execute(select(T_SOURCE.c.key, T_SOURCE.c.country)).all())
    files = 0
    for sha, content_type, source in rows:
        if not blobs.path(sha).exists():
            continue
        body = blobs.get(sha)
        new = scrub_body(ps.scrub, body, content_type, country.get(source))
        if new == body:
            continue
        new_sha = blobs.put(new)
        with engine.begin() as conn:
            conn.execute(update(T_SNAP).where(c.sha256 == sha).values(sha256=new_sha, size=len(new)))
        blobs.path(sha).unlink(missing_ok=True)
        files += 1
    return files
