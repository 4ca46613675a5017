"""Scrapy item pipeline that hands `RawPost` items to a callable in batches (the storage bulk writer).

The callable and an optional progress hook come from the spider (`batch_sink`, `progress_hook`,
set by `crawlers.webcrawl.crawl_sites`), not from settings: Scrapy deep-copies settings, which would
copy a writer and its database connection. Batch size: the NPSWATCH_BATCH_SIZE setting.

If the sink raises, the batch is kept on the pipeline (`failed`), the error is logged, and the
spider is closed with reason "batch_write_failed" so no more pages are fetched for nothing.

>>> CrawlProgress(site="s", batches=1, items=200, pages=3)
CrawlProgress(site='s', batches=1, items=200, pages=3)
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from scrapy.utils.defer import deferred_from_coro

from pipelines.rawpost import RawPost

__all__ = ["RawPostBatchPipeline", "CrawlProgress"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CrawlProgress:
    """Reported after each batch (and once at the end of a site)."""

    site: str
    batches: int  # batches handed to the sink so far
    items: int  # items handed over so far
    pages: int  # pages parsed so far


class RawPostBatchPipeline:
    def __init__(self, crawler, batch_size: int) -> None:
        if batch_size < 1:
            raise ValueError("NPSWATCH_BATCH_SIZE must be >= 1")
        self.crawler = crawler
        self.batch_size = batch_size
        self.buffer: list[RawPost] = []
        self.batches = 0
        self.items = 0
        self.failed: list[RawPost] = []
        self.error: BaseException | None = None
        self.sink: Callable[[list[RawPost]], None] | None = None
        self.progress: Callable[[CrawlProgress], None] | None = None

    @classmethod
    def from_crawler(cls, crawler) -> "RawPostBatchPipeline":
        return cls(crawler, crawler.settings.getint("NPSWATCH_BATCH_SIZE", 200))

    def open_spider(self) -> None:
        spider = self.crawler.spider
        self.sink = getattr(spider, "batch_sink", None)
        self.progress = getattr(spider, "progress_hook", None)
        self.crawler.batch_pipeline = self  # crawl_sites reads failures from here after the crawl

    def process_item(self, item):
        if isinstance(item, RawPost) and self.error is None:
            self.buffer.append(item)
            if len(self.buffer) >= self.batch_size:
                self._flush()
        return item

    def close_spider(self) -> None:
        if self.error is None:
            self._flush(final=True)

    def _flush(self, final: bool = False) -> None:
        batch, self.buffer = self.buffer, []
        if batch and self.sink is not None:
            try:
                self.sink(batch)
            except Exception as exc:  # the writer's failure must stop this site, not vanish
                self.error = exc
                self.failed.extend(batch)
                self.crawler.stats.inc_value("npswatch/batch_errors")
                logger.error("batch of %d items for %s not written: %r", len(batch), self.crawler.spider.name, exc)
                if not final:
                    deferred_from_coro(self.crawler.engine.close_spider_async(reason="batch_write_failed"))
                return
        if batch:
            self.batches += 1
            self.items += len(batch)
        if self.progress is not None and (batch or final):
            self.progress(CrawlProgress(site=self.crawler.spider.name, batches=self.batches, items=self.items,
                                        pages=self.crawler.stats.get_value("npswatch/pages", 0)))
