"""A run row carries host, pid and a heartbeat; a running row whose heartbeat is older than the limit is stale
and the next command marks it interrupted (on SQLite and PostgreSQL); a live heartbeat keeps a run running."""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime, timedelta, timezone

from sqlalchemy import select, update

from npswatch.storage.runs import PARENT_ENV, Heartbeat, finish_run, mark_stale, stale_runs, start_run
from npswatch.storage.tables import T_RUN


def _row(engine, rid):
    with engine.connect() as c:
        return c.execute(select(T_RUN).where(T_RUN.c.id == rid)).mappings().one()


def test_a_run_row_says_where_it_runs_and_whose_child_it_is(engine, monkeypatch):
    job = start_run(engine, "job", "crawl-shop")
    monkeypatch.setenv(PARENT_ENV, str(job))  # what the scheduler gives its child process
    child = start_run(engine, "crawl", "synthetic-shop")
    r = _row(engine, child)
    assert r["host"] == socket.gethostname() and r["pid"] == os.getpid() and r["heartbeat_at"] is not None
    assert r["parent_id"] == job and _row(engine, job)["parent_id"] is None


def test_a_run_without_heartbeat_is_marked_interrupted_by_the_next_command(engine):
    dead, alive, done = (start_run(engine, "crawl", s) for s in ("dead-shop", "live-shop", "done-shop"))
    finish_run(engine, done)
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    with engine.begin() as c:
        c.execute(update(T_RUN).where(T_RUN.c.id.in_([dead, done])).values(heartbeat_at=old))
    assert [r[0] for r in stale_runs(engine, timedelta(minutes=10))] == [dead]
    assert mark_stale(engine, timedelta(minutes=10)) == [dead]
    r = _row(engine, dead)
    assert r["status"] == "interrupted" and "no heartbeat since" in r["message"] and r["finished_at"] is not None
    assert _row(engine, alive)["status"] == "running" and _row(engine, done)["status"] == "ok"
    assert mark_stale(engine, timedelta(minutes=10)) == []  # once


def test_a_heartbeat_thread_keeps_a_long_run_alive(engine):
    rid = start_run(engine, "listen", "synthetic-channel")
    old = datetime.now(timezone.utc) - timedelta(hours=2)
    with engine.begin() as c:
        c.execute(update(T_RUN).where(T_RUN.c.id == rid).values(heartbeat_at=old))
    with Heartbeat(engine, rid, every=0.05):
        end = time.monotonic() + 10
        while stale_runs(engine, timedelta(minutes=10)) and time.monotonic() < end:
            time.sleep(0.05)
    assert stale_runs(engine, timedelta(minutes=10)) == []
    assert mark_stale(engine, timedelta(minutes=10)) == [] and _row(engine, rid)["status"] == "running"
