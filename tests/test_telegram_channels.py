"""One bad channel never stops the rest: join refusals, private, banned, deleted and renamed channels are
recorded per channel (state and time) while the listener and backfill go on with the others; a lost
connection is retried without limit; backfill has its own session file. Real Telethon, offline network."""
from __future__ import annotations

import asyncio
import json
import logging
import sqlite3

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.config import load_settings
from npswatch.crawlers.telegram import client as client_mod
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

from offline_telegram import logged_in, telegram_config, until

P, S = m.Post.__table__, m.Source.__table__
runner = CliRunner()
CHANNELS = ["synthetic_ok_01", "synthetic_full_02", "synthetic_approval_03", "synthetic_private_04",
            "synthetic_banned_05", "synthetic_gone_06", "synthetic_ok_07"]


@pytest.fixture
def cfg(tmp_path):
    return telegram_config(tmp_path, CHANNELS, key="k-test-k-test-k-test-k-test-k-test", telegram="initial_days = 0\n")


@pytest.fixture
def db(cfg, tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def troubled_network(net):
    """Seven channels, each with one post; five of them in some kind of trouble."""
    for k in CHANNELS:
        net.add_channel(k, k.replace("_", " ").title())
        net.publish(k, f"synthetic post in {k}")
    net.refuse_join("synthetic_full_02", "CHANNELS_TOO_MUCH")
    net.refuse_join("synthetic_approval_03", "INVITE_REQUEST_SENT")
    net.set_state("synthetic_private_04", "private")
    net.set_state("synthetic_banned_05", "banned")
    net.set_state("synthetic_gone_06", "gone")


def stored(engine):
    with engine.connect() as c:
        return sorted((k, int(i)) for k, i in c.execute(select(S.c.key, P.c.external_id).join(S, S.c.id == P.c.source_id)))


def states(engine):
    return {k: s.status for k, s in store.channel_states(engine).items()}


EXPECTED = {"synthetic_ok_01": "ok", "synthetic_full_02": "join_refused", "synthetic_approval_03": "join_pending",
            "synthetic_private_04": "private", "synthetic_banned_05": "private", "synthetic_gone_06": "gone",
            "synthetic_ok_07": "ok"}


def test_listener_goes_on_past_refused_private_banned_and_deleted_channels(net, cfg, db, pseudonymiser, caplog):
    troubled_network(net)
    caplog.set_level(logging.WARNING, "npswatch.telegram")

    async def scenario():
        client = await logged_in(cfg)
        col = TelegramCollector(client, db, PostWriter(db, pseudonymiser, None), pseudonymiser, flush_seconds=0.05,
                                initial_days=0)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: CHANNELS, stop, reconcile_every=0.2))
        await until(lambda: col.reconciles >= 1, "the first reconcile")
        net.publish("synthetic_ok_07", "live after the troubles")  # the live stream still works
        await until(lambda: ("synthetic_ok_07", 2) in stored(db), "the live post")
        net.set_state("synthetic_ok_01", "private")  # a shop going private while we listen
        n = col.reconciles
        await until(lambda: col.reconciles >= n + 2, "two more reconciles")
        stop.set()
        await task
        await client.disconnect()

    asyncio.run(scenario())
    # history of the readable channels, including those whose join was refused (public: history still reads)
    assert stored(db) == [("synthetic_approval_03", 1), ("synthetic_full_02", 1), ("synthetic_ok_01", 1),
                          ("synthetic_ok_07", 1), ("synthetic_ok_07", 2)]
    assert states(db) == EXPECTED | {"synthetic_ok_01": "private"}
    history = store.channel_history(db, "synthetic_ok_01")
    assert [h.status for h in history] == ["ok", "private"] and history[0].since <= history[1].since
    # recorded once per change, not once per reconcile round
    assert sum("synthetic_gone_06" in r.getMessage() for r in caplog.records) == 1


def test_backfill_records_each_channel_and_goes_on(net, cfg, db):
    troubled_network(net)
    asyncio.run(_login_and_disconnect(cfg))
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--no-extract"])
    assert r.exit_code == 1, r.output  # some channels could not be read: said, and a non-zero exit
    assert "Traceback" not in r.output
    for k in ("synthetic_private_04: private", "synthetic_gone_06: gone", "synthetic_banned_05: private"):
        assert k in r.output
    assert ("synthetic_ok_07", 1) in stored(db) and ("synthetic_full_02", 1) in stored(db)
    assert states(db) == EXPECTED

    st = runner.invoke(app, ["--config", str(cfg), "status", "--json"])
    sources = {s["source"]: s for s in json.loads(st.output)["sources"]}
    assert sources["synthetic_gone_06"]["channel_state"] == "gone"
    assert sources["synthetic_full_02"]["channel_state"] == "join_refused"
    assert sources["synthetic_ok_01"]["channel_state"] == "ok" and sources["synthetic_ok_01"]["channel_state_since"]
    table = runner.invoke(app, ["--config", str(cfg), "status"], env={"COLUMNS": "250"})
    assert "private since" in table.output


def test_a_renamed_channel_keeps_one_source(net, cfg, db, pseudonymiser):
    net.add_channel("synthetic_shop_01", "Synthetic Shop")
    net.publish("synthetic_shop_01", "before the rename")

    async def run():
        client = await logged_in(cfg)
        col = TelegramCollector(client, db, PostWriter(db, pseudonymiser, None), pseudonymiser, initial_days=0)
        col.batch.start()
        await col.reconcile(await col.resolve(["synthetic_shop_01"]))
        net.rename("synthetic_shop_01", "synthetic_shop_new_01")
        net.publish("synthetic_shop_01".replace("_01", "_new_01"), "after the rename")
        await col.reconcile(list(col.watched.values()) or await col.resolve(["synthetic_shop_01"]))
        await col.batch.close()
        await client.disconnect()

    asyncio.run(run())
    assert stored(db) == [("synthetic_shop_01", 1), ("synthetic_shop_01", 2)]  # one source, both posts
    history = store.channel_history(db, "synthetic_shop_01")
    assert [(h.status, h.detail) for h in history][1] == ("renamed", "@synthetic_shop_01 -> @synthetic_shop_new_01")
    assert store.known_entities(db)["synthetic_shop_new_01"][0] == net.channel_id("synthetic_shop_new_01")


def test_connection_loss_is_retried_with_backoff_without_limit(net, cfg, db, pseudonymiser, caplog):
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish("synthetic_channel_01", "before the outage")
    caplog.set_level(logging.INFO, "npswatch.telegram")
    waits = []

    async def fake_sleep(s):
        waits.append(s)
        await asyncio.sleep(0)

    async def scenario():
        client = await logged_in(cfg)
        col = TelegramCollector(client, db, PostWriter(db, pseudonymiser, None), pseudonymiser, flush_seconds=0.05,
                                initial_days=0, sleep=fake_sleep, retry_delay=1, max_retry_delay=8)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: ["synthetic_channel_01"], stop, reconcile_every=3600))
        await until(lambda: col.reconciles == 1, "the first reconcile")
        net.cut_connections(outage=12)  # more failed attempts than Telethon's default of 5 retries
        net.publish("synthetic_channel_01", "during the outage", live=False)
        await until(lambda: col.reconnects == 1 and col.reconciles == 2, "the reconnect and its reconcile")
        net.publish("synthetic_channel_01", "live after the outage")
        await until(lambda: len(stored(db)) == 3, "the live post after reconnecting")
        stop.set()
        await task
        await client.disconnect()

    asyncio.run(scenario())
    assert stored(db) == [("synthetic_channel_01", i) for i in (1, 2, 3)]  # the gap was repaired
    assert waits == [1, 2, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8]  # 12 refused attempts, doubling up to the cap
    lines = [r.getMessage() for r in caplog.records if "reconnecting in" in r.getMessage()]
    assert len(lines) == 13 and "attempt 13" in lines[-1]


async def _login_and_disconnect(cfg):
    client = await logged_in(cfg)
    await client.disconnect()


def test_backfill_uses_its_own_copy_of_the_session_without_a_second_login(net, cfg, db, tmp_path):
    net.add_channel("synthetic_ok_01", "Synthetic Ok 01")
    net.publish("synthetic_ok_01", "synthetic post")
    asyncio.run(_login_and_disconnect(cfg))
    settings = load_settings(cfg)
    main = client_mod.session_path(settings)
    args = ["--config", str(cfg), "telegram", "backfill", "--no-extract", "--channel", "synthetic_ok_01"]
    assert runner.invoke(app, args).exit_code == 0  # the first backfill copies the logged-in session
    net.publish("synthetic_ok_01", "synthetic post 2")
    # then the listener holds a write lock on its session file for the whole second backfill
    lock = sqlite3.connect(main, timeout=0)
    lock.execute("BEGIN EXCLUSIVE")
    try:
        r = runner.invoke(app, args)
    finally:
        lock.rollback()
        lock.close()
    assert r.exit_code == 0, r.output
    assert stored(db) == [("synthetic_ok_01", 1), ("synthetic_ok_01", 2)]
    own = client_mod.backfill_session_path(settings)
    assert own.exists() and own != main and oct(own.stat().st_mode & 0o777) == "0o600"
    assert [c for c, _ in net.calls() if c in ("SendCodeRequest", "SignInRequest")] == ["SendCodeRequest",
                                                                                        "SignInRequest"]
