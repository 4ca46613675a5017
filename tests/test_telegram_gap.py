"""Gap repair: `npswatch listen` is SIGKILLed after N live messages, M more are published while it is down
(their live updates are lost, as Telethon's stream loses them), and after a restart the reconcile from the
checkpoint stores exactly N + M posts, none twice."""
from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time

from sqlalchemy import func, select

from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade

from offline_telegram import logged_in, offline_network, telegram_config

N, M = 20, 15
P, V, CP = m.Post.__table__, m.PostVersion.__table__, m.Checkpoint.__table__


def wait_for(cond, what, proc, log, timeout=60.0):
    end = time.monotonic() + timeout
    while not cond():
        if proc.poll() is not None:
            raise AssertionError(f"listener exited ({proc.returncode}) before {what}:\n{log.read_text()}")
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}:\n{log.read_text()}")
        time.sleep(0.05)


def test_sigkill_then_restart_stores_exactly_n_plus_m(tmp_path, monkeypatch):
    net = offline_network(tmp_path, monkeypatch)
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    cfg = telegram_config(tmp_path, ["synthetic_channel_01"], extra='log_level = "INFO"\n',
                          telegram="flush_seconds = 0.05\n")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)

    async def log_in():
        client = await logged_in(cfg)
        await client.disconnect()

    asyncio.run(log_in())

    def count(table=P):
        with engine.connect() as c:
            return c.execute(select(func.count()).select_from(table)).scalar_one()

    def start(log):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        return subprocess.Popen(
            [sys.executable, "-m", "npswatch.cli.offline", str(net.path), "--", "--config", str(cfg),
             "listen", "--no-extract"],
            cwd=tmp_path, env=env, stdout=subprocess.DEVNULL, stderr=log.open("w"))

    log1, log2 = tmp_path / "listen-1.log", tmp_path / "listen-2.log"
    proc = start(log1)
    try:
        wait_for(lambda: "listening to 1 channels" in log1.read_text(), "the listener to start", proc, log1)
        for i in range(N):
            net.publish("synthetic_channel_01", f"synthetic live post {i}")
        wait_for(lambda: count() == N, f"{N} live posts", proc, log1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert count() == N and count(CP) == 0  # live messages never move the checkpoint

    for i in range(M):  # published while nobody listens: their live updates are gone for good
        net.publish("synthetic_channel_01", f"synthetic post while down {i}")

    proc = start(log2)
    try:
        wait_for(lambda: f"{N + M} messages read" in log2.read_text(), "the reconcile", proc, log2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log2.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()

    with engine.connect() as c:
        ids = sorted(int(x) for x in c.execute(select(P.c.external_id)).scalars())
        versions = set(c.execute(select(P.c.version)).scalars())
        checkpoint = c.execute(select(CP.c.last_message_id)).scalar_one()
    assert ids == list(range(1, N + M + 1))  # exactly N + M, none twice
    assert versions == {1} and count(V) == 0  # re-reading the N live ones changed nothing
    assert checkpoint == N + M


def test_edit_and_delete_while_down_are_recorded_after_sigkill(tmp_path, monkeypatch):
    """Killed with SIGKILL; while it is down a post is edited and another deleted (no live updates reach
    anyone); the restart's re-read of the last days stores the edit as a version and marks the deletion."""
    net = offline_network(tmp_path, monkeypatch)
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    cfg = telegram_config(tmp_path, ["synthetic_channel_01"], key="k-test-k-test-k-test-k-test-k-test",
                          extra='log_level = "INFO"\n',
                          telegram="flush_seconds = 0.05\nrecheck_days = 7\nreconcile_minutes = 0.02\n")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)

    async def log_in():
        client = await logged_in(cfg)
        await client.disconnect()

    asyncio.run(log_in())

    def posts():
        with engine.connect() as c:
            return {int(r.external_id): r for r in c.execute(select(P.c.external_id, P.c.text, P.c.version,
                                                                    P.c.deleted_at))}

    def start(log):
        return subprocess.Popen(
            [sys.executable, "-m", "npswatch.cli.offline", str(net.path), "--", "--config", str(cfg),
             "listen", "--no-extract"],
            cwd=tmp_path, env=dict(os.environ, PYTHONUNBUFFERED="1"), stdout=subprocess.DEVNULL,
            stderr=log.open("w"))

    log1, log2 = tmp_path / "listen-1.log", tmp_path / "listen-2.log"
    proc = start(log1)
    try:
        wait_for(lambda: "listening to 1 channels" in log1.read_text(), "the listener to start", proc, log1)
        for i in range(1, 6):
            net.publish("synthetic_channel_01", f"synthetic item {i}: 1000")
        wait_for(lambda: len(posts()) == 5, "5 live posts", proc, log1)

        def checkpoint():
            with engine.connect() as c:
                return c.execute(select(CP.c.last_message_id)).scalar()

        # a reconcile has passed them: re-reading from the checkpoint alone would no longer see the changes
        wait_for(lambda: checkpoint() == 5, "the checkpoint to pass the 5 posts", proc, log1)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()

    net.edit("synthetic_channel_01", 2, "synthetic item 2: 1500", live=False)  # a changed price
    net.delete("synthetic_channel_01", [3], live=False)
    proc = start(log2)
    try:
        wait_for(lambda: "listening to 1 channels" in log2.read_text(), "the first reconcile", proc, log2)
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0, log2.read_text()
    finally:
        if proc.poll() is None:
            proc.kill()

    got = posts()
    assert got[2].text == "synthetic item 2: 1500" and got[2].version == 2
    with engine.connect() as c:
        assert c.execute(select(V.c.text)).scalars().all() == ["synthetic item 2: 1000"]
    assert got[3].deleted_at is not None and got[3].text == "synthetic item 3: 1000"  # marked, kept
    assert [i for i, r in got.items() if r.deleted_at is not None] == [3]
    assert all(got[i].version == 1 for i in (1, 4, 5))
