"""Discovery that follows shops as they move (issue 15, item 6): the `[telegram.discovery]` rules add
discovered channels to the watch list by themselves (seen in K watched channels, market score, language,
join limit), each addition logged and listed in the digest; a renamed channel (same id, new username) stays one
source through backfill, export import and discovery. Real Telethon client on the offline network."""
from __future__ import annotations

import asyncio
import json
import logging
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.config import load_settings
from npswatch.crawlers.telegram import client as client_mod
from npswatch.crawlers.telegram.login import login
from npswatch.crawlers.telegram.offline import OfflineNetwork
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine
from npswatch.storage.tables import T_AUDIT, T_LINK, T_PROMOTED

API_HASH = "0" * 31 + "1"
P, S = m.Post.__table__, m.Source.__table__
runner = CliRunner()
NOW = datetime.now(timezone.utc).replace(microsecond=0)
WATCHED = ["synthetic_watch_01", "synthetic_watch_02", "synthetic_watch_03"]
MARKET_RU = ["Мефедрон 1г 4500₽, закладки по всему городу, пишите оператору",
             "Альфа пвп 0.5г 3000 руб, свежий товар в наличии, работаем круглосуточно",
             "Гашиш 2г 5000 руб, доставка по городу, отзывы в нашем канале"]
CHATTER_RU = ["Всем привет! Сегодня отличная погода, хорошего всем дня и отличного настроения",
              "Поздравляем всех подписчиков с праздником, спасибо что вы остаётесь с нами",
              "Технический перерыв до завтрашнего утра, следите за новостями канала"]
MARKET_EN = ["Fresh stock in store: MDMA 1g 40 EUR, ships from the Netherlands, write to the operator",
             "Cocaine 1g 90 EUR, best quality in town, discreet delivery every day of the week",
             "Ketamine 2g 60 EUR, fast delivery, reviews in our channel, operator online"]


def config(tmp_path, **rules) -> str:
    lines = "\n".join(f"{k} = {json.dumps(v)}" for k, v in rules.items())
    path = tmp_path / "npswatch.toml"
    path.write_text(f'data_dir = "data"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n[telegram]\n'
                    f'api_id = 1000001\napi_hash = "{API_HASH}"\nchannels = {json.dumps(WATCHED)}\ninitial_days = 0\n'
                    f"[telegram.discovery]\n{lines}\n")
    return str(path)


def cli(cfg, *args, env=None):
    r = runner.invoke(app, ["--config", cfg, *args], env=env)
    assert "Traceback" not in r.output, r.output
    return r


def log_in(cfg):
    async def go():
        client = client_mod.make_client(load_settings(cfg))
        await login(client, phone=lambda: "+10000000001", code=lambda: "12345", password=lambda: "")
        await client.disconnect()

    asyncio.run(go())


def stored(engine):
    with engine.connect() as c:
        return sorted((k, int(i)) for k, i in c.execute(select(S.c.key, P.c.external_id).join(S, S.c.id == P.c.source_id)))


@pytest.fixture
def net(tmp_path, monkeypatch):
    n = OfflineNetwork(tmp_path / "telegram-net.sqlite", api_hash=API_HASH)
    monkeypatch.setattr(client_mod, "CLIENT_FACTORY", n.factory)
    return n


def market_world(net):
    """Three watched channels forwarding from four shops:
    - synthetic_shop_ru_01: market posts in Russian, forwarded by all three watched channels (passes every rule);
    - synthetic_chat_02: chatter forwarded by all three (fails the market score);
    - synthetic_shop_one_03: market posts forwarded by one watched channel only (fails min_channels);
    - synthetic_shop_en_04: market posts in English, forwarded by all three (fails the language rule)."""
    ws = [net.add_channel(k, k.replace("_", " ").title()) for k in WATCHED]
    ru = net.add_channel("synthetic_shop_ru_01", "Synthetic Shop RU 01")
    chat = net.add_channel("synthetic_chat_02", "Synthetic Chat 02")
    one = net.add_channel("synthetic_shop_one_03", "Synthetic Shop One 03")
    en = net.add_channel("synthetic_shop_en_04", "Synthetic Shop EN 04")
    for text in MARKET_RU:
        net.publish(ru, text, date=NOW - timedelta(days=3))  # the shop's own history, read once it is watched
    day = NOW - timedelta(days=2)
    for i, w in enumerate(ws):
        net.publish(w, MARKET_RU[i], fwd_channel=ru, fwd_post=i + 1, date=day)
        net.publish(w, CHATTER_RU[i], fwd_channel=chat, fwd_post=i + 1, date=day)
        net.publish(w, MARKET_EN[i], fwd_channel=en, fwd_post=i + 1, date=day)
    net.publish(ws[0], MARKET_RU[0], fwd_channel=one, fwd_post=1, date=day)


def test_rules_add_a_shop_seen_in_k_channels_log_it_and_list_it_in_the_digest(net, tmp_path, caplog):
    market_world(net)
    cfg = config(tmp_path, auto_add=True, min_channels=3, min_market_score=0.5, languages=["ru", "kk"])
    assert cli(cfg, "db", "upgrade").exit_code == 0
    log_in(cfg)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")

    # first backfill: the watched channels are read (and their forwards discovered); the rules had nothing yet
    assert cli(cfg, "telegram", "backfill").exit_code == 0
    assert {k for k, _ in stored(engine)} == set(WATCHED)

    # the preview says why each candidate is in or out
    dry = cli(cfg, "telegram", "auto-add", "--dry-run", "--json")
    verdicts = {v["key"]: v for v in map(json.loads, dry.output.splitlines())}
    assert verdicts["synthetic_shop_ru_01"]["added"] and verdicts["synthetic_shop_ru_01"]["language"] == "ru"
    assert verdicts["synthetic_shop_ru_01"]["market_score"] == 1.0
    assert not verdicts["synthetic_chat_02"]["added"] and "market score 0.00" in verdicts["synthetic_chat_02"]["reason"]
    assert not verdicts["synthetic_shop_en_04"]["added"] and "language en" in verdicts["synthetic_shop_en_04"]["reason"]
    assert "synthetic_shop_one_03" not in verdicts  # named by one watched channel: not a candidate at all
    assert store.promoted_channels(engine) == []  # a dry run adds nothing

    # the next backfill applies the rules first, then reads the added shop's history too
    caplog.set_level(logging.WARNING, "npswatch.telegram")
    assert cli(cfg, "telegram", "backfill").exit_code == 0
    assert store.promoted_channels(engine) == ["synthetic_shop_ru_01"]
    assert [("synthetic_shop_ru_01", n) for n in (1, 2, 3)] == [s for s in stored(engine) if s[0] == "synthetic_shop_ru_01"]
    with engine.connect() as c:
        row = c.execute(select(T_PROMOTED.c.added_by, T_PROMOTED.c.reason)).one()
        audit = c.execute(select(T_AUDIT.c.actor, T_AUDIT.c.action, T_AUDIT.c.target_id)).all()
    assert row.added_by == "auto" and "named by 3 watched channels" in row.reason and "language ru" in row.reason
    assert ("discovery-rules", "channel.add", "synthetic_shop_ru_01") in audit
    assert any("@synthetic_shop_ru_01 added to the watch list" in r.getMessage() for r in caplog.records)

    digest = cli(cfg, "digest", "--since", "1d", "--format", "md", "--out", "-")
    assert digest.exit_code == 0, digest.output
    assert "@synthetic_shop_ru_01 added to the watch list automatically" in digest.output
    assert "synthetic_chat_02" not in digest.output
    engine.dispose()


def test_the_join_limit_and_a_full_account_stop_additions(net, tmp_path):
    market_world(net)
    cfg = config(tmp_path, min_channels=3, languages=["ru"], join_limit=3)
    assert cli(cfg, "db", "upgrade").exit_code == 0
    log_in(cfg)
    assert cli(cfg, "telegram", "backfill").exit_code == 0
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")

    r = cli(cfg, "telegram", "auto-add", "--json")  # three watched, limit three: no room
    ru = [json.loads(x) for x in r.output.splitlines() if "synthetic_shop_ru_01" in x][0]
    assert not ru["added"] and "no room: 3 channels watched, join limit 3" in ru["reason"]

    # room again, but Telegram refused a join for the account's channel limit: the account is full
    net.refuse_join("synthetic_watch_02", "CHANNELS_TOO_MUCH")
    store.record_channel_state(engine, "synthetic_watch_02", "join_refused", "too many channels")
    r = cli(cfg, "telegram", "auto-add", env={"NPSWATCH_TELEGRAM__DISCOVERY__JOIN_LIMIT": "500"})
    assert "added 0 channels" in " ".join(r.output.split())
    assert store.promoted_channels(engine) == []

    store.record_channel_state(engine, "synthetic_watch_02", "ok")
    r = cli(cfg, "telegram", "auto-add", env={"NPSWATCH_TELEGRAM__DISCOVERY__JOIN_LIMIT": "500"})
    assert "added 1 channels" in " ".join(r.output.split()), r.output
    assert store.promoted_channels(engine) == ["synthetic_shop_ru_01"]
    engine.dispose()


def test_a_renamed_channel_stays_one_source_in_backfill_import_and_discovery(net, tmp_path):
    shop = net.add_channel("synthetic_shop_old_01", "Synthetic Shop")
    other = net.add_channel("synthetic_watch_01", "Synthetic Watch 01")
    net.publish(shop, "Мефедрон 1г 4500₽ до переезда", date=NOW - timedelta(days=2))
    path = tmp_path / "npswatch.toml"
    base = (f'data_dir = "data"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n[telegram]\napi_id = 1000001\n'
            f'api_hash = "{API_HASH}"\ninitial_days = 0\n')
    path.write_text(base + 'channels = ["synthetic_shop_old_01", "synthetic_watch_01"]\n')
    cfg = str(path)
    assert cli(cfg, "db", "upgrade").exit_code == 0
    log_in(cfg)
    assert cli(cfg, "telegram", "backfill", "--no-extract").exit_code == 0

    # the shop rebrands: same channel, new username; the analyst follows it under the new name
    net.rename(shop, "synthetic_shop_new_01")
    net.publish(shop, "Мефедрон 1г 4700₽ после переезда", date=NOW - timedelta(days=1))
    net.publish(other, "репост", fwd_channel=shop, fwd_post=2, date=NOW - timedelta(days=1))
    net.publish(other, "новый адрес t.me/synthetic_shop_new_01", date=NOW - timedelta(days=1))
    path.write_text(base + 'channels = ["synthetic_shop_new_01", "synthetic_watch_01"]\n')
    assert cli(cfg, "telegram", "backfill", "--no-extract").exit_code == 0

    # and a Telegram Desktop export of the shop (it knows the id only) arrives afterwards
    export = tmp_path / "ChatExport" / "result.json"
    export.parent.mkdir()
    t = int((NOW - timedelta(hours=5)).timestamp())
    export.write_text(json.dumps({"name": "Synthetic Shop", "type": "public_channel", "id": shop, "messages": [
        {"id": 3, "type": "message", "date": "2026-01-01T00:00:00", "date_unixtime": str(t),
         "from": "Synthetic Shop", "from_id": f"channel{shop}", "text": "Мефедрон 1г 4800₽ из экспорта"}]}),
        encoding="utf-8")
    assert cli(cfg, "import-telegram", str(export.parent), "--no-extract").exit_code == 0

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    shop_posts = [s for s in stored(engine) if s[0] != "synthetic_watch_01"]
    assert shop_posts == [("synthetic_shop_old_01", 1), ("synthetic_shop_old_01", 2), ("synthetic_shop_old_01", 3)]
    # the forward from the renamed shop points at its one source; its new name is no new channel to review
    with engine.connect() as c:
        dsts = set(c.execute(select(T_LINK.c.dst)).scalars())
    assert "synthetic_shop_old_01" in dsts
    r = cli(cfg, "telegram", "discovered", "--json")
    assert "synthetic_shop_new_01" not in r.output
    engine.dispose()
