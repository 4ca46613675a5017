"""Run the generic spider over site definitions in this process and hand RawPost batches to a callable.

`crawl_sites()` starts a Scrapy `AsyncCrawlerProcess` (one crawler per site, all in parallel, each
with its own politeness settings) and blocks until every site is done. Twisted's reactor cannot be
restarted, so call it at most ONCE per process: the scheduler runs it in a child process, the CLI
once per invocation, tests in a subprocess.

    from npswatch.crawlers.sitedef import load_sites
    stats = crawl_sites(load_sites("crawlers/sites"), base_url="http://127.0.0.1:8765",
                        on_batch=writer.write, on_progress=print)

`on_batch(list[RawPost])` (and `on_snapshots(list[PageRecord])` for sites that keep snapshots) run on
one storage thread shared by all sites, one call at a time, never on the event loop: the crawl goes on
while a batch is written, and waits only when NPSWATCH_STORAGE_QUEUE batches are queued. If a sink
raises, that site stops and `crawl_sites` raises `CrawlError` (carrying the stats) after every site has
finished. Each site's stats say whether its crawl was `complete` (finished, no failed request, no page
limit hit): only then may listings it did not see be marked as disappeared.

Resume: `jobdirs` gives a Scrapy JOBDIR per site (see `crawlers.jobs`). Scale-out: `redis_url` puts every
site's request queue and duplicate filter into Redis (`crawlers.frontier`), shared by all processes that
name the same `frontier`.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from npswatch.crawlers.itempipelines import CrawlProgress
from npswatch.crawlers.jsrender import js_unavailable
from npswatch.crawlers.sitedef import SiteDef, load_site
from npswatch.crawlers.socksbridge import SocksBridge, is_socks
from npswatch.crawlers.storagethread import StorageThread
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.snapshots import PageRecord

__all__ = ["crawl_sites", "CrawlStats", "SiteStats", "CrawlError", "CrawlProgress", "project_settings"]

logger = logging.getLogger(__name__)


@dataclass
class SiteStats:
    pages: int = 0  # pages parsed by the spider (listing and detail)
    responses: int = 0  # HTTP responses received, robots.txt included
    items: int = 0  # RawPost items (listings) the spider produced
    written: int = 0  # items on_batch accepted (less than `items` only if the writer failed)
    invalid_items: int = 0  # listings rejected by RawPost validation (e.g. empty text)
    errors: int = 0  # failed requests (after retries) and ERROR log records (spider exceptions, writer failures)
    dropped: int = 0  # requests or responses dropped on purpose: robots.txt, HTTP errors, size limits, non-HTML
    robots_forbidden: int = 0
    failed_requests: int = 0  # requests that failed after their retries
    snapshots: int = 0  # page snapshots stored
    unparsed_dates: int = 0
    finish_reason: str | None = None
    complete: bool = False  # every page was fetched: listings not seen may be marked disappeared
    started_at: str | None = None  # ISO start of the crawl this completes (shared frontier: its first process)
    frontier_done: bool | None = None  # shared frontier only: this process was the last and cleared it
    found_sites: dict[str, int] = field(default_factory=dict)  # other sites its pages link to: origin -> pages


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
    settings.setmodule("npswatch.crawlers.settings", priority="project")
    if overrides:
        settings.setdict(overrides, priority="cmdline")
    return settings


def _site_stats(raw: dict[str, Any], shared: bool) -> SiteStats:
    g = raw.get
    st = SiteStats(
        pages=g("npswatch/pages", 0), responses=g("downloader/response_count", 0), items=g("npswatch/listings", 0),
        invalid_items=g("npswatch/invalid_items", 0),
        errors=g("log_count/ERROR", 0) + g("npswatch/failed_requests", 0),
        dropped=g("npswatch/dropped", 0) + g("npswatch/non_text_responses", 0),
        robots_forbidden=g("robotstxt/forbidden", 0), failed_requests=g("npswatch/failed_requests", 0),
        unparsed_dates=g("npswatch/unparsed_dates", 0), finish_reason=g("finish_reason"))
    clean = (st.finish_reason == "finished" and not g("npswatch/batch_errors", 0) and not g("log_count/ERROR", 0))
    if shared:  # only the last process of a shared frontier knows whether the whole site was fetched
        st.frontier_done = bool(g("npswatch/frontier_done"))
        st.started_at = g("npswatch/frontier_started")
        st.complete = clean and st.frontier_done and not g("npswatch/frontier_failed", 0)
    else:
        st.complete = clean and not st.failed_requests and not g("npswatch/max_pages_reached", 0)
    return st


def crawl_sites(
    sites: Iterable[SiteDef | str | Path],
    base_url: str | None = None,
    on_batch: Callable[[list[RawPost]], None] | None = None,
    batch_size: int = 200,
    settings_overrides: dict[str, Any] | None = None,
    on_progress: Callable[[CrawlProgress], None] | None = None,
    now: datetime | None = None,
    on_snapshots: Callable[[list[PageRecord]], None] | None = None,
    jobdirs: dict[str, str | Path] | None = None,
    redis_url: str | None = None,
    frontier: str = "default",
) -> CrawlStats:
    """Crawl `sites` (definitions or TOML paths) until done; once per process (the reactor cannot restart).

    base_url: joined to relative start URLs (overrides each file's base_url).
    on_batch: receives lists of at most `batch_size` RawPost items, per site (on the storage thread).
    on_progress: receives a `CrawlProgress` after each batch and at the end of each site.
    now: fixed "now" for relative dates ("вчера"); default: each response's Date header.
    on_snapshots: receives page bodies of sites with `snapshots = true` (on the storage thread).
    jobdirs: site name -> Scrapy JOBDIR (pause/resume); ignored with redis_url.
    redis_url, frontier: share request queue and duplicate filter with other processes (scrapy-redis).
    A site whose proxy is socks5h:// is crawled through a `SocksBridge` started for the crawl and stopped after.
    """
    defs = [s if isinstance(s, SiteDef) else load_site(s) for s in sites]
    stats = CrawlStats()
    runnable: list[SiteDef] = []
    for site in defs:
        if not site.enabled:
            stats.skipped[site.name] = "disabled"
        elif site.js and (why := js_unavailable()):
            stats.skipped[site.name] = f"needs JavaScript rendering (js = true): {why}"
            logger.warning("skipping %s: it needs JavaScript rendering: %s", site.name, why)
        else:
            site.resolve_start_urls(base_url)  # fail before starting anything if a base URL is missing
            runnable.append(site)
    if not runnable:
        return stats

    overrides = dict(settings_overrides or {})
    if redis_url:
        from npswatch.crawlers.frontier import frontier_settings

        overrides = {**frontier_settings(redis_url, frontier), **overrides}
        jobdirs = None
    settings = project_settings({**overrides, "NPSWATCH_BATCH_SIZE": batch_size})
    bridges: dict[str, SocksBridge] = {}  # one per SOCKS proxy; Scrapy gets the bridge's HTTP address
    try:
        for i, site in enumerate(runnable):
            if is_socks(site.proxy):
                if site.proxy not in bridges:
                    bridges[site.proxy] = SocksBridge(site.proxy)
                    bridges[site.proxy].start()
                runnable[i] = site.model_copy(update={"proxy": bridges[site.proxy].url})
        return _crawl(runnable, stats, settings, base_url, on_batch, on_progress, now, on_snapshots, jobdirs,
                      redis_url)
    finally:
        for bridge in bridges.values():
            bridge.stop()


def _crawl(runnable, stats, settings, base_url, on_batch, on_progress, now, on_snapshots, jobdirs,
           redis_url) -> CrawlStats:
    from scrapy.crawler import AsyncCrawlerProcess

    from npswatch.crawlers.spiders.listing import ListingSpider

    storage = StorageThread(maxsize=settings.getint("NPSWATCH_STORAGE_QUEUE", 8))
    process = AsyncCrawlerProcess(settings)
    crawlers = []
    for site in runnable:
        crawler = process.create_crawler(ListingSpider)
        jobdir = str(jobdirs[site.name]) if jobdirs and site.name in jobdirs else None
        process.crawl(crawler, site=site, base_url=base_url, now=now, batch_sink=on_batch,
                      progress_hook=on_progress, snapshot_sink=on_snapshots if site.snapshots else None,
                      storage=storage, jobdir=jobdir)
        crawlers.append((site.name, crawler))
    try:
        process.start(install_signal_handlers=threading.current_thread() is threading.main_thread())
    finally:
        storage.close()  # every pipeline has waited for its own batches; this only stops the thread

    causes: dict[str, BaseException] = {}
    for name, crawler in crawlers:
        stats.sites[name] = _site_stats(crawler.stats.get_stats(), shared=bool(redis_url))
        stats.sites[name].found_sites = dict(getattr(crawler.spider, "found_sites", {}) or {})
        pipeline = getattr(crawler, "batch_pipeline", None)
        if pipeline is not None:
            stats.sites[name].written = pipeline.items
            stats.sites[name].snapshots = pipeline.snapshots
            if pipeline.error is not None:
                causes[name] = pipeline.error
                stats.sites[name].complete = False
    if causes:
        raise CrawlError("batch writer failed for " + ", ".join(f"{k}: {v!r}" for k, v in causes.items()),
                         stats, causes)
    return stats
