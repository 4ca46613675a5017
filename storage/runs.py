"""Job history (`crawl_run`): one row per unit of work, recorded with `run_record`; kept alive by a heartbeat.

`with run_record(engine, "crawl", source=site) as run:` starts a `running` row; leaving the block finishes it
`ok` (or `run.status`) with `run.items`, `run.errors` and `run.message`; an exception finishes it `failed`
with `error_message(exc)` (default `repr`) as message and goes on. `npswatch status` and the scheduler read
these rows. `start_run`/`finish_run` are the two halves, for a row whose end is decided elsewhere. `past_run` records a
unit of work done elsewhere at a known time (a snapshot another scraper took), once.

A run row carries the host and process id that run it and a heartbeat (`heartbeat_at`): every run a process
starts is renewed by one daemon thread of that process (every `NPSWATCH_HEARTBEAT_SECONDS`, default 30) until
it is finished, so a crawl, a listener or an import all keep theirs without doing anything; `Heartbeat`
and `beat()` renew given rows by hand. A `running` row whose heartbeat is older than the
configured limit belongs to a process that died (kill -9, a lost machine): `mark_stale()` turns it
`interrupted`, whatever host runs the next command; `stale_runs()` lists them without changing anything.
A child process started by a scheduler job gets the job's run id in `NPSWATCH_PARENT_RUN`; every run it
starts records it as `parent_id`, so a job counts its own children and no one else's.
"""
from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, and_, func, insert, or_, select, update

from .tables import T_RUN

__all__ = ["start_run", "finish_run", "run_record", "RunRecord", "beat", "Heartbeat", "mark_stale", "stale_runs",
           "PARENT_ENV", "past_run"]

PARENT_ENV = "NPSWATCH_PARENT_RUN"
BEAT_ENV = "NPSWATCH_HEARTBEAT_SECONDS"

_live: dict[tuple[int, int], Engine] = {}  # (engine, run id) this process started and has not finished
_live_lock = threading.Lock()
_beater: threading.Thread | None = None


def _beat_every() -> float:
    try:
        return max(0.05, float(os.environ.get(BEAT_ENV, "30")))
    except ValueError:
        return 30.0


def _beat_loop() -> None:
    while True:
        time.sleep(_beat_every())
        with _live_lock:
            by_engine: dict[int, tuple[Engine, list[int]]] = {}
            for (key, rid), eng in _live.items():
                by_engine.setdefault(key, (eng, []))[1].append(rid)
        for eng, ids in by_engine.values():
            try:
                beat(eng, *ids)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one may get through
                pass


def _keep_alive(engine: Engine, run_id: int) -> None:
    global _beater
    with _live_lock:
        _live[(id(engine), run_id)] = engine
        if _beater is None or not _beater.is_alive():
            _beater = threading.Thread(target=_beat_loop, name="npswatch-run-heartbeat", daemon=True)
            _beater.start()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _parent_from_env() -> int | None:
    v = os.environ.get(PARENT_ENV, "").strip()
    return int(v) if v.isdigit() else None


def start_run(engine: Engine, kind: str, source: str | None = None, *, parent_id: int | None = None) -> int:
    """A `running` row for this process (kept alive by the process heartbeat until `finish_run`)."""
    now = _now()
    with engine.begin() as c:
        rid = c.execute(
            insert(T_RUN).values(kind=kind, source=source, started_at=now, status="running", items=0, errors=0,
                                 host=socket.gethostname()[:255], pid=os.getpid(), heartbeat_at=now,
                                 parent_id=parent_id if parent_id is not None else _parent_from_env())
            .returning(T_RUN.c.id)
        ).scalar_one()
    _keep_alive(engine, rid)
    return rid


def finish_run(engine: Engine, run_id: int, *, status: str = "ok", items: int = 0, errors: int = 0,
               message: str | None = None) -> None:
    with _live_lock:
        _live.pop((id(engine), run_id), None)
    with engine.begin() as c:
        c.execute(update(T_RUN).where(T_RUN.c.id == run_id).values(
            finished_at=_now(), status=status, items=items, errors=errors,
            message=(message or None) and message[:2000]))


def past_run(engine: Engine, kind: str, source: str, at: datetime, *, parent_id: int | None = None,
             message: str | None = None) -> tuple[int, bool]:
    """(id, made now) of the finished row of a `kind` run of `source` that happened at `at`; the same three
    again give the same row (an import run twice records each snapshot once)."""
    c = T_RUN.c
    with engine.begin() as conn:
        rid = conn.execute(select(c.id).where(c.kind == kind, c.source == source, c.started_at == at)
                           .order_by(c.id).limit(1)).scalar()
        if rid is not None:
            return rid, False
        return conn.execute(insert(T_RUN).values(kind=kind, source=source, started_at=at, finished_at=at, status="ok",
                                                 items=0, errors=0, message=message, parent_id=parent_id)
                            .returning(c.id)).scalar_one(), True


def beat(engine: Engine, *run_ids: int) -> None:
    """Renew the heartbeat of running rows (a finished or interrupted row is left as it is)."""
    if run_ids:
        with engine.begin() as c:
            c.execute(update(T_RUN).where(T_RUN.c.id.in_(run_ids), T_RUN.c.status == "running")
                      .values(heartbeat_at=_now()))


class Heartbeat:
    """`with Heartbeat(engine, run_id, every=30):` renews the run's heartbeat from a daemon thread while the
    block runs (a long crawl or a listener). A failed beat (database briefly away) is retried next time."""

    def __init__(self, engine: Engine, *run_ids: int, every: float = 30.0) -> None:
        self.engine, self.run_ids, self.every = engine, list(run_ids), every
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                beat(self.engine, *self.run_ids)
            except Exception:  # noqa: BLE001 - a missed beat is harmless; the next one may get through
                pass

    def __enter__(self) -> "Heartbeat":
        self._thread = threading.Thread(target=self._loop, name="npswatch-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)


def _stale_condition(older_than: timedelta, now: datetime):
    cutoff = now - older_than
    c = T_RUN.c
    return and_(c.status == "running",
                or_(c.heartbeat_at < cutoff, and_(c.heartbeat_at.is_(None), c.started_at < cutoff)))


def stale_runs(engine: Engine, older_than: timedelta, now: datetime | None = None) -> list:
    """Running rows whose process has not shown it is alive for `older_than` (id, kind, source, host, pid,
    heartbeat_at)."""
    c = T_RUN.c
    with engine.connect() as conn:
        return conn.execute(select(c.id, c.kind, c.source, c.host, c.pid, func.coalesce(c.heartbeat_at, c.started_at))
                            .where(_stale_condition(older_than, now or _now())).order_by(c.id)).all()


def mark_stale(engine: Engine, older_than: timedelta, now: datetime | None = None) -> list[int]:
    """Mark stale running rows `interrupted`; returns their ids."""
    now = now or _now()
    rows = stale_runs(engine, older_than, now)
    if not rows:
        return []
    ids = [r[0] for r in rows]
    with engine.begin() as conn:
        for rid, _kind, _source, host, pid, last in rows:
            conn.execute(update(T_RUN).where(T_RUN.c.id == rid, _stale_condition(older_than, now)).values(
                status="interrupted", finished_at=now,
                message=f"interrupted: no heartbeat since {last:%Y-%m-%d %H:%M:%S} (process {pid} on {host})"
                if last is not None else "interrupted: no heartbeat"))
    return ids


@dataclass
class RunRecord:
    id: int
    kind: str
    source: str | None
    status: str = "ok"
    items: int = 0
    errors: int = 0
    message: str | None = None


@contextmanager
def run_record(engine: Engine, kind: str, source: str | None = None, *,
               error_message: Callable[[BaseException], str] = repr) -> Iterator[RunRecord]:
    """Start a run row, yield it, finish it with what the block set (failed on an exception)."""
    record = RunRecord(start_run(engine, kind, source), kind, source)
    try:
        yield record
    except BaseException as exc:
        finish_run(engine, record.id, status="failed", items=record.items, errors=record.errors,
                   message=error_message(exc))
        raise
    finish_run(engine, record.id, status=record.status, items=record.items, errors=record.errors,
               message=record.message)


def login_expired(engine: Engine, since: datetime, until: datetime) -> list[str]:
    """Sites whose newest crawl in [since, until) stopped because the login had expired, sorted."""
    q = (select(T_RUN.c.source, T_RUN.c.message).where(T_RUN.c.kind == "crawl", T_RUN.c.started_at >= since,
                                                       T_RUN.c.started_at < until).order_by(T_RUN.c.id))
    newest: dict[str, str] = {}
    with engine.connect() as c:
        for source, message in c.execute(q):
            if source:
                newest[source] = message or ""
    return sorted(s for s, m in newest.items() if f"login expired for {s}" in m)
