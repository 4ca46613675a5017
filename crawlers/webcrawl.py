"""Run the generic spider over site definitions in this process and hand RawPost batches to a callable.

`crawl_sites()` starts a Scrapy `AsyncCrawlerProcess` (one crawler per site, all in parallel, each
with its own politeness settings) and blocks until every site is done. Twisted's reactor cannot be
restarted, so call it at most ONCE per process: the scheduler runs it in a child process, the CLI
once per invocation, tests in a subprocess.

    from crawlers.sitedef import load_sites
    stats = crawl_sites(load_sites("crawlers/sites"), base_url="http://127.0.0.1:8765",
                        on_batch=writer.write_posts, on_progress=print)

`on_batch(list[RawPost])` runs in the crawl's event loop thread: a slow writer slows the crawl,
which is the back-pressure we want. If it raises, that site stops and `crawl_sites` raises
`CrawlError` (carrying the stats) after every site has finished.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crawlers.itempipelines import CrawlProgress
from crawlers.sitedef import SiteDef, load_site
from pipelines.rawpost import RawPost

__all__ = ["crawl_sites", "CrawlStats", "SiteStats", "CrawlError", "CrawlProgress", "project_settings"]

logger = logging.getLogger(__name__)


@dataclass
class SiteStats:
    pages: int = 0  # pages parsed by the spider (listing and detail)
    responses: int = 0  # HTTP responses received, robots.txt included
    items: int = 0  # RawPost items that passed the pipelines
    written: int = 0  # items on_batch accepted (less than `items` only if the writer failed)
    invalid_items: int = 0  # listings rejected by RawPost validation (e.g. empty text)
    errors: int = 0  # failed requests (after retries) and ERROR log records (spider exceptions, writer failures)
    dropped: int = 0  # requests or responses dropped on purpose: robots.txt, HTTP errors, size limits, non-HTML
    robots_forbidden: int = 0
    finish_reason: str | None = None


@dataclass
class CrawlStats:
    sites: dict[str, SiteStats] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)  # site -> why (disabled, js)

    def _sum(self, name: str) -> int:
        return sum(getattr(s, name) for s in self.sites.values())

    @property
    def pages(self) -> int:
        return self._sum("pages")

    @property
    def responses(self) -> int:
        return self._sum("responses")

    @property
    def items(self) -> int:
        return self._sum("items")

    @property
    def written(self) -> int:
        return self._sum("written")

    @property
    def errors(self) -> int:
        return self._sum("errors")

    @property
    def dropped(self) -> int:
        return self._sum("dropped")

    def as_dict(self) -> dict[str, Any]:
        return {"pages": self.pages, "responses": self.responses, "items": self.items, "written": self.written,
                "errors": self.errors,
                "dropped": self.dropped, "skipped": dict(self.skipped),
                "sites": {k: vars(v).copy() for k, v in self.sites.items()}}


class CrawlError(RuntimeError):
    """The batch writer failed for at least one site; `stats` says how far the crawl got."""

    def __init__(self, message: str, stats: CrawlStats, causes: dict[str, BaseException]) -> None:
        super().__init__(message)
        self.stats = stats
        self.causes = causes


def project_settings(overrides: dict[str, Any] | None = None):
    """`crawlers.settings` with `overrides` on top (command-line priority, above site politeness)."""
    from scrapy.settings import Settings

    settings = Settings()
    settings.setmodule("crawlers.settings", priority="project")
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def _site_stats(raw: dict[str, Any]) -> SiteStats:
    g = raw.get
    return SiteStats(
        pages=g("npswatch/pages", 0), responses=g("downloader/response_count", 0), items=g("item_scraped_count", 0),
        invalid_items=g("npswatch/invalid_items", 0),
        errors=g("log_count/ERROR", 0) + g("npswatch/failed_requests", 0),
        dropped=g("npswatch/dropped", 0) + g("npswatch/non_text_responses", 0),
        robots_forbidden=g("robotstxt/forbidden", 0), finish_reason=g("finish_reason"))


def crawl_sites(
    sites: Iterable[SiteDef | str | Path],
    base_url: str | None = None,
    on_batch: Callable[[list[RawPost]], None] | None = None,
    batch_size: int = 200,
    settings_overrides: dict[str, Any] | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    now: datetime | None = None,
) -> CrawlStats:
    """Crawl `sites` (definitions or TOML paths) until done; once per process (the reactor cannot restart).

    base_url: joined to relative start URLs (overrides each file's base_url).
    on_batch: receives lists of at most `batch_size` RawPost items, per site.
    on_progress: receives a `CrawlProgress` after each batch and at the end of each site.
    now: fixed "now" for relative dates ("вчера"); default: each response's Date header.
    """
    from scrapy.crawler import AsyncCrawlerProcess

    from crawlers.spiders.listing import ListingSpider

    defs = [s if isinstance(s, SiteDef) else load_site(s) for s in sites]
    stats = CrawlStats()
    runnable: list[SiteDef] = []
    for site in defs:
        if not site.enabled:
            stats.skipped[site.name] = "disabled"
        elif site.js:
            stats.skipped[site.name] = "needs JavaScript rendering (js = true)"
            logger.warning("skipping %s: it needs JavaScript rendering, which the generic spider does not do",
                           site.name)
        else:
            site.resolve_start_urls(base_url)  # fail before starting anything if a base URL is missing
            runnable.append(site)
    if not runnable:
        return stats

    settings = project_settings({**(settings_overrides or {}), "NPSWATCH_BATCH_SIZE": batch_size})
    process = AsyncCrawlerProcess(settings)
    crawlers = []
    for site in runnable:
        crawler = process.create_crawler(ListingSpider)
        process.crawl(crawler, site=site, base_url=base_url, now=now, batch_sink=on_batch,
                      progress_hook=on_progress)
        crawlers.append((site.name, crawler))
    process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())

    causes: dict[str, BaseException] = {}
    for name, crawler in crawlers:
        stats.sites[name] = _site_stats(crawler.stats.get_stats())
        pipeline = getattr(crawler, "batch_pipeline", None)
        if pipeline is not None:
            stats.sites[name].written = pipeline.items
            if pipeline.error is not None:
                causes[name] = pipeline.error
    if causes:
        raise CrawlError("batch writer failed for " + ", ".join(f"{k}: {v!r}" for k, v in causes.items()),
                         stats, causes)
    return stats
