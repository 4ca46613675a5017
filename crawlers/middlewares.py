"""Downloader middleware: retries wait longer each time (Scrapy's RetryMiddleware re-sends at once).

Scrapy's RetryMiddleware re-queues a failed request (connection error, timeout, 429, 5xx) with
`meta["retry_times"]` set; this middleware, placed after it, holds such a request back before download
for RETRY_BACKOFF_BASE * 2 ** (retry_times - 1) seconds (capped at RETRY_BACKOFF_MAX, ±25 % jitter), or for
the server's Retry-After when a 429/503 gave one. The wait is a timer on the event loop: nothing blocks,
and the site's other requests go on.

>>> backoff_delay(1, base=2.0, cap=60.0, jitter=0), backoff_delay(3, base=2.0, cap=60.0, jitter=0)
(2.0, 8.0)
>>> backoff_delay(10, base=2.0, cap=60.0, jitter=0)
60.0
"""
from __future__ import annotations

import asyncio
import random

from scrapy.exceptions import NotConfigured

__all__ = ["RetryBackoffMiddleware", "backoff_delay"]


def backoff_delay(retry_times: int, *, base: float, cap: float, jitter: float = 0.25) -> float:
    delay = min(cap, base * 2 ** max(0, retry_times - 1))
    return delay * (1 + random.uniform(-jitter, jitter)) if jitter else delay


class RetryBackoffMiddleware:
    def __init__(self, crawler, base: float, cap: float) -> None:
        self.crawler = crawler
        self.base = base
        self.cap = cap

    @classmethod
    def from_crawler(cls, crawler) -> "RetryBackoffMiddleware":
        s = crawler.settings
        if not s.getbool("RETRY_ENABLED") or s.getfloat("RETRY_BACKOFF_BASE", 0) <= 0:
            raise NotConfigured
        return cls(crawler, s.getfloat("RETRY_BACKOFF_BASE"), s.getfloat("RETRY_BACKOFF_MAX", 60.0))

    def process_response(self, request, response):
        # Runs before RetryMiddleware's (responses go from the downloader up, 560 before 550): keep a
        # 429/503's Retry-After (seconds form) on the request, whose meta the retry request copies.
        if response.status in (429, 503):
            value = response.headers.get("Retry-After")
            if value and value.strip().isdigit():
                request.meta["retry_after"] = min(float(value), self.cap)
                self.crawler.stats.inc_value("npswatch/retry_after")
        return response

    async def process_request(self, request):
        tries = request.meta.get("retry_times", 0)
        if tries:
            delay = request.meta.pop("retry_after", None) or backoff_delay(tries, base=self.base, cap=self.cap)
            self.crawler.stats.inc_value("npswatch/retry_backoff_waits")
            await asyncio.sleep(delay)
        return None
