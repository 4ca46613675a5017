"""`npswatch run`: the long-running scheduler service (APScheduler 3.11, BackgroundScheduler).

Start-up, in this order:

1. Take the scheduler lock of the database (`npswatch/lock.py`): a second service on the same database
   refuses to start and says who holds it (`AlreadyRunning`, exit code 3).
2. Recover: job runs a dead service left `running` (kill -9, power loss) are marked failed, "interrupted:
   process died", together with the rows their children left running (`jobs.recover_interrupted`).
3. Start the scheduler paused, with its job store in the same database (`SQLAlchemyJobStore`, table
   `apscheduler_jobs`), so next run times survive restarts. Sync the `[[schedules]]` of the config into it:
   an unchanged schedule keeps its stored next run time (that is what makes a run missed while the service
   was down visible), a changed one is recomputed, a removed one is dropped.
4. A job the dead service was running is run again at once (`service.rerun_interrupted`), unless its
   previous run was interrupted too (a job that kills the service must not loop).
5. Resume: due jobs run, missed ones according to the misfire policy below.

Job options, chosen deliberately:

- `coalesce=True`: after a long stop, a job that missed several runs runs once, not once per missed time
  (collection reads everything new since the last run anyway).
- `max_instances=1`: a run still going when the next is due makes the next one skipped (logged), so a slow
  crawl is never crawling the same site twice at once. The job lock extends this to `npswatch jobs run`.
- `misfire_grace_time = service.misfire_grace` (default one day): a run missed by less than that (a reboot,
  a deploy, a crash and restart) runs once as soon as the service is back, so a nightly crawl or a Monday
  digest is not lost to a restart at the wrong minute; runs missed longer ago are skipped and the schedule
  simply resumes, so a week-long outage does not end in a burst of every job at once. With coalescing only
  the latest missed time counts, so a job whose period is at most the grace always catches up once.
  The same grace applies when every worker is busy and a due job waits for one.

Shutdown (SIGTERM, SIGINT; `KillMode=mixed` in the systemd unit sends them to the service only; caught from
the first line of `start()`, logged "starting", so a signal while it starts stops it cleanly too): stop
taking jobs (the scheduler is paused; due jobs are then missed runs for the next start), give running jobs
`service.shutdown_grace` to finish, then SIGTERM them (a crawl checkpoints and resumes next time), SIGKILL
after `service.kill_after`, mark their runs failed ("interrupted: service stopped") and exit 0. A second
signal skips the grace. The live Telegram listener (`service.listen`) is a supervised child: restarted with
backoff when it exits, stopped with SIGTERM on shutdown.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import datetime

from sqlalchemy import select

from npswatch.storage.db import make_engine
from npswatch.storage.runs import T_RUN

from npswatch.config import parse_duration
from npswatch.lock import DatabaseLock
from npswatch.schedules import JOB_RUN_KIND, JOBSTORE_TABLE, Job, catalogue, human_duration
from npswatch.watch import Watch

from .jobs import Runner, cli_prefix, recover_interrupted, spawn, stop_child
from .logs import masker_for

__all__ = ["Service", "AlreadyRunning", "run_scheduled", "JOBSTORE_TABLE", "RUN_FUNC", "scheduler_timezone",
           "sync_jobs"]

log = logging.getLogger("npswatch.service")

RUN_FUNC = "npswatch.scheduler.service:run_scheduled"  # what the job store pickles: a reference, not code
HEARTBEAT_SECONDS = 30.0  # how often the service checks it still holds its lock
LISTEN_LOG_BYTES = 20_000_000  # the listener's output file is rotated past this size
EXIT_ALREADY_RUNNING = 3  # the systemd unit does not restart on it (RestartPreventExitStatus=3)

_current: "Service | None" = None


def run_scheduled(name: str, fingerprint: str | None = None) -> None:  # noqa: ARG001 - fingerprint: sync only
    """What every stored job calls: run job `name` of the service in this process."""
    service = _current
    if service is None:
        raise RuntimeError("no npswatch service is running in this process")
    service.run_job(name)


class AlreadyRunning(RuntimeError):
    pass


def scheduler_timezone(settings):
    if settings.service.timezone:
        from zoneinfo import ZoneInfo

        return ZoneInfo(settings.service.timezone)
    from tzlocal import get_localzone

    return get_localzone()


def sync_jobs(scheduler, jobs: list[Job], tz, grace: float) -> dict[str, list[str]]:
    """Make the job store hold exactly `jobs`; keep the next run time of every unchanged schedule."""
    existing = {j.id: j for j in scheduler.get_jobs()}
    changes: dict[str, list[str]] = {"kept": [], "added": [], "changed": [], "removed": []}
    opts = {"coalesce": True, "max_instances": 1, "misfire_grace_time": int(grace) or 1}
    for job in jobs:
        fp = job.fingerprint(tz)
        old = existing.pop(job.name, None)
        if old is not None and old.kwargs.get("fingerprint") == fp and old.func_ref == RUN_FUNC:
            scheduler.modify_job(job.name, name=job.name, args=[job.name], kwargs={"fingerprint": fp}, **opts)
            changes["kept"].append(job.name)
            continue
        if old is not None:
            scheduler.remove_job(job.name)
        scheduler.add_job(RUN_FUNC, trigger=job.trigger(tz), args=[job.name], kwargs={"fingerprint": fp},
                          id=job.name, name=job.name, replace_existing=True, **opts)
        changes["changed" if old is not None else "added"].append(job.name)
    for name in existing:
        scheduler.remove_job(name)
        changes["removed"].append(name)
    return changes


class Service:
    """The scheduler service. `start()`, then `serve()` (blocks, handles signals) or `stop()`."""

    def __init__(self, app: Watch) -> None:
        self.app = app
        self.settings = app.settings
        svc = self.settings.service
        self.grace = parse_duration(svc.shutdown_grace)
        self.kill_after = parse_duration(svc.kill_after)
        self.misfire_grace = parse_duration(svc.misfire_grace)
        self.stop_requested = threading.Event()  # stop taking jobs
        self.terminate = threading.Event()  # stop running jobs now
        self._cond = threading.Condition()
        self._active: dict[str, float] = {}
        self._signals = 0
        self.scheduler = None
        self.lock: DatabaseLock | None = None
        self._listener: threading.Thread | None = None
        self.jobs: dict[str, Job] = {}
        self.exit_code = 0
        self._previous_handlers: dict[int, object] = {}

    # -- start ----------------------------------------------------------------------------------------
    def start(self) -> None:
        global _current
        self._catch_signals()  # first: a stop asked for while starting is a clean stop, not SIGTERM's default death
        log.info("starting (pid %s)", os.getpid(), extra={"pid": os.getpid()})
        settings = self.settings
        try:
            from apscheduler.executors.pool import ThreadPoolExecutor
            from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
            from apscheduler.schedulers.background import BackgroundScheduler

            engine = self.app.checked_engine()
            self.jobs = {j.name: j for j in catalogue(settings)}
            self.lock = DatabaseLock(engine, "scheduler")
            held = self.lock.acquire(timeout=1.0)  # a moment's patience: `npswatch status` probes the lock
        except BaseException:
            self._restore_signals()
            raise
        if not held:
            self._restore_signals()
            where = engine.url.render_as_string(hide_password=True)
            raise AlreadyRunning(
                f"another npswatch scheduler is already running on {where} ({self.lock.holder() or 'unknown'})"
                + (f"; lock file {self.lock.path}" if self.lock.path else "")
                + ". One scheduler per database: stop that one first (or point this one at another database).")
        try:
            if _current is not None:
                raise RuntimeError("a service for another database is already running in this process")
            recovered = recover_interrupted(engine)
            self.runner = Runner(engine, settings, masker=masker_for(settings), terminate=self.terminate)
            tz = scheduler_timezone(settings)
            self._store_engine = make_engine(settings.database_url)  # APScheduler disposes it on shutdown
            self.scheduler = BackgroundScheduler(
                jobstores={"default": SQLAlchemyJobStore(engine=self._store_engine, tablename=JOBSTORE_TABLE)},
                executors={"default": ThreadPoolExecutor(settings.service.max_parallel)},
                job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": int(self.misfire_grace) or 1},
                timezone=tz,
            )
            _current = self
            self.scheduler.start(paused=True)
            changes = sync_jobs(self.scheduler, list(self.jobs.values()), tz, self.misfire_grace)
            self._rerun(engine, recovered, tz)
            if not self.stop_requested.is_set():  # stopped while starting: no job is taken
                self.scheduler.resume()
        except BaseException:
            self._teardown()
            raise
        summary = ", ".join(f"{k} {', '.join(v)}" for k, v in changes.items() if v) or "no jobs scheduled"
        log.info("scheduler started: %s", summary)
        for job in self.scheduler.get_jobs():
            log.info("job %s: %s, next run %s", job.id, self.jobs[job.id].schedule,
                     job.next_run_time.isoformat(timespec="seconds") if job.next_run_time else "-",
                     extra={"job": job.id, "kind": self.jobs[job.id].kind, "source": self.jobs[job.id].source})
        if settings.service.listen and not self.stop_requested.is_set():
            self._listener = threading.Thread(target=self._supervise_listener, name="listener", daemon=True)
            self._listener.start()

    def _rerun(self, engine, recovered: list[str], tz) -> None:
        if not self.settings.service.rerun_interrupted:
            return
        for name in recovered:
            if name not in self.jobs:
                continue
            with engine.connect() as c:
                last = c.execute(select(T_RUN.c.message).where(T_RUN.c.kind == JOB_RUN_KIND, T_RUN.c.source == name)
                                 .order_by(T_RUN.c.id.desc()).limit(2)).scalars().all()
            if len(last) == 2 and (last[1] or "").startswith("interrupted"):
                log.warning("job %s was interrupted twice in a row: not run again now, only at its next time", name,
                            extra={"job": name})
                continue
            self.scheduler.modify_job(name, next_run_time=datetime.now(tz))
            log.info("job %s was interrupted by the end of the previous service: running it again now", name,
                     extra={"job": name})

    # -- jobs -----------------------------------------------------------------------------------------
    def run_job(self, name: str) -> None:
        job = self.jobs.get(name)
        if job is None:
            log.error("job %s is in the job store but not in the config; it is dropped at the next start", name)
            return
        if self.stop_requested.is_set():
            return  # submitted just before the pause
        with self._cond:
            self._active[name] = time.monotonic()
        try:
            self.runner.run(job)
        finally:
            with self._cond:
                self._active.pop(name, None)
                self._cond.notify_all()

    @property
    def active(self) -> list[str]:
        with self._cond:
            return list(self._active)

    # -- listener -------------------------------------------------------------------------------------
    def listener_argv(self) -> list[str]:
        return cli_prefix(self.settings) + ["listen"]

    def _supervise_listener(self) -> None:
        backoff, log_path = 5.0, self.settings.data_path / "logs" / "listen.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        while not self.stop_requested.is_set():
            started = time.monotonic()
            if log_path.exists() and log_path.stat().st_size > LISTEN_LOG_BYTES:
                log_path.replace(log_path.with_name(log_path.name + ".1"))  # keep one older file
            with open(log_path, "a", encoding="utf-8") as out:
                child = spawn(self.listener_argv(), out, self.runner.masker)
                log.info("listener started (pid %s), output in %s", child.proc.pid, log_path, extra={"pid": child.proc.pid})
                while child.proc.poll() is None and not self.stop_requested.wait(0.5):
                    pass
                if child.proc.poll() is None:
                    stop_child(child.proc, self.kill_after)
                    child.pump.join(timeout=5)
                    log.info("listener stopped")
                    return
                child.pump.join(timeout=5)
            if time.monotonic() - started > 600:
                backoff = 5.0
            tail = child.tail[-1] if child.tail else "no output"
            log.warning("listener exited with code %s (%s); restarting in %s", child.proc.returncode, tail,
                        human_duration(backoff), extra={"exit_code": child.proc.returncode})
            if self.stop_requested.wait(backoff):
                return
            backoff = min(backoff * 2, 300.0)

    # -- stop -----------------------------------------------------------------------------------------
    def request_stop(self, signum: int | None = None) -> None:
        """First call: stop taking jobs and shut down after the grace. Second: stop running jobs now."""
        self._signals += 1
        if self._signals > 1:
            self.terminate.set()
        self.stop_requested.set()

    def stop(self) -> None:
        self.stop_requested.set()
        if self.scheduler is not None and self.scheduler.running:
            self.scheduler.pause()
        active = self.active
        if active:
            log.info("stopping: waiting up to %s for %s to finish", human_duration(self.grace), ", ".join(active))
        deadline = time.monotonic() + self.grace
        with self._cond:
            while self._active and not self.terminate.is_set() and time.monotonic() < deadline:
                self._cond.wait(min(0.5, max(0.01, deadline - time.monotonic())))
        if self.active:
            log.warning("stopping: %s still running after the grace; stopping them", ", ".join(self.active))
            self.terminate.set()
            with self._cond:
                end = time.monotonic() + self.kill_after + 20
                while self._active and time.monotonic() < end:
                    self._cond.wait(0.5)
        if self._listener is not None:
            self._listener.join(timeout=self.kill_after + 15)
        self._teardown()
        log.info("scheduler stopped")

    def _teardown(self) -> None:
        global _current
        if self.scheduler is not None and self.scheduler.running:
            # APScheduler's loop looks at due jobs once more after shutdown() and would advance (lose) the next
            # run times of jobs due at that moment: detach the store first, so they stay due (missed runs).
            self.scheduler.pause()
            self.scheduler.remove_jobstore("default")
            self.scheduler.shutdown(wait=False)
        if _current is self:
            _current = None
        if self.lock is not None and self.lock.held:
            self.lock.release()
        self._restore_signals()

    def _catch_signals(self) -> None:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGTERM, signal.SIGINT):
                self._previous_handlers[sig] = signal.signal(sig, lambda signum, frame: self.request_stop(signum))

    def _restore_signals(self) -> None:
        """The handlers from before `start()` (a service run from Python leaves Ctrl-C as it found it)."""
        if threading.current_thread() is threading.main_thread():
            for sig, handler in self._previous_handlers.items():
                signal.signal(sig, handler if handler is not None else signal.SIG_DFL)
        self._previous_handlers.clear()

    def serve(self) -> int:
        """Block until SIGTERM/SIGINT (caught from the start of `start()`) or `request_stop()`, then stop; the
        exit code."""
        while not self.stop_requested.wait(HEARTBEAT_SECONDS):
            if self.lock is not None and not self.lock.alive():
                log.error("the scheduler lock was lost (database connection dropped?); taking it again")
                self.lock.release()
                if not self.lock.acquire(timeout=5.0):
                    log.error("another scheduler took over the database: stopping this one")
                    self.exit_code = 1
                    break
        if self._signals:
            log.info("signal received: stopping (jobs get %s to finish)", human_duration(self.grace))
        self.stop()
        return self.exit_code
