"""Per-site job folders (Scrapy JOBDIR) for clean pause and resume, and what to do after a crash.

Scrapy's JOBDIR keeps the scheduler's queue and the seen-request fingerprints on disk, but its queue is
only consistent after a *clean* stop (Ctrl-C once, SIGTERM): after kill -9 the fingerprint file lists
requests whose queue entries were never saved, and resuming from it would skip their pages for good.
So `JobDir` keeps a small state file next to Scrapy's:

- `begin(run_id)`: state "paused" -> resume (Scrapy reads its queue; the crawl keeps the original start
  time, so listings seen before the pause still count as seen); state "running" -> the previous crawl
  died: the folder is emptied and the site is crawled from the start (what was stored stays stored, the
  writer's upserts store nothing twice); no state -> a fresh crawl.
- `end(finish_reason, failures)`: "finished" -> the folder is emptied (the next crawl starts afresh); a
  clean stop Scrapy names (`CLEAN_STOPS`: Ctrl-C/SIGTERM "shutdown", a closespider limit, a failed batch)
  -> state "paused" with that reason, remembering how many requests failed so far: a crawl whose earlier
  part lost pages is not complete either (`JobStart.earlier_failures`); a stop with no finish reason (the
  process was killed around the close) -> state "interrupted", never resumed.

A crawl resumes only from a state that says how it stopped: "paused" with a clean-stop reason and Scrapy's
saved queue beside it; anything else is crawled again from the start. And `JobStart.may_mark_disappeared`
is the one rule for the end of a crawl: listings are judged gone only after a crawl that finished and
actually fetched pages, never after an interrupted one or a resumed one that found its queue empty.

>>> import tempfile
>>> job = JobDir(tempfile.mkdtemp(), "fixture-shop")
>>> first = job.begin(run_id=1)
>>> first.resumed, first.crashed_run_id
(False, None)
>>> (job.path / "requests.queue").mkdir()  # what Scrapy saves on a clean stop
>>> job.end("shutdown", failures=1)
>>> again = job.begin(run_id=2)
>>> again.resumed, again.started_at == first.started_at, again.earlier_failures
(True, True, 1)
>>> JobDir(job.path.parent, "fixture-shop").begin(run_id=3)  # run 2 is still going
Traceback (most recent call last):
...
npswatch.crawlers.jobs.JobBusy: a crawl of fixture-shop is already running on this machine
>>> job.release()  # what a killed process does (the kernel drops its lock)
>>> crashed = JobDir(job.path.parent, "fixture-shop").begin(run_id=3)  # run 2 never called end()
>>> crashed.resumed, crashed.crashed_run_id
(False, 2)
>>> crashed.crashed  # and says so
True
>>> job = JobDir(job.path.parent, "other-shop"); _ = job.begin(run_id=4)
>>> (job.path / "requests.queue").mkdir(); job.end(None)  # no finish reason: killed around the close
>>> JobDir(job.path.parent, "other-shop").begin(run_id=5).resumed
False

While a crawl runs, its process holds an flock on `<root>/.<site>.lock`, so a second crawl of the same
site on the same machine is refused instead of sharing (and wiping) the folder; the kernel drops the
lock when the process dies, however it dies.
"""
from __future__ import annotations

import fcntl
import json
import os
import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

__all__ = ["JobDir", "JobStart", "JobBusy", "CLEAN_STOPS"]

STATE_FILE = "npswatch-job.json"
# Finish reasons of a spider closed cleanly before the end: Scrapy saved its queue, the crawl can go on.
CLEAN_STOPS = frozenset({"shutdown", "cancelled", "closespider_timeout", "closespider_itemcount",
                         "closespider_pagecount", "closespider_errorcount", "batch_write_failed"})


@dataclass(frozen=True)
class JobStart:
    path: Path
    started_at: datetime  # start of this crawl, or of the crawl it resumes
    resumed: bool  # a paused crawl goes on
    crashed_run_id: int | None  # run id of a crawl that died (its crawl_run row is still "running")
    crashed: bool = False
    earlier_failures: int = 0  # failed requests of the paused parts this crawl resumes

    def may_mark_disappeared(self, finish_reason: str | None, pages: int, complete: bool) -> bool:
        """Whether this crawl's end may judge listings not seen since `started_at` gone: it finished, it
        fetched pages (a resumed crawl whose queue turned out empty proves nothing), nothing was lost."""
        return bool(complete and finish_reason == "finished" and pages > 0 and not self.earlier_failures)


class JobBusy(RuntimeError):
    """Another process is crawling this site with this job folder."""


class JobDir:
    def __init__(self, root: str | Path, site: str) -> None:
        self.site = site
        self.path = Path(root) / site
        self._state = self.path / STATE_FILE
        self._lockfile = Path(root) / f".{site}.lock"
        self._lock: int | None = None

    def lock(self) -> None:
        """Take the site's lock (begin() does it too); JobBusy if another process has it."""
        if self._lock is not None:
            return
        self._lockfile.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self._lockfile, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JobBusy(f"a crawl of {self.site} is already running on this machine") from None
        self._lock = fd

    def release(self) -> None:
        if self._lock is not None:
            os.close(self._lock)  # closing the descriptor drops the flock
            self._lock = None

    def _read(self) -> dict | None:
        try:
            return json.loads(self._state.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None

    def _write(self, state: dict) -> None:
        self.path.mkdir(parents=True, exist_ok=True)
        tmp = self._state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state), encoding="utf-8")
        os.replace(tmp, self._state)

    def clear(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)

    def begin(self, run_id: int | None) -> JobStart:
        self.lock()
        prev = self._read()
        now = datetime.now(timezone.utc)
        resumable = (prev and prev.get("state") == "paused" and prev.get("reason") in CLEAN_STOPS
                     and (self.path / "requests.queue").is_dir())
        if resumable:
            started = datetime.fromisoformat(prev["started_at"])
            start = JobStart(self.path, started, resumed=True, crashed_run_id=None,
                             earlier_failures=int(prev.get("failures", 0)))
        else:
            crashed = bool(prev and prev.get("state") in ("running", "interrupted", "paused"))
            self.clear()  # a crash leaves Scrapy's queue and fingerprints out of step: start over
            start = JobStart(self.path, now, resumed=False,
                             crashed_run_id=prev.get("run_id") if crashed else None, crashed=crashed)
        self._write({"state": "running", "run_id": run_id, "started_at": start.started_at.isoformat(),
                     "failures": start.earlier_failures})
        return start

    def end(self, finish_reason: str | None, failures: int = 0) -> None:
        try:
            if finish_reason == "finished":
                self.clear()
                return
            state = self._read() or {}
            state["state"] = "paused" if finish_reason in CLEAN_STOPS else "interrupted"
            state["reason"] = finish_reason
            state["failures"] = int(state.get("failures", 0)) + failures
            self._write(state)
        finally:
            self.release()
