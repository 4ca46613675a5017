"""Job history (`crawl_run`): one row per unit of work, recorded with `run_record`.

`with run_record(engine, "crawl", source=site) as run:` starts a `running` row; leaving the block finishes it
`ok` (or `run.status`) with `run.items`, `run.errors` and `run.message`; an exception finishes it `failed`
with `error_message(exc)` (default `repr`) as message and goes on. `npswatch status` and the scheduler read
these rows. `start_run`/`finish_run` are the two halves, for a row whose end is decided elsewhere.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, insert, update

from .tables import T_RUN


def start_run(engine: Engine, kind: str, source: str | None = None) -> int:
    with engine.begin() as c:
        return c.execute(
            insert(T_RUN).values(kind=kind, source=source, started_at=datetime.now(timezone.utc), status="running",
                                 items=0, errors=0).returning(T_RUN.c.id)
        ).scalar_one()


def finish_run(engine: Engine, run_id: int, *, status: str = "ok", items: int = 0, errors: int = 0,
               message: str | None = None) -> None:
    with engine.begin() as c:
        c.execute(update(T_RUN).where(T_RUN.c.id == run_id).values(
            finished_at=datetime.now(timezone.utc), status=status, items=items, errors=errors,
            message=(message or None) and message[:2000]))


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
