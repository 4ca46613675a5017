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


def test_a_killed_process_leaves_a_run_the_next_command_marks_interrupted(tmp_path):
    """kill -9 of a process in the middle of a run: `status` is unhealthy while the run looks alive but beats
    no more; the next command (any host) marks it interrupted."""
    import signal
    import subprocess
    import sys

    from typer.testing import CliRunner

    from npswatch.cli.app import app
    from npswatch.storage.db import make_engine, upgrade

    from helpers import wait_for

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "{"k" * 32}"\n'
                   '[health]\nheartbeat_timeout = "2s"\n', encoding="utf-8")
    db = tmp_path / "data" / "npswatch.db"
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    child = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from npswatch.storage.db import make_engine\n"
        "from npswatch.storage.runs import start_run\n"
        f"start_run(make_engine('sqlite:///{db}'), 'telegram-import', 'result.json')\n"
        "print('started', flush=True)\n"
        "time.sleep(600)\n")], stdout=subprocess.PIPE, text=True,
        env={**os.environ, "NPSWATCH_HEARTBEAT_SECONDS": "0.1"})
    assert child.stdout.readline().strip() == "started"
    rid = wait_for(lambda: _newest(engine))
    child.send_signal(signal.SIGKILL)
    child.wait()
    env = {"NPSWATCH_CONFIG": str(cfg)}
    wait_for(lambda: stale_runs(engine, timedelta(seconds=2)))
    r = CliRunner().invoke(app, ["status"], env=env, terminal_width=300)
    assert r.exit_code == 1 and f"run {rid} (telegram-import result.json)" in r.output and "no heartbeat" in r.output
    assert _row(engine, rid)["status"] == "running"  # status only looks
    r = CliRunner().invoke(app, ["privacy", "rescrub"], env=env, terminal_width=300)  # any other command
    assert r.exit_code == 0, r.output
    assert _row(engine, rid)["status"] == "interrupted"
    r = CliRunner().invoke(app, ["status"], env=env, terminal_width=300)
    assert f"run {rid} " not in r.output


def _newest(engine):
    with engine.connect() as c:
        return c.execute(select(T_RUN.c.id).order_by(T_RUN.c.id.desc())).scalar()
