"""Recording a unit of work as one `crawl_run` row: `with run_record(engine, "crawl", source=...) as run:`.

The row is `running` from the start; leaving the block finishes it `ok` (or `run.status`) with `run.items`,
`run.errors` and `run.message`; an exception finishes it `failed` with the exception as message and goes on.
`npswatch status` and the scheduler read these rows.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Engine

from npswatch.storage.runs import finish_run, start_run

__all__ = ["RunRecord", "run_record"]


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
               error_message=repr) -> Iterator[RunRecord]:
    """Start a run row, yield it, finish it with what the block set (failed on an exception).

    `error_message(exc)` is the message of a failed run (default `repr`)."""
    record = RunRecord(start_run(engine, kind, source), kind, source)
    try:
        yield record
    except BaseException as exc:
        finish_run(engine, record.id, status="failed", items=record.items, errors=record.errors,
                   message=error_message(exc))
        raise
    finish_run(engine, record.id, status=record.status, items=record.items, errors=record.errors,
               message=record.message)
