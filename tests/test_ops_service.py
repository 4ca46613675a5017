"""The scheduler service: jobs fire on schedule, a long job never runs twice at once, schedules survive a
restart, and runs missed while the service was down follow the misfire policy (coalesced, within grace)."""
from __future__ import annotations

import os
import sys
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import inspect, select

from npswatch.watch import Watch
from npswatch.scheduler.service import Service
from npswatch.schedules import JOBSTORE_TABLE
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.runs import T_RUN
from helpers import wait_for

PY = sys.executable


def make_app(tmp, schedules: str, service: str = "") -> Watch:
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n[service]\nshutdown_grace = "10s"\nkill_after = "2s"\n{service}\n{schedules}',
                   encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    return app


def job_runs(engine, name):
    with engine.connect() as c:
        return c.execute(select(T_RUN).where(T_RUN.c.kind == "job", T_RUN.c.source == name).order_by(T_RUN.c.id)).all()


def aware(d):
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """One service run with a quick job every second and a slow one (2.2 s) also due every second."""
    tmp = tmp_path_factory.mktemp("svc")
    trace = tmp / "trace.txt"
    app = make_app(tmp, f"""
[[schedules]]
job = "command"
name = "tick"
every = "1s"
command = ["{PY}", "-c", 'print("items: 2")']

[[schedules]]
job = "command"
name = "slow"
every = "1s"
command = ["{PY}", "-c", 'import time; f = open(r"{trace}", "a"); f.write("start\\n"); f.flush(); time.sleep(2.2); f.write("end\\n")']
""")
    service = Service(app)
    service.start()
    try:
        wait_for(lambda: len([r for r in job_runs(app.engine, "slow") if r.status == "ok"]) >= 2, 30)
    finally:
        service.stop()
    return app, trace


def test_jobs_fire_on_schedule_and_every_run_is_recorded(ran):
    app, _ = ran
    ticks = job_runs(app.engine, "tick")
    assert len(ticks) >= 3
    for r in ticks:
        assert (r.kind, r.status, r.items, r.errors) == ("job", "ok", 2, 0)
        assert r.started_at is not None and r.finished_at is not None and r.finished_at >= r.started_at
    starts = [r.started_at for r in ticks]
    assert starts == sorted(starts) and len(set(starts)) == len(starts)


def test_a_long_job_is_not_run_twice_at_once(ran):
    app, trace = ran
    events = trace.read_text().split()
    assert events.count("start") >= 2
    # strictly alternating: a run only ever starts after the previous one ended
    assert all(a != b for a, b in zip(events, events[1:])), events
    slow = [r for r in job_runs(app.engine, "slow") if r.finished_at]
    for before, after in zip(slow, slow[1:]):
        assert aware(after.started_at) >= aware(before.finished_at)
    # it was due every second for > 4 s, but ran only about every 2.2 s: the due runs in between were skipped
    ticks = job_runs(app.engine, "tick")
    assert len(slow) < len(ticks)


def next_runs(service: Service) -> dict:
    return {j.id: j.next_run_time for j in service.scheduler.get_jobs()}


def test_a_schedule_survives_a_restart(tmp_path):
    schedules = """
[[schedules]]
job = "retention"
every = "1h"

[[schedules]]
job = "command"
name = "nightly"
cron = "0 3 * * *"
command = ["true"]
"""
    app = make_app(tmp_path, schedules)
    first = Service(app)
    first.start()
    stored = next_runs(first)
    first.stop()
    assert set(stored) == {"retention", "nightly"}
    assert JOBSTORE_TABLE in inspect(app.engine).get_table_names()

    time.sleep(0.3)  # a recomputed interval schedule would now start 0.3 s later
    second = Service(Watch(app.config_path))
    second.start()
    assert next_runs(second) == stored
    second.stop()

    # a changed schedule is recomputed, a removed one is dropped
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(cfg.read_text().replace('every = "1h"', 'every = "2h"').split("[[schedules]]\njob = \"command\"")[0])
    third = Service(Watch(app.config_path))
    third.start()
    now = next_runs(third)
    third.stop()
    assert set(now) == {"retention"}
    assert now["retention"] - datetime.now(timezone.utc) > timedelta(hours=1, minutes=50)


def _set_next_run(url: str, times: dict) -> None:
    """Move stored next run times into the past, as if the service had been down since then."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler

    engine = make_engine(url)
    sched = BackgroundScheduler(jobstores={"default": SQLAlchemyJobStore(engine=engine, tablename=JOBSTORE_TABLE)},
                                timezone="UTC")
    sched.start(paused=True)
    for job_id, when in times.items():
        sched.modify_job(job_id, next_run_time=when)
    sched.remove_jobstore("default")
    sched.shutdown(wait=False)
    engine.dispose()


def test_runs_missed_while_down_run_once_within_the_misfire_grace(tmp_path):
    app = make_app(tmp_path, f"""
[[schedules]]
job = "command"
name = "hourly"
every = "1h"
command = ["{PY}", "-c", 'print("items: 1")']

[[schedules]]
job = "command"
name = "daily"
every = "1d"
command = ["{PY}", "-c", 'print("items: 1")']
""", service='misfire_grace = "1h"')
    s = Service(app)
    s.start()
    s.stop()
    now = datetime.now(timezone.utc)
    # hourly: down for 3.5 h, four runs missed, the last one 30 min ago (within the grace): runs once.
    # daily: its one missed run was 3 h ago, beyond the 1 h grace: skipped, the schedule goes on.
    _set_next_run(app.settings.database_url, {"hourly": now - timedelta(hours=3, minutes=30),
                                               "daily": now - timedelta(hours=3)})
    s = Service(Watch(app.config_path))
    s.start()
    try:
        wait_for(lambda: [r for r in job_runs(app.engine, "hourly") if r.status == "ok"])
        time.sleep(1.0)
        after = next_runs(s)
    finally:
        s.stop()
    assert len(job_runs(app.engine, "hourly")) == 1
    assert job_runs(app.engine, "daily") == []
    assert after["hourly"] > datetime.now(timezone.utc) and after["daily"] > datetime.now(timezone.utc)


def test_the_live_listener_runs_beside_the_scheduler_and_is_restarted_when_it_exits(tmp_path, caplog):
    app = make_app(tmp_path, "", service="listen = true")
    service = Service(app)
    with caplog.at_level("INFO", logger="npswatch.service"):
        service.start()
        try:
            # nothing to listen to: `npswatch listen` exits with its explanation, the service stays up and retries
            wait_for(lambda: "listener exited with code 2" in caplog.text, 30)
            assert service.scheduler.running
        finally:
            service.stop()
    assert "restarting in 5s" in caplog.text
    assert "no channels to listen to" in (app.settings.data_path / "logs" / "listen.log").read_text()


def test_a_running_listener_is_stopped_with_the_service(tmp_path):
    app = make_app(tmp_path, "", service="listen = true")
    pidfile = tmp_path / "listener.pid"
    service = Service(app)
    service.listener_argv = lambda: [PY, "-c", f'import os, time; open(r"{pidfile}", "w").write(str(os.getpid())); '
                                               f'time.sleep(120)']
    service.start()
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text())
    finally:
        service.stop()
    pid = int(pidfile.read_text())
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # already reaped: it is gone, not left running
    assert not os.path.exists(f"/proc/{pid}") or " Z " in open(f"/proc/{pid}/stat").read()
