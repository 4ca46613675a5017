"""Channel and post metrics over time: subscribers, names, description, linked group and flags of a channel,
views, forwards, replies and reactions of its recent posts, sampled by `npswatch telegram sample` (the `metrics`
job) and by the listener (on start, at each recheck). Real Telethon, offline network."""
from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.config import Settings
from npswatch.crawlers.telegram.collector import TelegramCollector
from npswatch.schedules import catalogue
from npswatch.scheduler.jobs import command_line
from npswatch.storage import telegram_store as store
from npswatch.storage.tables import T_CHANNEL_SAMPLE, T_POST_SAMPLE
from npswatch.storage.writer import PostWriter
from npswatch.watch import Watch

from offline_telegram import logged_in, telegram_config, until

runner = CliRunner()
SHOP, CLOSED = "synthetic_metrics_01", "synthetic_metrics_02"


def invoke(cfg, *args):
    return runner.invoke(app, ["--config", str(cfg), *args])


def shop_network(net) -> int:
    shop = net.add_channel(SHOP, "Synthetic Metrics Shop", participants=1000)
    group = net.add_channel("synthetic_metrics_chat", "Synthetic Metrics Chat", megagroup=True)
    net.set_channel_info(SHOP, about="Синтетический магазин. Оператор: @synthetic_operator_01, +7 700 000 00 31",
                         linked_chat=group)
    net.add_channel(CLOSED, "Synthetic Closed Shop", participants=50)
    old = datetime.now(timezone.utc) - timedelta(days=20)
    net.publish(SHOP, "old synthetic post", date=old)                                 # 1: older than the window
    for i in range(3):
        net.publish(SHOP, f"synthetic post {i}")                                       # 2, 3, 4
    net.set_views(SHOP, 2, views=10, forwards=1)
    return shop


def test_sample_then_show_subscribers_and_changes_over_time(net, tmp_path):
    shop_network(net)
    cfg = telegram_config(tmp_path, [SHOP, CLOSED])
    assert invoke(cfg, "db", "upgrade").exit_code == 0
    asyncio.run(_log_in(cfg))
    net.set_state(CLOSED, "private")

    first = invoke(cfg, "telegram", "sample")
    assert first.exit_code == 1, first.output  # one channel refused: said, recorded, the other sampled
    assert f"{SHOP}: 1,000 subscribers, 3 posts sampled" in first.output
    assert f"{CLOSED}: private" in " ".join(first.output.split())

    net.set_channel_info(SHOP, participants=1250, title="Synthetic Metrics Shop NEW", scam=True,
                         about="Синтетический магазин закрыт")
    net.set_views(SHOP, 2, views=250, forwards=9, replies=4, reactions={"👍": 3, "🔥": 2})
    second = invoke(cfg, "telegram", "sample", "--channel", SHOP, "--days", "30")
    assert second.exit_code == 0, second.output
    assert f"{SHOP}: 1,250 subscribers, 4 posts sampled" in second.output

    shown = invoke(cfg, "telegram", "metrics", SHOP)
    assert shown.exit_code == 0, shown.output
    text = " ".join(shown.output.split())
    assert "1,000" in text and "1,250" in text and "+250" in text and "scam" in text
    assert "title: Synthetic Metrics Shop -> Synthetic Metrics Shop NEW" in text
    assert "scam: False -> True" in text and "about:" in text

    w = Watch(cfg)
    r = w.channel_metrics(SHOP)
    assert [s.subscribers for s in r.samples] == [1000, 1250]
    first_sample = r.samples[0]
    assert first_sample.linked_chat_id == net.channel_id("synthetic_metrics_chat") and first_sample.username == SHOP
    assert not first_sample.verified and not first_sample.scam and r.samples[1].scam
    assert "synthetic_operator_01" not in (first_sample.about or "") and "700 000" not in first_sample.about
    assert "tel_" in first_sample.about  # the description is kept, its identifiers pseudonymised
    views = [(p.at, p.views, p.forwards, p.replies, p.reactions, p.reaction_counts) for p in r.posts if p.message_id == 2]
    assert [v[1:] for v in views] == [(10, 1, None, None, None), (250, 9, 4, 5, {"👍": 3, "🔥": 2})]
    assert views[0][0] < views[1][0]
    assert {p.message_id for p in r.posts} == {1, 2, 3, 4}  # the 30-day sample reached the old post too

    # `trends --channel` shows the same series; JSON for scripts
    js = invoke(cfg, "trends", "--channel", f"https://t.me/{SHOP}", "--format", "json")
    assert js.exit_code == 0, js.output
    data = json.loads(js.output)
    assert data["channel"] == SHOP and [s["subscribers"] for s in data["samples"]] == [1000, 1250]
    assert any(c["field"] == "title" for c in data["changes"])

    assert store.channel_states(w.checked_engine())[CLOSED].status == "private"
    unknown = invoke(cfg, "telegram", "metrics", "synthetic_never_sampled")
    assert unknown.exit_code == 2 and "no metrics of @synthetic_never_sampled" in unknown.output
    assert "Traceback" not in unknown.output


async def _log_in(cfg):
    client = await logged_in(cfg, role="backfill")
    await client.disconnect()
    client = await logged_in(cfg)
    await client.disconnect()


def test_the_listener_samples_on_start_and_its_recheck_resamples_views(net, tmp_path, engine, pseudonymiser):
    shop_network(net)
    cfg = telegram_config(tmp_path, [SHOP])

    async def scenario():
        client = await logged_in(cfg)
        col = TelegramCollector(client, engine, PostWriter(engine, pseudonymiser, None), pseudonymiser,
                                flush_seconds=0.05, initial_days=0)
        stop = asyncio.Event()
        task = asyncio.create_task(col.listen(lambda: [SHOP], stop, reconcile_every=0.2, recheck_days=7,
                                              recheck_every=0.5))
        await until(lambda: _count(engine, T_CHANNEL_SAMPLE) >= 1, "the sample taken on start")
        net.set_views(SHOP, 3, views=77, reactions={"❤": 6})
        net.set_channel_info(SHOP, participants=1500)
        await until(lambda: (77, 6) in _views(engine, 3), "a recheck that re-samples post 3")
        await until(lambda: 1500 in _subscribers(engine), "a recheck that re-samples the channel")
        stop.set()
        await task
        await client.disconnect()

    asyncio.run(scenario())
    assert _subscribers(engine)[0] == 1000
    assert _views(engine, 3)[0] == (1, None) and _views(engine, 2)[0] == (10, None)  # as first seen (reconcile)


def _count(engine, table) -> int:
    with engine.connect() as c:
        return len(c.execute(select(table.c.id)).all())


def _views(engine, mid: int) -> list[tuple]:
    p = T_POST_SAMPLE.c
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(select(p.views, p.reactions).where(p.message_id == mid).order_by(p.id))]


def _subscribers(engine) -> list[int]:
    s = T_CHANNEL_SAMPLE.c
    with engine.connect() as c:
        return list(c.execute(select(s.subscribers).order_by(s.id)).scalars())


def test_the_metrics_job_runs_telegram_sample():
    s = Settings(schedules=[{"job": "metrics", "every": "6h"}, {"job": "metrics", "source": SHOP, "every": "1d"}])
    every, one = catalogue(s)
    assert command_line(every, s)[3:] == ["telegram", "sample"]
    assert command_line(one, s)[3:] == ["telegram", "sample", "--channel", SHOP]
    assert every.child_kinds == ("telegram-metrics",)


def test_sampling_needs_a_schema_and_channels(tmp_path):
    cfg = telegram_config(tmp_path, [])
    assert invoke(cfg, "db", "upgrade").exit_code == 0
    r = invoke(cfg, "telegram", "sample")
    assert r.exit_code == 2 and "no channels" in r.output
