"""Backfill and reconcile: checkpoints, --since, FloodWait handling, entity look-ups cached."""
from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch.crawlers.telegram import client as client_mod
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.cli.app import app
from npswatch.config import load_settings
from npswatch.watch import Watch
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

from offline_telegram import logged_in, telegram_config

P, CP = m.Post.__table__, m.Checkpoint.__table__
runner = CliRunner()


@pytest.fixture
def cfg(tmp_path):
    return telegram_config(tmp_path, ["synthetic_channel_01", "synthetic_channel_02"], telegram="initial_days = 0\n")


@pytest.fixture
def db(cfg, tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


async def client_for(cfg, *, log_in=True):
    if log_in:
        return await logged_in(cfg)
    client = client_mod.make_client(load_settings(cfg))
    await client.connect()
    return client


def ids(engine, source=None):
    q = select(P.c.external_id)
    if source:
        q = q.join(m.Source.__table__).where(m.Source.__table__.c.key == source)
    with engine.connect() as c:
        return sorted(int(x) for x in c.execute(q).scalars())


def collector(client, engine, pseudonymiser, **kw):
    return TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, None), pseudonymiser, **kw)


def test_floodwait_is_logged_waited_and_resumed(net, cfg, db, pseudonymiser, caplog):
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish_many("synthetic_channel_01", [f"synthetic post {i}" for i in range(250)])
    net.flood("GetHistoryRequest", seconds=42, after=1)  # the second page of history is refused once
    slept = []

    async def fake_sleep(s):
        slept.append(s)

    async def scenario():
        client = await client_for(cfg)
        col = collector(client, db, pseudonymiser, sleep=fake_sleep, batch_size=100, initial_days=0)
        ref = (await col.resolve(["synthetic_channel_01"]))[0]
        res = await col.backfill(ref)
        await col.batch.close()
        await client.disconnect()
        return res

    with caplog.at_level(logging.WARNING, logger="npswatch.telegram"):
        res = asyncio.run(scenario())
    assert slept == [42] and res.flood_waits == 1
    assert any("FloodWait" in r.getMessage() and "42 s" in r.getMessage() for r in caplog.records)
    assert ids(db) == list(range(1, 251)) and res.read == 250  # resumed where it stopped, nothing twice
    assert store.checkpoints(db) == {"synthetic_channel_01": 250}


def test_usernames_are_resolved_once_per_channel(net, cfg, db, pseudonymiser):
    for n in (1, 2, 3):
        net.add_channel(f"synthetic_channel_0{n}", f"Synthetic Channel 0{n}")
        net.publish(f"synthetic_channel_0{n}", "synthetic post")
    slept, entity_calls = [], []

    async def fake_sleep(s):
        slept.append(s)

    async def run_once(channels):
        client = await client_for(cfg)
        real = client.get_entity

        async def counting_get_entity(*a, **kw):
            entity_calls.append(a[0])
            return await real(*a, **kw)

        client.get_entity = counting_get_entity
        col = collector(client, db, pseudonymiser, sleep=fake_sleep)
        for _ in range(3):  # backfill, then two reconciles
            await col.reconcile(await col.resolve(channels))
        await col.batch.close()
        await client.disconnect()

    two = ["synthetic_channel_01", "synthetic_channel_02"]
    asyncio.run(run_once(two))
    asyncio.run(run_once(two))  # a restart: the persisted map and the session answer, not the network
    assert entity_calls == two
    assert [d for _, d in net.calls("ResolveUsernameRequest")] == two
    assert store.known_entities(db).keys() == set(two)

    net.flood("ResolveUsernameRequest", seconds=7)  # a resolve told to wait is waited out, then retried
    asyncio.run(run_once([*two, "synthetic_channel_03"]))
    assert slept == [7] and entity_calls == [*two, "synthetic_channel_03", "synthetic_channel_03"]
    assert ids(db) == [1, 1, 1]


def test_checkpoint_advances_only_after_the_write_commits(net, cfg, db, pseudonymiser):
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish_many("synthetic_channel_01", [f"synthetic post {i}" for i in range(120)])
    net.publish("synthetic_channel_01", service=True)  # 121: nothing to store, the checkpoint passes it

    class FailingWriter(PostWriter):
        calls = 0

        def write(self, posts, **kw):
            FailingWriter.calls += 1
            if FailingWriter.calls == 3:
                raise RuntimeError("synthetic database failure")
            return super().write(posts, **kw)

    async def scenario(writer):
        client = await client_for(cfg)
        col = TelegramCollector(client, db, writer, pseudonymiser, batch_size=50, initial_days=0)
        ref = (await col.resolve(["synthetic_channel_01"]))[0]
        try:
            await col.backfill(ref)
            await col.batch.flush()
        finally:
            await client.disconnect()

    with pytest.raises(RuntimeError, match="synthetic database failure"):
        asyncio.run(scenario(FailingWriter(db, pseudonymiser, None)))
    assert ids(db) == list(range(1, 101)) and store.checkpoints(db) == {"synthetic_channel_01": 100}
    asyncio.run(scenario(PostWriter(db, pseudonymiser, None)))
    assert ids(db) == list(range(1, 121)) and store.checkpoints(db) == {"synthetic_channel_01": 121}


def test_cli_backfill_since_a_date_then_from_the_checkpoint(net, cfg, db):
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.add_channel("synthetic_channel_02", "Synthetic Channel 02")
    day0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
    for d in range(10):
        net.publish(ch, f"synthetic post of day {d}", date=day0 + timedelta(days=d))
    asyncio.run(_login_and_close(cfg))

    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--since", "2026-03-07", "--no-extract"],
                      terminal_width=300)
    assert r.exit_code == 0, r.output
    out = " ".join(r.output.split())
    assert "synthetic_channel_01: 4 messages read (4 with text), up to id 10" in out
    assert "synthetic_channel_02: 0 messages read" in out
    assert ids(db, "synthetic_channel_01") == [7, 8, 9, 10]
    net.publish(ch, "synthetic post of day 10", date=day0 + timedelta(days=10))
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--no-extract"], terminal_width=300)
    assert "synthetic_channel_01: 1 messages read (1 with text), up to id 11" in " ".join(r.output.split())
    with db.connect() as c:
        runs = c.execute(select(m.CrawlRun.kind, m.CrawlRun.status).distinct()).all()
        assert c.execute(select(func.count()).select_from(P)).scalar_one() == 5
    assert runs == [("telegram-backfill", "ok")]


def test_cli_backfill_unknown_channel_is_reported_not_fatal(net, cfg, db):
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish("synthetic_channel_01", "synthetic post")
    asyncio.run(_login_and_close(cfg))
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--no-extract"], terminal_width=300)
    assert r.exit_code == 1  # synthetic_channel_02 does not exist in this network
    assert "synthetic_channel_01: 1 messages read" in " ".join(r.output.split())
    assert ids(db) == [1]


async def _login_and_close(cfg):
    client = await client_for(cfg)
    await client.disconnect()


def test_watch_backfill_returns_its_result_even_inside_a_running_event_loop(net, cfg, db):
    ch = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.add_channel("synthetic_channel_02", "Synthetic Channel 02")
    net.publish(ch, "synthetic post")
    asyncio.run(_login_and_close(cfg))
    w = Watch(cfg)

    async def notebook_cell():  # Jupyter runs each cell inside its event loop
        return w.backfill(extract=False)

    r = asyncio.run(notebook_cell())
    assert r.ok and [(c.channel, c.read) for c in r.channels] == [("synthetic_channel_01", 1),
                                                                   ("synthetic_channel_02", 0)]
    assert r.written.inserted == 1 and ids(db) == [1]
    with db.connect() as c:
        rows = c.execute(select(m.CrawlRun.id, m.CrawlRun.source, m.CrawlRun.items)).all()
    assert [tuple(x) for x in rows] == [(c.run_id, c.channel, c.read) for c in r.channels]
