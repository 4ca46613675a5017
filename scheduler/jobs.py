"""The runner that runs one scheduled job (`npswatch.schedules.Job`) in a child process.

Every job is an npswatch command run as a child process with a time limit (a crawl must be: Twisted's
reactor cannot be restarted inside one process; for the others it keeps the long-running service small
and a crash of one job away from the rest):

| job         | child command                                    | writes its own crawl_run rows    |
|-------------|--------------------------------------------------|----------------------------------|
| `crawl`     | `npswatch crawl SITE` (no source: `crawl --all`) | `crawl`, one per site            |
| `backfill`  | `npswatch telegram backfill [--channel C]`       | `telegram-backfill`, per channel |
| `metrics`   | `npswatch telegram sample [--channel C]`         | `telegram-metrics`               |
| `fx`        | `npswatch fx import FILE`, per file of the inbox | -                                |
| `digest`    | `npswatch digest` (`--send` with recipients)     | -                                |
| `retention` | `npswatch retention apply`                       | `retention`                      |
| `command`   | the configured program                           | -                                |

`Runner.run(job)` takes the job's lock (`job:NAME`, so a scheduled run and `npswatch jobs run NAME` never
overlap, in one process or many), records the run as a `crawl_run` row of kind `job` with the job's name as
source, starts the child in a session of its own (Ctrl-C in the service's terminal does not reach it; on
Linux it gets SIGTERM if the service dies), streams its output, secrets masked, to
`<data_dir>/logs/jobs/NAME-RUN.log`, and on time limit or shutdown sends SIGTERM (a crawl then checkpoints
and resumes next time), then SIGKILL after `service.kill_after`. An npswatch child runs one use-case of
`npswatch.Watch` and sends its result object back as JSON (`--result-file`, `npswatch.results`); the run row
gets the items and errors of that result, and a summary of the rows the child wrote (e.g. one per site
crawled). A child stopped before it sent a result is counted from its rows; a configured program reports
through $NPSWATCH_RESULT_FILE (`{"items": N}`) or an `items: N` line. Nothing is read from npswatch's own
printed text.

>>> from npswatch.config import Settings
>>> from npswatch.schedules import catalogue
>>> s = Settings(schedules=[{"job": "crawl", "source": "fixture-shop", "every": "6h"}])
>>> command_line(catalogue(s)[0], s)[3:]
['crawl', 'fixture-shop']
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import IO

from sqlalchemy import Engine, select, update

from npswatch.storage.runs import PARENT_ENV, T_RUN, finish_run, run_record

from npswatch.config import Settings, parse_duration
from npswatch.lock import DatabaseLock, slug
from npswatch.schedules import JOB_RUN_KIND, Job, human_duration

from .logs import SecretMasker, masker_for

__all__ = ["RunResult", "Runner", "command_line", "display_command", "recover_interrupted", "spawn", "stop_child"]

log = logging.getLogger("npswatch.jobs")

# A configured program (`command` job) reports its count by writing {"items": N, "errors": E} to the file
# $NPSWATCH_RESULT_FILE names, or, for programs that cannot, by printing a line `items: N`. npswatch's own jobs
# always send their result object (`npswatch.results`) as JSON through `--result-file`.
COMMAND_ITEMS_LINE = re.compile(r"\bitems\s*[=:]\s*(\d+)", re.I)
FX_SETTLE_SECONDS = 5.0  # an inbox file changed more recently may still be being written: next time
_PDEATHSIG = (
    # Runs first in the child: ask Linux for SIGTERM when the parent dies (prctl PR_SET_PDEATHSIG = 1), give
    # up if it already has, then become the real command. Survives exec.
    "import ctypes, os, signal, sys\n"
    "ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)\n"
    "if os.getppid() != int(sys.argv[1]): sys.exit(143)\n"
    "os.execvp(sys.argv[2], sys.argv[2:])\n"
)


def cli_prefix(settings: Settings) -> list[str]:
    """How a child runs npswatch: this interpreter, this config file (the environment is inherited)."""
    argv = [sys.executable, "-m", "npswatch"]
    if settings.path is not None:
        argv += ["--config", str(settings.path)]
    return argv


def command_line(job: Job, settings: Settings, *, fx_file: Path | None = None,
                 result_file: Path | None = None) -> list[str]:
    """The child's argv for one run of `job` (for `fx`, one rate file of the inbox); an npswatch child writes its
    result as JSON to `result_file`."""
    p, args = cli_prefix(settings), list(job.args)
    if result_file is not None and job.kind != "command":
        p += ["--result-file", str(result_file)]
    if job.kind == "crawl":
        return p + ["crawl", *([job.source] if job.source else ["--all"]), *args]
    if job.kind == "backfill":
        return p + ["telegram", "backfill", *(["--channel", job.source] if job.source else []), *args]
    if job.kind == "metrics":
        return p + ["telegram", "sample", *(["--channel", job.source] if job.source else []), *args]
    if job.kind == "digest":
        return p + ["digest", *(args or (["--send"] if settings.digest.recipients else []))]
    if job.kind == "retention":
        return p + ["retention", "apply", *args]
    if job.kind == "extract-pending":
        return p + ["extract-pending", *args]
    if job.kind == "fx":
        if fx_file is None:
            raise ValueError("the fx job runs once per file: give fx_file")
        return p + ["fx", "import", str(fx_file)]
    if job.kind == "command":
        return [*(job.command or ()), *args]
    raise ValueError(f"unknown job kind {job.kind!r}")


def display_command(argv: list[str], settings: Settings) -> str:
    """`npswatch crawl x` rather than `/path/to/python -m scheduler --config /etc/... crawl x`."""
    prefix = cli_prefix(settings)
    if argv[:len(prefix)] != prefix:
        return " ".join(argv)
    rest = argv[len(prefix):]
    if rest[:1] == ["--result-file"]:
        rest = rest[2:]
    return " ".join(["npswatch", *rest])


# --- child processes ----------------------------------------------------------------------------------------
@dataclass
class Child:
    proc: subprocess.Popen
    pump: threading.Thread
    tail: deque


def spawn(argv: list[str], out: IO[str], masker: SecretMasker, *, env: dict | None = None) -> Child:
    """Start `argv` in its own session, output (masked) appended to `out`, the last lines kept."""
    if sys.platform.startswith("linux"):
        argv = [sys.executable, "-c", _PDEATHSIG, str(os.getpid()), *argv]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True,
                            env={**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "160", **(env or {})})
    tail: deque = deque(maxlen=30)

    def pump() -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            line = masker.mask(raw.decode("utf-8", "replace"))
            try:
                out.write(line)
                out.flush()
            except (OSError, ValueError):
                pass
            tail.append(line.rstrip())
        proc.stdout.close()

    t = threading.Thread(target=pump, name=f"pump-{proc.pid}", daemon=True)
    t.start()
    return Child(proc, t, tail)


def stop_child(proc: subprocess.Popen, kill_after: float) -> int:
    """SIGTERM to the child's process group, SIGKILL after `kill_after` seconds; its exit code."""
    for sig, wait in ((signal.SIGTERM, kill_after), (signal.SIGKILL, 10.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


# --- runs ---------------------------------------------------------------------------------------------------
@dataclass
class RunResult:
    job: str
    run_id: int | None
    status: str  # ok | failed | skipped
    items: int = 0
    errors: int = 0
    message: str = ""
    log_path: Path | None = None
    duration: float = 0.0
    exit_code: int | None = None


@dataclass
class _Outcome:
    exit_code: int | None = None
    reason: str | None = None  # why the runner stopped it: time limit, service stopped
    tail: list[str] = field(default_factory=list)  # the last lines of output (for messages only)
    result: dict | None = None  # what the child sent back (`npswatch.results` as JSON), None if nothing


def _last_line(lines: Iterable[str]) -> str:
    for line in reversed(list(lines)):
        if line.strip() and not line.lstrip().startswith(("Traceback", "File ")):
            return line.strip()[:500]
    return ""


def _items_line(lines: Iterable[str]) -> int:
    """A configured program's `items: N` line (the last one printed wins)."""
    total = 0
    for line in lines:
        m = COMMAND_ITEMS_LINE.search(line.strip())
        if m:
            total = int(m.group(1))
    return total


def read_result(path: Path) -> dict | None:
    """The result a child wrote (and remove the file), or None if it wrote none (it died, or never got there)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    finally:
        path.unlink(missing_ok=True)
    return data if isinstance(data, dict) else None


def _set_message(engine: Engine, run_id: int, message: str) -> None:
    with engine.begin() as c:
        c.execute(update(T_RUN).where(T_RUN.c.id == run_id).values(message=message[:2000]))


def _mark_children(engine: Engine, parent_id: int, message: str) -> int:
    """Mark the rows the job run's children left `running` failed: its own children (their `parent_id`), never
    the rows of a job that ran beside it."""
    cond = (T_RUN.c.parent_id == parent_id) & (T_RUN.c.status == "running")
    with engine.begin() as c:
        return c.execute(update(T_RUN).where(cond).values(
            status="failed", finished_at=datetime.now(timezone.utc), message=message)).rowcount or 0




def _interrupt(engine: Engine, row, message: str) -> None:
    _mark_children(engine, row.id, f"{message} (job {row.source}, run {row.id})")
    finish_run(engine, row.id, status="failed", message=message)


def recover_interrupted(engine: Engine, only: str | None = None, *, locked: bool = False) -> list[str]:
    """Mark the job runs a dead process left `running` as failed ("interrupted: process died"), with the rows
    their children left running. A run whose job lock a live process holds is left alone; `locked=True`
    says the caller holds the lock of `only`. Returns the names of the jobs recovered."""
    q = select(T_RUN.c.id, T_RUN.c.source, T_RUN.c.started_at, T_RUN.c.message).where(
        T_RUN.c.kind == JOB_RUN_KIND, T_RUN.c.status == "running").order_by(T_RUN.c.id)
    if only is not None:
        q = q.where(T_RUN.c.source == only)
    with engine.connect() as c:
        rows = c.execute(q).all()
    by_name: dict[str, list] = {}
    for r in rows:
        by_name.setdefault(r.source or "", []).append(r)
    recovered = []
    for name, runs in by_name.items():
        lock = None
        if not locked:
            lock = DatabaseLock(engine, f"job:{name}")
            if not lock.acquire(0):
                continue  # a live `npswatch jobs run` or scheduler runs it
        try:
            for r in runs:
                _interrupt(engine, r, "interrupted: process died")
                log.warning("job %s: run %s was interrupted (its process died); marked failed", name, r.id,
                            extra={"job": name, "run_id": r.id, "status": "failed"})
            recovered.append(name)
        finally:
            if lock is not None:
                lock.release()
    return recovered


class Runner:
    """Runs jobs: one child process each (the fx job: one per inbox file), recorded as `crawl_run` rows."""

    def __init__(self, engine: Engine, settings: Settings, *, masker: SecretMasker | None = None,
                 terminate: threading.Event | None = None, stop_reason: str = "interrupted: service stopped") -> None:
        self.engine = engine
        self.stop_reason = stop_reason
        self.settings = settings
        self.masker = masker or masker_for(settings)
        self.terminate = terminate or threading.Event()  # set: stop running children now
        self.kill_after = parse_duration(settings.service.kill_after)
        self.log_dir = settings.data_path / "logs" / "jobs"

    def run(self, job: Job) -> RunResult:
        lock = DatabaseLock(self.engine, f"job:{job.name}")
        if not lock.acquire(timeout=2.0):
            holder = lock.holder() or "another process"
            log.warning("job %s is still running (%s): this run is skipped", job.name, holder,
                        extra={"job": job.name, "kind": job.kind, "status": "skipped"})
            return RunResult(job.name, None, "skipped", message=f"already running ({holder})")
        try:
            recover_interrupted(self.engine, job.name, locked=True)
            return self._run(job)
        finally:
            lock.release()

    def _run(self, job: Job) -> RunResult:
        engine = self.engine
        with run_record(engine, JOB_RUN_KIND, job.name, error_message=lambda e: f"runner error: {e!r}") as run:
            run_id = run.id
            with engine.connect() as c:
                started_at = c.execute(select(T_RUN.c.started_at).where(T_RUN.c.id == run_id)).scalar()
            self.log_dir.mkdir(parents=True, exist_ok=True)
            log_path = self.log_dir / f"{slug(job.name)}-{run_id}.log"
            ctx = {"job": job.name, "kind": job.kind, "source": job.source, "run_id": run_id}
            t0 = time.monotonic()
            fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                if job.kind == "fx":
                    _set_message(engine, run_id, f"running fx: files of {self._inbox()}")
                    log.info("job %s started", job.name, extra=ctx)
                    status, items, errors, message, code = self._fx(job, run_id, out)
                else:
                    result_path = self._result_path(job, run_id)
                    argv = command_line(job, self.settings, result_file=result_path)
                    _set_message(engine, run_id, f"running {job.kind}: {self._display(argv)}")
                    log.info("job %s started", job.name, extra=ctx)
                    outcome = self._child(job, argv, out, result_path=result_path, run_id=run_id)
                    status, items, errors, message, code = self._conclude(job, run_id, started_at, outcome)
            duration = time.monotonic() - t0
            message = self.masker.mask(message)
            run.status, run.items, run.errors, run.message = status, items, errors, message
        level = logging.INFO if status == "ok" else logging.WARNING
        log.log(level, "job %s %s in %s: %s", job.name, status, human_duration(duration), message,
                extra={**ctx, "status": status, "items": items, "errors": errors, "duration": round(duration, 3),
                       "exit_code": code})
        return RunResult(job.name, run_id, status, items, errors, message, log_path, duration, code)

    def _result_path(self, job: Job, run_id: int, n: int | None = None) -> Path:
        return self.log_dir / f"{slug(job.name)}-{run_id}{'' if n is None else f'-{n}'}.result.json"

    def _display(self, argv: list[str]) -> str:
        return self.masker.mask(display_command(argv, self.settings))

    # -- one child ----------------------------------------------------------------------------------------
    def _child(self, job: Job, argv: list[str], out: IO[str], deadline: float | None = None, *,
               result_path: Path, run_id: int | None = None) -> _Outcome:
        out.write(f"$ {self._display(argv)}\n")
        out.flush()
        result_path.unlink(missing_ok=True)
        # The child's own run rows name this job run as their parent (storage.runs.PARENT_ENV).
        env = {"NPSWATCH_JOB": job.name, "NPSWATCH_RESULT_FILE": str(result_path),
               **({PARENT_ENV: str(run_id)} if run_id is not None else {})}
        child = spawn(argv, out, self.masker, env=env)
        deadline = deadline if deadline is not None else time.monotonic() + job.time_limit
        reason = None
        while True:
            try:
                code = child.proc.wait(timeout=0.2)
                break
            except subprocess.TimeoutExpired:
                pass
            if time.monotonic() >= deadline:
                reason = f"time limit {human_duration(job.time_limit)} exceeded: stopped"
            elif self.terminate.is_set():
                reason = self.stop_reason
            if reason:
                log.warning("job %s: %s (pid %s)", job.name, reason, child.proc.pid,
                            extra={"job": job.name, "pid": child.proc.pid})
                code = stop_child(child.proc, self.kill_after)
                break
        child.pump.join(timeout=10)
        out.write(f"# exit {code}" + (f" ({reason})" if reason else "") + "\n")
        return _Outcome(code, reason, list(child.tail), read_result(result_path))

    def _conclude(self, job: Job, run_id: int, started_at, o: _Outcome) -> tuple[str, int, int, str, int | None]:
        """Status, items, errors and message of a run from the result the child sent back, the rows it wrote
        (what is left when it was stopped before sending one) and its exit."""
        ok = o.exit_code == 0 and o.reason is None
        if o.reason is None and o.exit_code != 0:
            why = f"exit {o.exit_code}: {_last_line(o.tail) or 'no output'}"
        else:
            why = o.reason or ""
        if job.child_kinds:
            _mark_children(self.engine, run_id,
                           why or f"the job's process ended (exit {o.exit_code}) before this run was finished")
            with self.engine.connect() as c:
                rows = c.execute(select(T_RUN.c.kind, T_RUN.c.source, T_RUN.c.status, T_RUN.c["items"], T_RUN.c.errors)
                                 .where(T_RUN.c.parent_id == run_id).order_by(T_RUN.c.id)).all()
            items, errors = sum(r.items for r in rows), sum(r.errors for r in rows)
            if o.result is not None:
                items, errors = int(o.result.get("items", 0)), int(o.result.get("errors", 0))
            parts = [f"{r.source or r.kind} {r.status} ({r.items} items"
                     + (f", {r.errors} errors)" if r.errors else ")") for r in rows[:10]]
            more = f", +{len(rows) - 10} more" if len(rows) > 10 else ""
            summary = (", ".join(parts) + more) if rows else "no runs recorded"
            message = summary if ok else f"{why}; {summary}"
            return ("ok" if ok else "failed"), items, errors, message, o.exit_code
        if o.result is not None:
            items, errors = int(o.result.get("items", 0)), int(o.result.get("errors", 0))
        else:
            items, errors = (_items_line(o.tail) if job.kind == "command" else 0), 0
        message = (_last_line(o.tail) or "done") if ok else why
        return ("ok" if ok else "failed"), items, (errors if ok else max(errors, 1)), message, o.exit_code

    # -- fx inbox ---------------------------------------------------------------------------------------
    def _inbox(self) -> Path:
        p = Path(self.settings.service.fx_inbox).expanduser()
        return p if p.is_absolute() else self.settings.data_path / p

    def _fx(self, job: Job, run_id: int, out: IO[str]) -> tuple[str, int, int, str, int | None]:
        """Import each settled file of the inbox in a child of its own; move it to done/ or failed/."""
        inbox = self._inbox()
        inbox.mkdir(parents=True, exist_ok=True)
        now = time.time()
        files = sorted(p for p in inbox.iterdir()
                       if p.is_file() and not p.name.startswith(".") and not p.name.endswith((".part", ".tmp"))
                       and now - p.stat().st_mtime >= FX_SETTLE_SECONDS)
        if not files:
            return "ok", 0, 0, f"no rate files in {inbox}", 0
        deadline = time.monotonic() + job.time_limit
        items, done, bad, code = 0, [], [], 0
        for n, f in enumerate(files):
            result_path = self._result_path(job, run_id, n)
            o = self._child(job, command_line(job, self.settings, fx_file=f, result_file=result_path), out, deadline,
                            result_path=result_path, run_id=run_id)
            code = o.exit_code
            if o.reason:  # time limit or shutdown: the file stays for the next run
                message = f"{o.reason}; imported {len(done)} of {len(files)} files"
                return "failed", items, len(bad) + 1, message, code
            if o.exit_code == 0:
                items += int((o.result or {}).get("items", 0))
                done.append(_move(f, inbox / "done"))
            else:
                bad.append(f"{f.name}: {_last_line(o.tail) or f'exit {o.exit_code}'}")
                _move(f, inbox / "failed")
        message = f"{len(done)} files imported ({items} rates)"
        if bad:
            message += f"; {len(bad)} moved to {inbox / 'failed'}: " + "; ".join(bad)
        return ("failed" if bad else "ok"), items, len(bad), message, code


def _move(path: Path, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / path.name
    if target.exists():
        target = folder / f"{path.stem}.{datetime.now(timezone.utc):%Y%m%dT%H%M%S%f}{path.suffix}"
    shutil.move(str(path), target)
    return target
