"""One scheduler per database: a second one is refused, on SQLite (lock file) and PostgreSQL (advisory lock)."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from npswatch.watch import Watch
from npswatch.lock import DatabaseLock
from npswatch.scheduler.service import AlreadyRunning, Service
from npswatch.storage.db import upgrade

PY = sys.executable


def make_app(tmp, url: str | None = None) -> Watch:
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "npswatch.toml"
    db = f'[database]\nurl = "{url}"\n' if url else ""
    cfg.write_text(f'data_dir = "data"\n{db}\n[[schedules]]\njob = "retention"\nevery = "1h"\n', encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    return app


def test_a_second_scheduler_on_sqlite_is_refused_with_a_clear_message(tmp_path):
    app = make_app(tmp_path)
    first = Service(app)
    first.start()
    try:
        with pytest.raises(AlreadyRunning, match=rf"already running .* \(pid {os.getpid()} on "):
            Service(Watch(app.config_path)).start()
        # and from the command line: exit code 3, the holder and the lock file named
        r = subprocess.run([PY, "-m", "npswatch", "--config", app.config_path, "run"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 3, r.stderr
        assert "another npswatch scheduler is already running" in r.stderr
        assert f"pid {os.getpid()}" in r.stderr and "npswatch.db.locks" in r.stderr
    finally:
        first.stop()
    # released on stop: the next one starts
    again = Service(Watch(app.config_path))
    again.start()
    again.stop()


def test_the_lock_file_lock_is_per_database_and_dies_with_its_holder(tmp_path):
    a = make_app(tmp_path / "a")
    b = make_app(tmp_path / "b")
    la, lb = DatabaseLock(a.engine, "scheduler"), DatabaseLock(b.engine, "scheduler")
    assert la.acquire() and lb.acquire()  # two databases, two schedulers
    la.release()
    lb.release()
    # a holder killed outright leaves no stale lock behind
    code = ("import sys, time; from sqlalchemy import create_engine; from npswatch.lock import DatabaseLock; "
            "l = DatabaseLock(create_engine(sys.argv[1]), 'scheduler'); assert l.acquire(); print('held', flush=True); "
            "time.sleep(60)")
    p = subprocess.Popen([PY, "-c", code, a.settings.database_url], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "held"
        assert not DatabaseLock(a.engine, "scheduler").acquire()
        assert "pid" in DatabaseLock(a.engine, "scheduler").holder()
    finally:
        p.kill()
        p.wait()
    assert DatabaseLock(a.engine, "scheduler").holder() is None
    assert DatabaseLock(a.engine, "scheduler").acquire()


@pytest.mark.postgres
def test_a_second_scheduler_on_postgresql_is_refused(pg_url, tmp_path):
    app = make_app(tmp_path, pg_url)
    first = Service(app)
    first.start()
    try:
        with pytest.raises(AlreadyRunning, match=rf"npswatch scheduler pid {os.getpid()} on "):
            Service(Watch(app.config_path)).start()
        assert first.lock.alive()
    finally:
        first.stop()
    assert DatabaseLock(app.engine, "scheduler").holder() is None
    again = Service(Watch(app.config_path))
    again.start()
    again.stop()
    app.engine.dispose()
