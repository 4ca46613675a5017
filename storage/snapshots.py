"""Raw page snapshots: gzip bodies stored once per content (sha256) under a folder, indexed per crawl.

A site with `snapshots = true` has every page its spider parses kept here, so its selectors can be changed
and the pages parsed again later without the network (`npswatch reparse SITE`). The body goes to
`<root>/<sha[:2]>/<sha>.html.gz` (written to a temporary file and renamed, so a crash never leaves half a
file under the final name); the index row in `page_snapshot` ties URL, crawl run, role and Date header to
the hash and is written after the file. Identical pages across crawls share one file. `prune()` drops index
rows older than the retention period and then every file no row refers to.

>>> import tempfile
>>> blobs = BlobStore(tempfile.mkdtemp())
>>> sha = blobs.put(b"<html>page</html>")
>>> sha[:12], blobs.get(sha), blobs.put(b"<html>page</html>") == sha
('639cf5f89793', b'<html>page</html>', True)
"""
from __future__ import annotations

import codecs
import gzip
import hashlib
import os
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine, delete, func, insert, select

from .tables import T_SNAP

__all__ = ["BlobStore", "SnapshotStore", "PageRecord", "StoredPage"]


class BlobStore:
    """Content-addressed gzip files in a folder."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, sha: str) -> Path:
        return self.root / sha[:2] / f"{sha}.html.gz"

    def put(self, body: bytes) -> str:
        sha = hashlib.sha256(body).hexdigest()
        target = self.path(sha)
        if target.exists():
            return sha
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(fd, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", compresslevel=6, mtime=0) as gz:
                gz.write(body)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha

    def get(self, sha: str) -> bytes:
        with gzip.open(self.path(sha), "rb") as fh:
            return fh.read()

    def hashes(self) -> Iterable[str]:
        for p in self.root.glob("??/*.html.gz"):
            yield p.name.removesuffix(".html.gz")


@dataclass(frozen=True)
class PageRecord:
    """One page as the spider saw it (the item the spider yields when its site keeps snapshots)."""

    source: str
    url: str
    role: str  # start | listing | detail
    body: bytes
    status: int = 200
    content_type: str | None = None
    page_date: str | None = None  # the Date header: relative dates on the page count from it
    fetched_at: datetime | None = None
    region: str | None = None  # the site's country: the scrubber reads local phone numbers with it


@dataclass(frozen=True)
class StoredPage:
    url: str
    role: str
    sha256: str
    status: int
    content_type: str | None
    page_date: str | None
    fetched_at: datetime | None


Scrub = Callable[[str, "str | None"], str]


def _charset(content_type: str | None) -> str:
    m = re.search(r"charset=([\w.:-]+)", content_type or "", re.I)
    try:
        return codecs.lookup(m.group(1)).name if m else "utf-8"
    except LookupError:
        return "utf-8"


def scrub_body(scrub: Scrub, body: bytes, content_type: str | None, region: str | None) -> bytes:
    """The page as it may be stored: decoded with its charset, scrubbed, re-encoded the same way."""
    enc = _charset(content_type)
    return scrub(body.decode(enc, errors="replace"), region).encode(enc, errors="xmlcharrefreplace")


class SnapshotStore:
    """Page snapshots of crawls; `scrub` is the privacy scrubber every page and URL passes before it is stored."""

    def __init__(self, engine: Engine, root: str | Path, scrub: Scrub) -> None:
        self.engine = engine
        self.blobs = BlobStore(root)
        self.scrub = scrub

    def save(self, run_id: int | None, pages: Sequence[PageRecord]) -> int:
        """Store scrubbed bodies, then index rows (one transaction); returns the number of pages indexed."""
        if not pages:
            return 0
        now = datetime.now(timezone.utc)
        rows = []
        for p in pages:
            body = scrub_body(self.scrub, p.body, p.content_type, p.region)
            rows.append({"crawl_run_id": run_id, "source": p.source, "url": self.scrub(p.url, p.region), "role": p.role,
                         "sha256": self.blobs.put(body), "size": len(body), "status": p.status,
                         "content_type": (p.content_type or None) and p.content_type[:200],
                         "page_date": (p.page_date or None) and p.page_date[:64], "fetched_at": p.fetched_at or now})
        with self.engine.begin() as conn:
            conn.execute(insert(T_SNAP), rows)
        return len(rows)

    def latest_run(self, source: str) -> int | None:
        """The newest crawl run of `source` that kept snapshots."""
        with self.engine.connect() as conn:
            return conn.execute(select(func.max(T_SNAP.c.crawl_run_id)).where(T_SNAP.c.source == source)).scalar()

    def runs(self, source: str) -> list[tuple[int, int, datetime | None]]:
        """(run id, pages, first fetch) of every run of `source` with snapshots, newest first."""
        c = T_SNAP.c
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.execute(
                select(c.crawl_run_id, func.count(), func.min(c.fetched_at)).where(c.source == source)
                .group_by(c.crawl_run_id).order_by(c.crawl_run_id.desc()))]

    def pages(self, source: str, run_id: int) -> list[StoredPage]:
        """The run's pages in the order they were stored (for one URL the last fetch wins)."""
        c = T_SNAP.c
        with self.engine.connect() as conn:
            rows = conn.execute(select(c.url, c.role, c.sha256, c.status, c.content_type, c.page_date, c.fetched_at)
                                .where(c.source == source, c.crawl_run_id == run_id).order_by(c.id)).all()
        return list({r.url: StoredPage(*r) for r in rows}.values())

    def prune(self, older_than_days: int, source: str | None = None, now: datetime | None = None) -> tuple[int, int]:
        """Drop index rows (of `source`, or all) fetched more than `older_than_days` ago, then the files no row
        refers to any more. Returns (rows deleted, files deleted). Files written in the last hour are kept."""
        cutoff = (now or datetime.now(timezone.utc)) - timedelta(days=older_than_days)
        cond = T_SNAP.c.fetched_at < cutoff
        if source is not None:
            cond = cond & (T_SNAP.c.source == source)
        with self.engine.begin() as conn:
            rows = conn.execute(delete(T_SNAP).where(cond)).rowcount or 0
            keep = {sha for (sha,) in conn.execute(select(T_SNAP.c.sha256).distinct())}
        files = 0
        young = (now or datetime.now(timezone.utc)).timestamp() - 3600
        for sha in list(self.blobs.hashes()):
            path = self.blobs.path(sha)
            # A file younger than an hour may belong to a crawl that has not written its index row yet.
            if sha not in keep and path.stat().st_mtime < young:
                path.unlink(missing_ok=True)
                files += 1
        return rows, files
