"""After kill -9 of the service: its job's child is stopped too, the next start marks the interrupted run
failed and runs the job again, and nothing stored is lost. Runs a live process still owns are left alone."""
from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import func, insert, select

from npswatch.pipelines.rawpost import RawPost
from npswatch.watch import Watch
from npswatch.lock import DatabaseLock
from npswatch.scheduler.service import Service
from npswatch.storage import models as m
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN
from npswatch.storage.writer import PostWriter
from helpers import wait_for

PY = sys.executable


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state != "Z"


def rows(engine, **where):
    q = select(T_RUN).order_by(T_RUN.c.id)
    for k, v in where.items():
        q = q.where(T_RUN.c[k] == v)
    with engine.connect() as c:
        return c.execute(q).all()


def test_a_killed_service_recovers(tmp_path, pseudonymiser):
    block, pidfile = tmp_path / "block", tmp_path / "child.pid"
    block.touch()
    cfg = tmp_path / "npswatch.toml"
    code = (f'import os, time; open(r"{pidfile}", "w").write(str(os.getpid())); '
            f'time.sleep(120) if os.path.exists(r"{block}") else print("items: 1")')
    cfg.write_text(f'data_dir = "data"\n[service]\nshutdown_grace = "5s"\nkill_after = "2s"\n'
                   f'[[schedules]]\njob = "command"\nname = "work"\nevery = "2s"\ncommand = ["{PY}", "-c", \'{code}\']\n',
                   encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    posts = [RawPost(source="synthetic-shop", external_id=str(i), text=f"synthetic listing {i}",
                     posted_at=datetime(2026, 3, 1, tzinfo=timezone.utc)) for i in range(3)]
    PostWriter(app.engine, pseudonymiser).write(posts)

    proc = subprocess.Popen([PY, "-m", "npswatch", "--config", str(cfg), "run"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text())
        child = int(pidfile.read_text())
        assert rows(app.engine, kind="job", source="work")[-1].status == "running"
    finally:
        proc.kill()  # kill -9: no clean-up of any kind
        proc.wait()
    # the kernel told the job's child its parent died (SIGTERM): no orphan keeps running
    wait_for(lambda: not alive(child), 10)
    interrupted = rows(app.engine, kind="job", source="work")[-1]
    assert interrupted.status == "running"  # nobody could mark it

    block.unlink()  # the job now finishes at once
    service = Service(Watch(str(cfg)))
    service.start()
    try:
        # the interrupted job runs again at once, without waiting for its next time
        wait_for(lambda: [r for r in rows(app.engine, kind="job", source="work") if r.status == "ok"], 15)
    finally:
        service.stop()
    after = {r.id: r for r in rows(app.engine, kind="job", source="work")}
    assert after[interrupted.id].status == "failed"
    assert after[interrupted.id].message == "interrupted: process died"
    assert after[interrupted.id].finished_at is not None
    with app.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.Post.__table__)).scalar() == 3
        assert sorted(c.execute(select(m.Post.__table__.c.text)).scalars()) == sorted(p.text for p in posts)


def _job_row(engine, name: str, message: str) -> int:
    with engine.begin() as c:
        return c.execute(insert(T_RUN).values(kind="job", source=name, status="running", items=0, errors=0,
                                              started_at=datetime.now(timezone.utc), message=message)
                         .returning(T_RUN.c.id)).scalar_one()


def test_start_marks_the_rows_a_dead_jobs_child_left_running_but_not_a_live_ones(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n', encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    engine = app.engine
    dead = _job_row(engine, "crawl", "running crawl: npswatch crawl --all")
    with engine.begin() as c:  # the crawl child's own per-site rows
        for site in ("synthetic-a", "synthetic-b"):
            c.execute(insert(T_RUN).values(kind="crawl", source=site, status="running", items=0, errors=0, parent_id=dead,
                                           started_at=datetime.now(timezone.utc)))
    live = _job_row(engine, "digest", "running digest: npswatch digest")
    held = DatabaseLock(engine, "job:digest")
    assert held.acquire()  # e.g. `npswatch jobs run digest` in another terminal
    try:
        service = Service(Watch(str(cfg)))
        service.start()
        service.stop()
        by_id = {r.id: r for r in rows(engine)}
        assert (by_id[dead].status, by_id[dead].message) == ("failed", "interrupted: process died")
        crawls = rows(engine, kind="crawl")
        assert [r.status for r in crawls] == ["failed", "failed"]
        assert all("interrupted: process died (job crawl" in r.message for r in crawls)
        assert by_id[live].status == "running"  # its process is alive: not ours to judge
    finally:
        held.release()
