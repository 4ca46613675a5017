"""A crawl frontier shared by several crawler processes through Redis (scrapy-redis scheduler + dupefilter).

With `REDIS_URL` set, every `npswatch crawl` process (on any host) that names the same frontier puts the
requests it discovers into one Redis priority queue per site and checks them against one Redis set of
request fingerprints; each process takes its next request from that queue. So a URL is fetched once
by one of them, whichever is free.

scrapy-redis 0.9.1 works with Scrapy 2.19 for the parts used here: its `Scheduler` (open/close/enqueue/
next_request/has_pending_requests, which is the scheduler interface Scrapy 2.19 still calls; the two
methods that pass a deprecated `spider` argument to the stats, and `open`, which calls the deprecated
`spider.log()`, are redone here), its
`PriorityQueue` (requests serialised with `Request.to_dict`, so callbacks must be spider methods) and its
`RFPDupeFilter`. Its `RedisSpider` is not used: it feeds start URLs from Redis via `start_requests`, which
Scrapy >= 2.16 no longer calls; our own spider's `async def start()` yields the site's start URLs in every
process and the shared dupefilter lets only the first through.

What this module adds to the stock scheduler:
- When to stop. A process whose own work is done does not stop while the shared queue has requests or
  another process is still busy (it may discover more); it looks again every quarter second. A process is
  busy from the request it takes until it is idle. Marks are refreshed every 5 s by a timer and expire
  after 30 s, so a killed process keeps the others waiting half a minute at most.
- Who cleans up. Keys persist when a process stops (SCHEDULER_PERSIST), so one process finishing does
  not wipe the queue under the others. The last live process to leave a finished frontier deletes its keys,
  so the next crawl starts afresh, and reports `frontier_done`; that process's crawl alone may mark
  listings that were not seen as disappeared, using the frontier's start time (`started`) and the failure
  count summed over all processes (`failed`).
- An interrupted frontier (Ctrl-C, kill) keeps its queue and fingerprints: starting the processes again
  resumes it. A process killed outright loses the requests it had taken (they are marked seen and were
  never parsed): when its marks expire while it is still in `joined`, the frontier counts a failure, so
  the crawl is not complete and marks no listing as disappeared; the next crawl fetches those pages.
  `reset_frontier()` deletes a frontier instead.

Keys: `<prefix>:<site>:requests` (sorted set), `:dupefilter` (set), `:started`, `:failed`, `:workers` and
`:busy` (sorted sets of process ids scored by when their mark expires, on the Redis server's clock),
`:joined` (set of processes in, removed when they close), `:lock`,
with prefix `npswatch:frontier:<name>`. Joining and leaving take a short Redis lock, so two processes
finishing together cannot both think the other is still in.
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from scrapy import signals
from scrapy.exceptions import DontCloseSpider
from scrapy_redis.scheduler import Scheduler

__all__ = ["SharedFrontierScheduler", "frontier_settings", "frontier_prefix", "reset_frontier", "frontier_workers"]

logger = logging.getLogger(__name__)

MARK_TTL = 30  # seconds a process's marks live without a refresh (NPSWATCH_FRONTIER_TTL): how long a killed
# process goes unnoticed; a running one refreshes them every sixth of that
POLL = 0.25  # seconds between looks at the shared queue while another process is busy


def frontier_prefix(name: str) -> str:
    return f"npswatch:frontier:{name}"


def frontier_settings(redis_url: str, name: str = "default") -> dict:
    """Scrapy settings that put every site's requests and fingerprints into Redis under frontier `name`."""
    prefix = frontier_prefix(name)
    return {
        "REDIS_URL": redis_url,
        "SCHEDULER": "npswatch.crawlers.frontier.SharedFrontierScheduler",
        "DUPEFILTER_CLASS": "scrapy_redis.dupefilter.RFPDupeFilter",
        "SCHEDULER_QUEUE_CLASS": "scrapy_redis.queue.PriorityQueue",
        "SCHEDULER_QUEUE_KEY": prefix + ":%(spider)s:requests",
        "SCHEDULER_DUPEFILTER_KEY": prefix + ":%(spider)s:dupefilter",
        "SCHEDULER_PERSIST": True,  # this scheduler deletes the keys itself, once the last process leaves
        "NPSWATCH_FRONTIER_PREFIX": prefix,
        "JOBDIR": None,  # the frontier lives in Redis, not on local disk
    }


def reset_frontier(redis_url: str, name: str, sites: list[str] | None = None) -> int:
    """Delete a frontier's keys (all sites, or `sites`); returns the number of keys deleted."""
    import redis

    server = redis.Redis.from_url(redis_url)
    prefix = frontier_prefix(name)
    patterns = [f"{prefix}:{s}:*" for s in sites] if sites else [f"{prefix}:*"]
    keys = [k for p in patterns for k in server.scan_iter(match=p, count=500)]
    return server.delete(*keys) if keys else 0


def frontier_workers(redis_url: str, name: str, site: str) -> int:
    """How many live processes are in frontier `name` for `site` right now."""
    import redis

    server = redis.Redis.from_url(redis_url)
    key = f"{frontier_prefix(name)}:{site}:workers"
    return server.zcount(key, _redis_now(server), "+inf")


def _redis_now(server) -> float:
    sec, usec = server.time()  # the Redis server's clock: processes on several hosts agree on it
    return sec + usec / 1e6


class SharedFrontierScheduler(Scheduler):
    @classmethod
    def from_crawler(cls, crawler):
        inst = super().from_crawler(crawler)
        inst.crawler = crawler
        inst.prefix = crawler.settings.get("NPSWATCH_FRONTIER_PREFIX") or frontier_prefix("default")
        inst.worker = uuid.uuid4().hex[:12]
        inst.busy = False  # this process has taken requests and not gone idle since
        inst._heartbeat = None
        inst.ttl = crawler.settings.getfloat("NPSWATCH_FRONTIER_TTL", MARK_TTL)
        crawler.signals.connect(inst._on_idle, signal=signals.spider_idle)
        return inst

    def _key(self, *parts: str) -> str:
        return ":".join((self.prefix, self.spider.name, *parts))

    def _lock(self):
        return self.server.lock(self._key("lock"), timeout=30, blocking_timeout=30)

    def _mark(self, kind: str, now: float | None = None) -> None:
        now = _redis_now(self.server) if now is None else now
        self.server.zadd(self._key(kind), {self.worker: now + self.ttl})

    def _live(self, kind: str, now: float) -> int:
        """Live marks of other processes (sorted-set members scored by when they expire). A process whose
        worker mark expired while it was still in `joined` died without closing: counted as a failure."""
        key = self._key(kind)
        expired = self.server.zrangebyscore(key, "-inf", now)
        if expired:
            self.server.zrem(key, *expired)
            if kind == "workers":
                dead = [w for w in expired if self.server.srem(self._key("joined"), w)]
                if dead:
                    logger.warning("%d process(es) left shared frontier %s:%s without closing (killed?): pages "
                                   "they had taken are missing from this crawl, which will not count as complete",
                                   len(dead), self.prefix, self.spider.name)
                    self.server.incrby(self._key("failed"), len(dead))
        return self.server.zcard(key) - (self.server.zscore(key, self.worker) is not None)

    def open(self, spider):
        # As scrapy-redis 0.9.1 opens, without its deprecated `spider.log()` call.
        from scrapy.utils.misc import load_object
        from twisted.internet import task

        self.spider = spider
        self.queue = load_object(self.queue_cls)(server=self.server, spider=spider,
                                                 key=self.queue_key % {"spider": spider.name},
                                                 serializer=self.serializer)
        if not self.df:
            self.df = load_object(self.dupefilter_cls).from_spider(spider)
        if self.flush_on_start:
            self.flush()
        with self._lock():
            now = _redis_now(self.server)
            if not self._live("workers", now):  # nobody else is in: a fresh frontier, or one left behind
                if not len(self.queue) and self.server.exists(self.df.key, self._key("started")):
                    # Left over by a crash at the very end of a crawl: nothing to resume, start afresh.
                    self.server.delete(self.df.key, self._key("started"), self._key("failed"), self._key("joined"))
                elif self.server.scard(self._key("joined")):  # members whose marks are gone altogether
                    self.server.incr(self._key("failed"))
                    self.server.delete(self._key("joined"))
            self.server.sadd(self._key("joined"), self.worker)
            self._mark("workers", now)
            started = datetime.now(timezone.utc).isoformat()
            self.server.set(self._key("started"), started, nx=True)
            self.started = (self.server.get(self._key("started")) or started.encode()).decode()
        self.crawler.stats.set_value("npswatch/frontier_started", self.started)
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.start(self.ttl / 6, now=False)
        logger.info("shared frontier %s:%s, worker %s (%d requests queued)", self.prefix, spider.name,
                    self.worker, len(self.queue))

    def _beat(self) -> None:
        # Keep this process's marks alive while it runs, whatever it is doing (a long download included).
        try:
            now = _redis_now(self.server)
            self._mark("workers", now)
            if self.busy:
                self._mark("busy", now)
        except Exception as exc:  # noqa: BLE001 - Redis hiccup: the next beat tries again
            logger.warning("shared frontier heartbeat failed: %r", exc)

    # enqueue_request and next_request as scrapy-redis 0.9.1 has them, minus the `spider` argument to the
    # stats calls, which Scrapy 2.19 deprecates (a warning per crawl) and will remove.
    def enqueue_request(self, request):
        if not request.dont_filter and self.df.request_seen(request):
            self.df.log(request, self.spider)
            return False
        if self.stats:
            self.stats.inc_value("scheduler/enqueued/redis")
        self.queue.push(request)
        return True

    def next_request(self):
        request = self.queue.pop(self.idle_before_close)
        if request is not None:
            if self.stats:
                self.stats.inc_value("scheduler/dequeued/redis")
            if not self.busy:
                self._mark("busy")
                self.busy = True
        return request

    def _on_idle(self, spider) -> None:
        # The engine calls this when this process has nothing downloading, parsing or taken from the queue.
        if len(self.queue):
            self._poke(0)
            raise DontCloseSpider
        if self.busy:
            self.server.zrem(self._key("busy"), self.worker)
            self.busy = False
        if self._live("busy", _redis_now(self.server)):  # another process may still find pages: wait for it
            self._poke(POLL)
            raise DontCloseSpider

    def _poke(self, delay: float) -> None:
        # The engine looks at the scheduler again on its 5 s heartbeat; ask it to look sooner. Uses the
        # engine's slot (not public API); without it the heartbeat still works, only slower.
        from twisted.internet import reactor

        slot = getattr(self.crawler.engine, "_slot", None)
        if slot is not None and getattr(slot, "nextcall", None) is not None:
            reactor.callLater(delay, slot.nextcall.schedule)

    def close(self, reason):
        if self._heartbeat is not None and self._heartbeat.running:
            self._heartbeat.stop()
        stats = self.crawler.stats
        failures = (stats.get_value("npswatch/failed_requests", 0) + stats.get_value("npswatch/max_pages_reached", 0)
                    + stats.get_value("npswatch/batch_errors", 0))
        with self._lock():
            self.server.incrby(self._key("failed"), failures)
            self.server.zrem(self._key("busy"), self.worker)
            self.server.zrem(self._key("workers"), self.worker)
            self.server.srem(self._key("joined"), self.worker)
            remaining = self._live("workers", _redis_now(self.server))
            if reason == "finished" and remaining <= 0 and not len(self.queue):
                failed_total = int(self.server.get(self._key("failed")) or 0)
                self.server.delete(self.queue.key, self.df.key, self._key("started"), self._key("failed"),
                                   self._key("workers"), self._key("busy"), self._key("joined"))
                stats.set_value("npswatch/frontier_done", 1)
                stats.set_value("npswatch/frontier_failed", failed_total)
                logger.info("shared frontier %s:%s finished and cleared", self.prefix, self.spider.name)
            else:
                logger.info("leaving shared frontier %s:%s (%s): %d other processes, %d requests queued",
                            self.prefix, self.spider.name, reason, max(remaining, 0), len(self.queue))
        super().close(reason)
