"""Batching writer: handlers `put()` items, a background task commits them in bulk, on size or on time.

An item is what one update or history message gives: a post, channel links, a deletion, a checkpoint
step. `flush()` hands the buffered items to a synchronous `commit(items)` (SQLAlchemy Core bulk writes) in
a worker thread, so the event loop keeps receiving while the database writes; one flush runs at a time,
in arrival order. The buffer is bounded: when it holds `high_water` items, `put()` waits for a flush
(back-pressure instead of unbounded memory).

A failed background flush is logged and its items are retried with back-off; an explicit `flush()`
(backfill, shutdown) raises instead. Latency (put -> commit) is recorded per item for the benchmark.

>>> import asyncio
>>> got = []
>>> async def demo():
...     bw = BatchWriter(lambda items: got.append([i.checkpoint for i in items]), max_items=2, max_delay=10)
...     for n in range(3):  # no background task started: put() writes inline every max_items
...         await bw.put(Item(checkpoint=("synthetic_channel_01", n)))
...     await bw.close()
>>> asyncio.run(demo()); got
[[('synthetic_channel_01', 0), ('synthetic_channel_01', 1)], [('synthetic_channel_01', 2)]]
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.images import ImageRow
from npswatch.storage.telegram_store import Link

log = logging.getLogger("npswatch.telegram")


@dataclass
class Item:
    post: RawPost | None = None
    links: Sequence[Link] = ()
    deleted: tuple[str, Sequence[int]] | None = None  # (source key, message ids)
    checkpoint: tuple[str, int] | None = None  # advance this channel to this id once committed
    images: Sequence[ImageRow] = ()  # the post's pictures: hashes and OCR text, never the pictures
    received: float = field(default_factory=time.perf_counter)


class BatchWriter:
    def __init__(self, commit: Callable[[list[Item]], object], *, max_items: int = 500, max_delay: float = 0.2,
                 high_water: int | None = None, keep_latencies: int = 200_000) -> None:
        self.commit = commit
        self.max_items = max_items
        self.max_delay = max_delay
        self.high_water = high_water or max_items * 10
        self._buf: list[Item] = []
        self._kick = asyncio.Event()
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._closing = False
        self.committed = 0
        self.flushes = 0
        self.latencies: deque[float] = deque(maxlen=keep_latencies)

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="npswatch-batch-writer")

    async def put(self, item: Item) -> None:
        self._buf.append(item)
        if len(self._buf) >= self.max_items:
            if self._task is None:  # no background task (a one-off backfill): write inline
                await self.flush()
            else:
                self._kick.set()
        if len(self._buf) >= self.high_water:
            await self.flush()

    def pending(self) -> int:
        return len(self._buf)

    async def flush(self) -> None:
        async with self._lock:
            while self._buf:
                items, self._buf = self._buf, []
                try:
                    await asyncio.to_thread(self.commit, items)
                except BaseException:
                    self._buf[:0] = items  # keep them, in order, for the next attempt
                    raise
                done = time.perf_counter()
                self.latencies.extend(done - i.received for i in items)
                self.committed += len(items)
                self.flushes += 1

    async def _run(self) -> None:
        backoff = 0.0
        while not self._closing:
            try:
                await asyncio.wait_for(self._kick.wait(), timeout=self.max_delay + backoff)
            except asyncio.TimeoutError:
                pass
            self._kick.clear()
            if not self._buf:
                continue
            try:
                await self.flush()
                backoff = 0.0
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - the database may be back in a moment; items are kept
                backoff = min(30.0, max(1.0, backoff * 2))
                log.exception("writing %d Telegram items failed; retrying in %.0f s", len(self._buf), backoff)

    async def close(self) -> None:
        """Stop the background task and commit what is left (raises if that fails)."""
        self._closing = True
        self._kick.set()
        if self._task is not None:
            await self._task
            self._task = None
        await self.flush()
