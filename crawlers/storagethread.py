"""A storage thread: the crawl's database writes run here, in order, off the reactor thread.

The item pipeline hands it jobs (write this batch of posts, store these page snapshots). The queue is
bounded: while it is full, `submit_async` waits (without blocking the event loop), the pipeline's
`process_item` does not return, and Scrapy stops scheduling downloads — back-pressure instead of an
ever-growing backlog. A slow database therefore slows the crawl only once `maxsize` jobs are waiting.

Jobs run one at a time in submission order (so a sink never runs concurrently with itself), and each
returns a `concurrent.futures.Future`. `close()` runs what is queued, then stops the thread.

>>> t = StorageThread(maxsize=2)
>>> t.submit(sum, [1, 2, 3]).result()
6
>>> t.close()
"""
from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

__all__ = ["StorageThread"]

_STOP = object()


class StorageThread:
    def __init__(self, maxsize: int = 8, name: str = "npswatch-storage") -> None:
        if maxsize < 1:
            raise ValueError("maxsize must be >= 1")
        self._queue: queue.Queue = queue.Queue(maxsize)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._closed = False
        self.waits = 0  # times a submitter found the queue full
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._queue.get()
            if job is _STOP:
                return
            fut, fn, args = job
            if fut.set_running_or_notify_cancel():
                try:
                    fut.set_result(fn(*args))
                except BaseException as exc:  # noqa: BLE001 - handed to whoever waits on the future
                    fut.set_exception(exc)

    def _job(self, fn: Callable[..., Any], args: tuple) -> tuple[Future, Callable[..., Any], tuple]:
        if self._closed:
            raise RuntimeError("storage thread is closed")
        return Future(), fn, args

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue `fn(*args)`; blocks while the queue is full (use from ordinary threads)."""
        job = self._job(fn, args)
        self._queue.put(job)
        return job[0]

    async def submit_async(self, fn: Callable[..., Any], *args: Any) -> Future:
        """Queue `fn(*args)` from the event loop; while the queue is full, wait without blocking the loop."""
        job = self._job(fn, args)
        delay = 0.005
        while True:
            try:
                self._queue.put_nowait(job)
                return job[0]
            except queue.Full:
                self.waits += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, 0.1)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def close(self, timeout: float | None = None) -> None:
        """Run the queued jobs, then stop the thread."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(_STOP)
        self._thread.join(timeout)
