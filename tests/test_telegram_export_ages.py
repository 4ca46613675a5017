"""Telegram Desktop exports of every age: pre-2021 numeric from_id and shifted chat ids, local dates
without date_unixtime (--tz), forwards without ids, the `replies` chat, export folders, repeated message ids,
and one source per channel id whether the export or the listener came first. Synthetic exports only."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timezone

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter
from npswatch.watch import Watch

from offline_telegram import API_HASH, logged_in

P, S = m.Post.__table__, m.Source.__table__
runner = CliRunner()
CID = 1_500_123_457  # a synthetic channel id
SHIFT = 1 << 33


@pytest.fixture
def cfg(tmp_path):
    path = tmp_path / "npswatch.toml"
    path.write_text(f'data_dir = "data"\n[privacy]\nkey = "k-test-k-test-k-test-k-test-k-test"\n'
                    f'[service]\ntimezone = "Asia/Almaty"\n'
                    f'[telegram]\napi_id = 1000001\napi_hash = "{API_HASH}"\ninitial_days = 0\n')
    return path


@pytest.fixture
def db(cfg, tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def rows(engine):
    q = select(S.c.key, P.c.external_id, P.c.text, P.c.author, P.c.posted_at, P.c.extra).join(S, S.c.id == P.c.source_id)
    with engine.connect() as c:
        return {(r.key, int(r.external_id)): r for r in c.execute(q)}


def old_group_export(path):
    """The pre-2021 shape: the chat id shifted by 2**33, from_id a bare number, no *_unixtime."""
    msgs = [
        {"id": 1, "type": "message", "date": "2020-03-01T12:00:00", "from": "Synthetic Seller", "from_id": 800000011,
         "text": "синтетика товар A 1г"},
        {"id": 2, "type": "message", "date": "2020-03-01T12:05:00", "from": "Synthetic Buyer", "from_id": 800000022,
         "text": "сколько стоит?"},
        {"id": 3, "type": "message", "date": "2020-03-01T12:06:00", "from": "Synthetic Seller", "from_id": 800000011,
         "text": "4500"},
        {"id": 4, "type": "message", "date": "2020-03-01T12:07:00", "from": "Synthetic Buyer",
         "forwarded_from": "Synthetic Known Shop", "text": "переслано из магазина"},
        {"id": 5, "type": "message", "date": "2020-03-01T12:08:00", "from": "Synthetic Buyer",
         "forwarded_from": "Synthetic Person Name", "text": "переслано от человека"},
        {"id": 5, "type": "message", "date": "2020-03-01T12:09:00", "from": "Synthetic Buyer",
         "text": "the same id again"},
    ]
    path.mkdir(parents=True, exist_ok=True)
    (path / "result.json").write_text(json.dumps({"name": "Synthetic Old Group", "type": "private_supergroup",
                                                  "id": SHIFT + CID, "messages": msgs}, ensure_ascii=False))
    return path


def full_export_with_replies(path):
    chat = {"name": "Synthetic Channel", "type": "public_channel", "id": CID, "messages": [
        {"id": 1, "type": "message", "date": "2023-05-01T10:00:00", "date_unixtime": "1682935200",
         "from": "Synthetic Channel", "from_id": f"channel{CID}", "text": "пост"}]}
    replies = {"name": "Replies", "type": "replies", "id": 1271266957, "messages": [
        {"id": 1, "type": "message", "date": "2023-05-01T10:00:00", "date_unixtime": "1682935200",
         "from": "Someone", "from_id": "user800000033", "text": "an answer to the analyst"}]}
    path.write_text(json.dumps({"chats": {"list": [chat, replies]}}, ensure_ascii=False))
    return path


def test_old_export_per_sender_pseudonyms_shift_local_time_forwards_and_duplicates(cfg, db, tmp_path):
    store.remember_entity(db, "synthetic_known_shop", 1_500_999_001, "Synthetic Known Shop")
    folder = old_group_export(tmp_path / "ChatExport_2020-03-02")
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", "--no-extract", str(folder)])  # a folder
    assert r.exit_code == 0, r.output
    got = rows(db)
    key = f"c{CID}"  # the shift is undone: the id the listener sees
    assert sorted(got) == [(key, i) for i in (1, 2, 3, 4, 5)]
    seller, buyer = got[(key, 1)].author, got[(key, 2)].author
    assert seller != buyer and got[(key, 3)].author == seller  # one pseudonym per sender
    assert "800000011" not in seller
    # the same pseudonym the listener gives a group member (`user<id>`)
    assert seller == Watch(cfg).pseudonymiser.handle("user800000011")
    # local time of the config's zone (Asia/Almaty, UTC+6 in 2020) -> UTC
    posted = got[(key, 1)].posted_at
    assert posted.replace(tzinfo=timezone.utc) == datetime(2020, 3, 1, 6, 0, tzinfo=timezone.utc)
    # a forward without an id: linked when the name is a known channel's title, a pseudonym otherwise
    with db.connect() as c:
        links = c.execute(select(store.T_LINK.c.src, store.T_LINK.c.dst, store.T_LINK.c.kind)).all()
    assert links == [(key, "synthetic_known_shop", "forward")]
    fwd5 = got[(key, 5)].extra
    fwd5 = json.loads(fwd5) if isinstance(fwd5, str) else fwd5
    assert set(fwd5["forward"]) == {"user"} and "Person" not in json.dumps(fwd5)
    # the repeated id is reported and the first message kept
    assert got[(key, 5)].text == "переслано от человека"
    flat = " ".join(r.output.split())
    assert "1 repeated message ids" in flat and "repeats id 5" in flat
    assert "1 forwards linked by channel title" in flat


def test_tz_option_beats_the_config(cfg, db, tmp_path):
    folder = old_group_export(tmp_path / "export")
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", "--no-extract", "--tz", "UTC", str(folder)])
    assert r.exit_code == 0, r.output
    assert rows(db)[(f"c{CID}", 1)].posted_at.replace(tzinfo=timezone.utc) == datetime(2020, 3, 1, 12, 0,
                                                                                        tzinfo=timezone.utc)
    bad = runner.invoke(app, ["--config", str(cfg), "import-telegram", "--tz", "Mars/Olympus", str(folder)])
    assert bad.exit_code != 0 and "not a time zone" in bad.output and "Traceback" not in bad.output


def test_replies_chat_is_skipped_and_a_folder_without_result_json_is_one_line(cfg, db, tmp_path):
    f = full_export_with_replies(tmp_path / "result.json")
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", "--no-extract", str(f)])
    assert r.exit_code == 0, r.output
    assert sorted(rows(db)) == [(f"c{CID}", 1)]
    assert "Replies (replies)" in r.output
    (tmp_path / "empty").mkdir()
    r = runner.invoke(app, ["--config", str(cfg), "import-telegram", str(tmp_path / "empty")])
    assert r.exit_code != 0 and "without result.json" in r.output and "Traceback" not in r.output


@pytest.mark.parametrize("order", ["export first", "listener first"])
def test_export_and_listener_share_one_source_per_channel_id(order, cfg, db, tmp_path, net, pseudonymiser):
    cid = net.add_channel("synthetic_shop_01", "Synthetic Shop 01")
    for t in ("first", "second", "third"):
        net.publish(cid, f"synthetic {t}")
    export = tmp_path / "result.json"
    export.write_text(json.dumps({"name": "Synthetic Shop 01", "type": "public_channel", "id": cid, "messages": [
        {"id": i, "type": "message", "date": "2026-01-01T00:00:00", "date_unixtime": str(1767225600 + i),
         "from": "Synthetic Shop 01", "from_id": f"channel{cid}", "text": f"synthetic exported {i}"}
        for i in (1, 2)]}))

    async def listen_once():
        client = await logged_in(cfg)
        col = TelegramCollector(client, db, PostWriter(db, pseudonymiser, None), pseudonymiser, initial_days=0)
        col.batch.start()
        await col.reconcile(await col.resolve(["synthetic_shop_01"]))
        await col.batch.close()
        await client.disconnect()

    def do_import():
        r = runner.invoke(app, ["--config", str(cfg), "import-telegram", "--no-extract", str(export)])
        assert r.exit_code == 0, r.output

    if order == "export first":
        do_import()
        asyncio.run(listen_once())
    else:
        asyncio.run(listen_once())
        do_import()
    with db.connect() as c:
        sources = c.execute(select(S.c.key)).scalars().all()
    assert sources == ["synthetic_shop_01"]
    assert sorted(rows(db)) == [("synthetic_shop_01", i) for i in (1, 2, 3)]


def _export(path, n):
    path.write_text(json.dumps({"name": "Synthetic Channel", "type": "public_channel", "id": CID, "messages": [
        {"id": i, "type": "message", "date_unixtime": str(1767225600 + i), "date": "2026-01-01T00:00:00",
         "from_id": f"channel{CID}", "text": ["", {"type": "bold", "text": f"synthetic {i}"}]} for i in range(1, n + 1)]}))
    return path


def test_memory_does_not_grow_with_the_export(tmp_path, pseudonymiser):
    """The export is read as a stream: a file ten times larger peaks at about the same memory (the whole-file
    reader held every message at once: ten times the peak)."""
    import tracemalloc

    from npswatch.crawlers.telegram.export import import_export

    peaks = []
    for n in (300, 3000):
        eng = make_engine(f"sqlite:///{tmp_path / f'db{n}.sqlite'}")
        upgrade(eng)
        path = _export(tmp_path / f"export{n}.json", n)
        tracemalloc.start()
        r = import_export(path, PostWriter(eng, pseudonymiser, None), lambda links: 0, batch_size=100)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        eng.dispose()
        assert r.messages == n and r.write.inserted == n
    assert peaks[1] < 2 * peaks[0], peaks
