"""SIGTERM: the service stops taking jobs, lets the running one finish (or stops it after the grace), exits 0."""
from __future__ import annotations

import configparser
import signal
import subprocess
import sys
from pathlib import Path

from sqlalchemy import select

from npswatch.config import Settings, parse_duration
from npswatch.watch import Watch
from npswatch.scheduler.service import Service
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN
from helpers import wait_for

PY = sys.executable
ROOT = Path(__file__).resolve().parents[1]


def job_runs(engine, name):
    with engine.connect() as c:
        return c.execute(select(T_RUN).where(T_RUN.c.kind == "job", T_RUN.c.source == name).order_by(T_RUN.c.id)).all()


def write_config(tmp, code: str, service: str) -> Path:
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n[service]\n{service}\n'
                   f'[[schedules]]\njob = "command"\nname = "work"\nevery = "1s"\ncommand = ["{PY}", "-c", \'{code}\']\n',
                   encoding="utf-8")
    upgrade(Watch(str(cfg)).engine)
    return cfg


def test_sigterm_lets_the_running_job_finish_then_exits_0(tmp_path):
    marks = tmp_path / "marks.txt"
    code = (f'import time; f = open(r"{marks}", "a"); f.write("started\\n"); f.flush(); time.sleep(2); '
            f'f.write("finished\\n"); print("items: 5")')
    cfg = write_config(tmp_path, code, 'shutdown_grace = "30s"\nkill_after = "5s"')
    log = tmp_path / "service.log"
    with open(log, "w") as err:
        proc = subprocess.Popen([PY, "-m", "npswatch", "--config", str(cfg), "run"], stdout=subprocess.DEVNULL,
                                stderr=err)
        try:
            wait_for(lambda: marks.exists() and "started" in marks.read_text())
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert code == 0, log.read_text()
    assert marks.read_text().split() == ["started", "finished"]  # finished, and nothing new started after
    runs = job_runs(Watch(str(cfg)).engine, "work")
    assert [(r.status, r.items) for r in runs] == [("ok", 5)]
    text = log.read_text()
    assert "stopping" in text and "scheduler stopped" in text


def test_a_job_still_running_after_the_grace_is_stopped_and_marked_interrupted(tmp_path):
    pidfile = tmp_path / "child.pid"
    # a child that ignores SIGTERM: the service must escalate to SIGKILL after kill_after
    code = (f'import os, signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); '
            f'open(r"{pidfile}", "w").write(str(os.getpid())); time.sleep(120)')
    cfg = write_config(tmp_path, code, 'shutdown_grace = "1s"\nkill_after = "1s"')
    app = Watch(str(cfg))
    service = Service(app)
    service.start()
    try:
        wait_for(lambda: pidfile.exists() and pidfile.read_text())
    finally:
        service.stop()
    child = int(pidfile.read_text())
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1][:3]
    [run] = job_runs(app.engine, "work")
    assert (run.status, run.message) == ("failed", "interrupted: service stopped")
    assert service.active == []


def test_sigterm_while_the_service_starts_is_a_clean_stop(tmp_path, monkeypatch):
    """SIGTERM is caught from the first line of `start()`: one that lands while the service is still starting
    (here: while it recovers runs, before it takes any job) stops it with exit code 0 and no job run, instead of
    killing it by SIGTERM's default action (-15), which is what happened to a service the kill-points test
    restarted and stopped at once; the handlers from before are back afterwards."""
    import os

    import npswatch.scheduler.service as service_module

    marks = tmp_path / "marks.txt"
    cfg = write_config(tmp_path, f'open(r"{marks}", "a").write("ran\\n")', 'shutdown_grace = "5s"')
    recover = service_module.recover_interrupted

    def recover_then_signal(engine):
        os.kill(os.getpid(), signal.SIGTERM)  # before the change: SIGTERM's default action ends pytest here
        return recover(engine)

    monkeypatch.setattr(service_module, "recover_interrupted", recover_then_signal)
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    app = Watch(str(cfg))
    service = Service(app)
    service.start()
    assert service.stop_requested.is_set()
    assert service.serve() == 0  # returns at once: the stop was asked for while starting
    assert not marks.exists() and job_runs(app.engine, "work") == []
    assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)) == before


def test_the_systemd_unit_waits_longer_than_the_service_grace():
    unit = configparser.ConfigParser(strict=False, interpolation=None)
    unit.optionxform = str
    unit.read(ROOT / "deploy" / "npswatch.service")
    svc = unit["Service"]
    # SIGTERM to the service only (its jobs finish within the grace), and time for grace + kill before SIGKILL
    assert svc["KillMode"] == "mixed"
    defaults = Settings().service
    assert parse_duration(svc["TimeoutStopSec"]) > parse_duration(defaults.shutdown_grace) + parse_duration(defaults.kill_after)
    assert svc["RestartPreventExitStatus"] == "3"  # "already running" is not fixed by restarting
    assert svc["ExecStart"].endswith("npswatch run")
