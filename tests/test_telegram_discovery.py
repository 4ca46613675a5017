"""Discovery: channels seen in forwards and t.me links -> review queue (counts, first seen, filters),
`telegram add` promotes one for the listeners, `telegram graph --gexf` exports the network."""
from __future__ import annotations

import asyncio
import json
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.pipelines.rawpost import RawPost
from npswatch.cli.app import app
from npswatch.storage import models as m
from npswatch.storage import telegram_store as store
from npswatch.storage.writer import PostWriter

from offline_telegram import logged_in, telegram_config

GEXF = "{http://gexf.net/1.3}"
T0 = datetime(2026, 3, 1, 12, tzinfo=timezone.utc)
runner = CliRunner()


def flat(output: str) -> str:
    return " ".join(output.split())


@pytest.fixture
def world(tmp_path, net):
    """Two watched channels that forward from and link to others, collected by `telegram backfill`."""
    cfg = telegram_config(tmp_path, ["synthetic_channel_01", "synthetic_group_03"], telegram="initial_days = 0\n")
    c1 = net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    g3 = net.add_channel("synthetic_group_03", "Synthetic Group 03", megagroup=True)
    shop = net.add_channel("synthetic_shop_02", "Synthetic Shop 02", participants=1234)
    net.add_channel("synthetic_shop_05", "Synthetic Shop 05")
    u = net.add_user(None, "Synthetic Member")
    net.publish(g3, "переслано", fwd_channel=shop, fwd_post=1, from_user=u, date=T0)  # first sight of shop_02
    net.publish(c1, "переслано", fwd_channel=shop, fwd_post=2, date=T0 + timedelta(days=1))
    net.publish(c1, "и снова", fwd_channel=shop, fwd_post=3, date=T0 + timedelta(days=2))
    net.publish(c1, "витрина t.me/Synthetic_Shop_05 и наш t.me/synthetic_channel_01", date=T0 + timedelta(days=3))
    net.publish(c1, "t.me/synthetic_shop_02 и https://t.me/synthetic_shop_02/9", date=T0 + timedelta(days=4))
    assert runner.invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0

    async def log_in():
        client = await logged_in(cfg)
        await client.disconnect()

    asyncio.run(log_in())
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--no-extract"], terminal_width=300)
    assert r.exit_code == 0, r.output
    return net, cfg


def discovered(cfg, *args):
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "discovered", "--json", *args], terminal_width=300)
    assert r.exit_code == 0, r.output
    return [json.loads(line) for line in r.output.splitlines() if line.strip()]


def test_review_queue_counts_and_first_seen(world):
    net, cfg = world
    rows = discovered(cfg)
    assert [r["key"] for r in rows] == ["synthetic_shop_02", "synthetic_shop_05"]  # most mentioned first
    shop = rows[0]
    # 3 forwards (2 channels) + 1 post linking twice (counted once per post)
    assert (shop["mentions"], shop["forwards"], shop["links"], shop["channels"]) == (4, 3, 1, 2)
    assert shop["first_seen_in"] == "synthetic_group_03" and shop["first_seen"].startswith("2026-03-01T12:00")
    assert shop["subscribers"] == 1234 and shop["title"] == "Synthetic Shop 02"
    assert rows[1]["mentions"] == 1 and rows[1]["subscribers"] is None  # usernames are case-folded
    # filters
    assert [r["key"] for r in discovered(cfg, "--min-mentions", "2")] == ["synthetic_shop_02"]
    assert [r["key"] for r in discovered(cfg, "--min-subscribers", "1000")] == ["synthetic_shop_02"]
    assert discovered(cfg, "--min-subscribers", "5000") == []
    # a watched channel linking to itself is not discovered; re-reading posts counts nothing twice
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--since", "2026-01-01", "--no-extract"])
    assert r.exit_code == 0, r.output
    assert discovered(cfg) == rows
    table = runner.invoke(app, ["--config", str(cfg), "telegram", "discovered"], terminal_width=300).output
    assert "synthetic_shop_02" in table and "telegram add" in table


def test_add_promotes_a_channel_for_the_listeners(world):
    net, cfg = world
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "add", "https://t.me/Synthetic_Shop_05"],
                      terminal_width=300)
    assert r.exit_code == 0 and "synthetic_shop_05 added" in flat(r.output)
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "add", "@synthetic_shop_05"], terminal_width=300)
    assert "already added" in r.output
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "add", "synthetic_channel_01"], terminal_width=300)
    assert "already in telegram.channels" in flat(r.output)
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "add", "not a channel!"], terminal_width=300)
    assert r.exit_code == 2 and "not a channel username" in flat(r.output)
    assert [x["key"] for x in discovered(cfg)] == ["synthetic_shop_02"]
    assert [(x["key"], x["status"]) for x in discovered(cfg, "--all")] == [("synthetic_shop_02", "new"),
                                                                          ("synthetic_shop_05", "added")]
    # the next run reads the promoted channel too (the listener builds its list the same way)
    net.publish("synthetic_shop_05", "синтетический пост магазина")
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "backfill", "--no-extract"], terminal_width=300)
    assert "synthetic_shop_05: 1 messages read" in flat(r.output)


def test_graph_exports_gexf(world, tmp_path):
    net, cfg = world
    out = tmp_path / "graph" / "channels.gexf"
    r = runner.invoke(app, ["--config", str(cfg), "telegram", "graph", "--gexf", str(out)], terminal_width=300)
    assert r.exit_code == 0 and "4 channels, 3 edges" in flat(r.output)
    root = ET.parse(out).getroot()
    assert root.tag == f"{GEXF}gexf" and root.get("version") == "1.3"
    g = root.find(f"{GEXF}graph")
    assert g.get("defaultedgetype") == "directed"
    titles = {a.get("id"): a.get("title") for a in g.find(f"{GEXF}attributes[@class='node']")}
    nodes = {}
    for n in g.iter(f"{GEXF}node"):
        nodes[n.get("id")] = {titles[v.get("for")]: v.get("value") for v in n.iter(f"{GEXF}attvalue")} | \
            {"label": n.get("label")}
    assert set(nodes) == {"synthetic_channel_01", "synthetic_group_03", "synthetic_shop_02", "synthetic_shop_05"}
    assert nodes["synthetic_channel_01"]["watched"] == "true" and nodes["synthetic_shop_02"]["watched"] == "false"
    assert nodes["synthetic_shop_02"]["label"] == "Synthetic Shop 02" and nodes["synthetic_shop_02"]["subscribers"] == "1234"
    edges = {(e.get("source"), e.get("target")): float(e.get("weight")) for e in g.iter(f"{GEXF}edge")}
    assert edges == {("synthetic_channel_01", "synthetic_shop_02"): 3.0, ("synthetic_group_03", "synthetic_shop_02"): 1.0,
                     ("synthetic_channel_01", "synthetic_shop_05"): 1.0}


def test_store_upserts_on_both_dialects(engine, pseudonymiser):
    """The store's upserts (links, queue, checkpoints, deletions, promotion) on SQLite and PostgreSQL."""
    L = store.Link
    with engine.begin() as c:
        store.record_links(c, [L("a_channel", 5, "synthetic_shop_02", "link", T0 + timedelta(days=2)),
                               L("a_channel", 5, "synthetic_shop_02", "link", T0 + timedelta(days=2))])
    with engine.begin() as c:  # an earlier post seen later moves first_seen back; known facts are not erased
        store.record_links(c, [L("b_channel", 1, "synthetic_shop_02", "forward", T0, title="Synthetic Shop 02",
                                 subscribers=50),
                               L("b_channel", 2, "synthetic_shop_02", "forward", T0 + timedelta(days=9))])
    with engine.begin() as c:
        store.record_links(c, [L("c_channel", 1, "synthetic_shop_02", "link", T0 + timedelta(days=5))])
    (row,) = store.discovered(engine)
    assert (row["mentions"], row["forwards"], row["links"], row["channels"]) == (4, 2, 2, 3)
    assert row["first_seen_in"] == "b_channel" and row["first_seen"].replace(tzinfo=None) == T0.replace(tzinfo=None)
    assert row["last_seen"].replace(tzinfo=None) == (T0 + timedelta(days=9)).replace(tzinfo=None)
    assert row["title"] == "Synthetic Shop 02" and row["subscribers"] == 50

    with engine.begin() as c:
        store.advance_checkpoints(c, {"a_channel": 10})
        store.advance_checkpoints(c, {"a_channel": 7, "b_channel": 3})
    assert store.checkpoints(engine) == {"a_channel": 10, "b_channel": 3}

    PostWriter(engine, pseudonymiser, None).write(
        [RawPost(source="a_channel", external_id=str(i), text=f"synthetic {i}") for i in (1, 2)], source_kind="telegram")
    at = datetime(2026, 3, 5, tzinfo=timezone.utc)
    with engine.begin() as c:
        assert store.mark_deleted(c, "a_channel", [2, 99], at) == 1
        assert store.mark_deleted(c, "a_channel", [2], at + timedelta(days=1)) == 0  # the first time is kept
    with engine.connect() as c:
        rows = c.execute(select(m.Post.external_id, m.Post.deleted_at)).all()
    assert len(rows) == 2 and {e for e, d in rows if d is not None} == {"2"}

    assert store.promote(engine, "synthetic_shop_02") and not store.promote(engine, "synthetic_shop_02")
    assert store.promoted_channels(engine) == ["synthetic_shop_02"]
    assert store.discovered(engine) == [] and store.discovered(engine, include_added=True)[0]["status"] == "added"
    store.remember_entity(engine, "synthetic_shop_02", 1500000002, "Synthetic Shop 02")
    store.remember_entity(engine, "synthetic_shop_02", 1500000002, "Synthetic Shop 02 (renamed)")
    assert store.known_entities(engine) == {"synthetic_shop_02": (1500000002, "Synthetic Shop 02 (renamed)")}
    assert store.usernames_by_id(engine) == {1500000002: "synthetic_shop_02"}
