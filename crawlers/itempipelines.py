"""Scrapy item pipeline that hands `RawPost` items (and page snapshots) to storage in batches, off the reactor.

The sinks come from the spider (`batch_sink(list[RawPost])`, `snapshot_sink(list[PageRecord])`, optional
`progress_hook`, and the `storage` thread they run on, all set by `crawlers.webcrawl.crawl_sites`), not
from settings: Scrapy deep-copies settings, which would copy a writer and its database connection.
Batch size: the NPSWATCH_BATCH_SIZE setting; snapshots are flushed every NPSWATCH_SNAPSHOT_BATCH_BYTES.

Each full batch is queued on the storage thread (`crawlers.storagethread`); `process_item` only waits when
that queue is full, which is the back-pressure. When the spider closes, the rest is flushed and the
pipeline waits until everything it queued is stored, so a crawl that ends cleanly has written all it
collected; a crawl killed midway loses only what was still queued, and the writer's upserts make the
rerun store it without duplicates.

If a sink raises, the error is logged, the batch is kept on the pipeline (`failed`) and the spider is
closed with reason "batch_write_failed" so no more pages are fetched for nothing.

>>> CrawlProgress(site="s", batches=1, items=200, pages=3)
CrawlProgress(site='s', batches=1, items=200, pages=3)
"""
from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass

from scrapy.utils.defer import deferred_from_coro

from npswatch.crawlers.storagethread import StorageThread
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.snapshots import PageRecord

__all__ = ["RawPostBatchPipeline", "CrawlProgress"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlProgress:
    """Reported after each batch is stored (and once at the end of a site)."""

    site: str
    batches: int  # batches stored so far
    items: int  # items stored so far
    pages: int  # pages parsed so far


class RawPostBatchPipeline:
    def __init__(self, crawler, batch_size: int, snapshot_bytes: int = 8 << 20) -> None:
        if batch_size < 1:
            raise ValueError("NPSWATCH_BATCH_SIZE must be >= 1")
        self.crawler = crawler
        self.batch_size = batch_size
        self.snapshot_bytes = snapshot_bytes
        self.buffer: list[RawPost] = []
        self.pages: list[PageRecord] = []
        self._page_bytes = 0
        self.batches = 0
        self.items = 0  # posts stored
        self.snapshots = 0  # pages stored
        self.failed: list[RawPost] = []
        self.error: BaseException | None = None
        self.sink: Callable[[list[RawPost]], None] | None = None
        self.snapshot_sink: Callable[[list[PageRecord]], None] | None = None
        self.progress: Callable[[CrawlProgress], None] | None = None
        self.storage: StorageThread | None = None
        self._own_storage = False
        self._pending: list[Future] = []  # queued jobs; touched on the event loop thread only
        self._closing = False

    @classmethod
    def from_crawler(cls, crawler) -> "RawPostBatchPipeline":
        return cls(crawler, crawler.settings.getint("NPSWATCH_BATCH_SIZE", 200),
                   crawler.settings.getint("NPSWATCH_SNAPSHOT_BATCH_BYTES", 8 << 20))

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.sink = getattr(spider, "batch_sink", None)
        self.snapshot_sink = getattr(spider, "snapshot_sink", None)
        self.progress = getattr(spider, "progress_hook", None)
        self.storage = getattr(spider, "storage", None)
        if self.storage is None:
            self.storage = StorageThread(name=f"npswatch-storage-{spider.name}")
            self._own_storage = True
        self.crawler.batch_pipeline = self  # crawl_sites reads counts and failures from here after the crawl

    async def process_item(self, item):
        if self.error is not None:
            self._stop_spider()
            return item
        if isinstance(item, RawPost):
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                await self._flush_posts()
        elif isinstance(item, PageRecord):
            if self.snapshot_sink is not None:
                self.pages.append(item)
                self._page_bytes += len(item.body)
                if self._page_bytes >= self.snapshot_bytes:
                    await self._flush_pages()
        return item

    async def close_spider(self) -> None:
        self._closing = True
        if self.error is None:
            await self._flush_pages()
            await self._flush_posts()
        for fut in self._pending:  # wait (without blocking the loop) until everything queued is stored
            await asyncio.wrap_future(fut)
        self._pending = []
        if self.error is None and self.progress is not None:
            self._report()
        if self._own_storage:
            self.storage.close()

    # --- storage-thread side -----------------------------------------------------------------------

    def _store_posts(self, batch: list[RawPost]) -> None:
        if self.error is not None:  # an earlier batch failed: keep this one too, write nothing more
            self.failed.extend(batch)
            return
        try:
            if self.sink is not None:
                self.sink(batch)
        except Exception as exc:  # noqa: BLE001 - the writer's failure must stop this site, not vanish
            self.error = exc
            self.failed.extend(batch)
            self.crawler.stats.inc_value("npswatch/batch_errors")
            logger.error("batch of %d items for %s not written: %r", len(batch), self.crawler.spider.name, exc)
            return
        self.batches += 1
        self.items += len(batch)
        if self.progress is not None:
            self._report()

    def _store_pages(self, pages: list[PageRecord]) -> None:
        if self.error is not None:
            return
        try:
            self.snapshot_sink(pages)
        except Exception as exc:  # noqa: BLE001 - as for items: stop this site, keep the error
            self.error = exc
            self.crawler.stats.inc_value("npswatch/batch_errors")
            logger.error("%d page snapshots for %s not stored: %r", len(pages), self.crawler.spider.name, exc)
            return
        self.snapshots += len(pages)

    def _report(self) -> None:
        self.progress(CrawlProgress(site=self.crawler.spider.name, batches=self.batches, items=self.items,
                                    pages=self.crawler.stats.get_value("npswatch/pages", 0)))

    # --- reactor side ------------------------------------------------------------------------------

    async def _submit(self, fn, arg) -> None:
        fut = await self.storage.submit_async(fn, arg)
        self._pending = [f for f in self._pending if not f.done()]
        self._pending.append(fut)

    async def _flush_posts(self) -> None:
        batch, self.buffer = self.buffer, []
        if batch:
            await self._submit(self._store_posts, batch)

    async def _flush_pages(self) -> None:
        pages, self.pages, self._page_bytes = self.pages, [], 0
        if pages:
            await self._submit(self._store_pages, pages)

    def _stop_spider(self) -> None:
        if not self._closing:
            self._closing = True
            deferred_from_coro(self.crawler.engine.close_spider_async(reason="batch_write_failed"))
