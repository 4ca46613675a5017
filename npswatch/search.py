"""Full-text search over stored post texts, as a use-case (`Watch.search`; `npswatch search`, the web app's
Search page): the user's words and filters in, a page of hits with highlighted snippets out.

The texts are shown as stored: pseudonymised. Snippets come as (text, is_hit) pieces so that every renderer
(HTML, terminal) escapes the scraped text itself and only marks the hits.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

from .errors import WatchError

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["SearchHit", "SearchResult", "search", "KINDS"]

KINDS = ("web", "telegram", "export")  # source kinds (storage.models.Source.kind)
MAX_LIMIT = 500


@dataclass
class SearchHit:
    post_id: int
    source: str
    kind: str
    external_id: str
    url: str | None
    posted_at: datetime | None
    snippet: list[tuple[str, bool]]  # (text, is a matched word)

    @property
    def snippet_text(self) -> str:
        return "".join(part for part, _ in self.snippet)


@dataclass
class SearchResult:
    query: str
    total: int  # matching posts, all pages (counted up to storage.search.COUNT_CAP + 1: see `more_than`)
    offset: int
    hits: list[SearchHit] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return True

    @property
    def more_than(self) -> bool:
        """More posts match than were counted: `total` is a floor."""
        from npswatch.storage.search import COUNT_CAP

        return self.total > COUNT_CAP

    @property
    def reachable(self) -> int:
        """Hits the pages go through: the newest storage.search.RANK_WINDOW matching posts, ranked."""
        from npswatch.storage.search import RANK_WINDOW

        return min(self.total, RANK_WINDOW)

    def to_dict(self) -> dict:
        from .results import jsonable

        return {"query": self.query, "total": self.total, "more_than": self.more_than, "offset": self.offset,
                "hits": [{**jsonable(h), "snippet": h.snippet_text} for h in self.hits]}


def search(watch: "Watch", words: str, *, source: str | None = None, kind: str | None = None,
           substance: str | None = None, cls: str | None = None, since: datetime | None = None,
           until: datetime | None = None, limit: int = 50, offset: int = 0) -> SearchResult:
    from sqlalchemy import func, select

    from npswatch.reports.scope import Filters, as_datetime, resolve
    from npswatch.storage.search import search as run, segments
    from npswatch.storage.tables import T_SOURCE

    if not 1 <= limit <= MAX_LIMIT:
        raise WatchError(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    if offset < 0:
        raise WatchError(f"offset must be 0 or more, not {offset}")
    if kind is not None and kind not in KINDS:
        raise WatchError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    engine = watch.checked_engine()
    scope = resolve(engine, Filters(substance=substance, cls=cls)) if substance or cls else None
    source_ids = None
    if source:
        with engine.connect() as c:
            source_ids = list(c.execute(select(T_SOURCE.c.id).where(
                func.lower(T_SOURCE.c.key) == source.strip().casefold())).scalars())
        if not source_ids:
            raise WatchError(f"no stored source is called {source!r}")
    total, rows = run(engine, words, source_ids=source_ids, kinds=(kind,) if kind else (),
                      substance_ids=scope.substance_ids if scope else None, since=since, until=until,
                      limit=limit, offset=offset)
    hits = [SearchHit(post_id=r["post_id"], source=r["source"], kind=r["kind"], external_id=r["external_id"],
                      url=r["url"], posted_at=as_datetime(r["posted_at"]), snippet=segments(r["snippet"] or ""))
            for r in rows]
    return SearchResult(query=words, total=total, offset=offset, hits=hits)
