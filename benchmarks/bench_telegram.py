"""Telegram ingest speed: live updates -> stored rows, through the real collector and the bulk writer.

    .venv/bin/python benchmarks/bench_telegram.py [--messages 20000] [--rate 2000] [--extract]

A publisher process posts synthetic market messages (50-400 characters) into the offline Telegram
network, either as fast as it can (`--rate 0`) or at a steady rate; the listener is the real one: a real
Telethon client (update loop, message box, event builders) whose sender is the offline network, the real
handler, the batching writer and PostWriter on SQLite. Latency is measured per message from the moment
the publisher wrote it to the moment the transaction holding it committed, so it includes the offline
network's 10 ms polling. `--extract` runs the extractor on every post too (as `npswatch listen` does).
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import random
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

API_HASH = "0" * 31 + "1"
_STAMP = re.compile(r"#t(\d+\.\d+)")

_GOODS = ["товар A", "товар B", "синтетика C", "позиция D", "item E", "образец F"]
_CITIES = ["город N", "район S", "центр", "левый берег", "north side"]
_FILLER = ["в наличии", "закладки и доставка", "отзывы в канале", "оператор на связи 24/7", "скидки постоянным",
           "работаем без выходных", "новое поступление", "качество проверено"]


def message(rng: random.Random, i: int) -> str:
    parts = [f"{rng.choice(_GOODS)} {rng.choice(['0.5г', '1г', '2г', '5г'])} - {rng.randrange(10, 900) * 10}",
             rng.choice(_CITIES)]
    while sum(map(len, parts)) < rng.randrange(50, 380):
        parts.append(rng.choice(_FILLER))
    return f"{', '.join(parts)} (пост {i})"


def publisher(net_path: str, n: int, rate: float, seed: int) -> None:
    from npswatch.crawlers.telegram.offline import OfflineNetwork

    net = OfflineNetwork(net_path, api_hash=API_HASH)
    rng = random.Random(seed)
    texts = [message(rng, i) for i in range(n)]
    chunk = max(1, int(rate / 100)) if rate else 200  # a chunk every 10 ms at the given rate
    start = time.time()
    for k in range(0, n, chunk):
        if rate:
            delay = start + k / rate - time.time()
            if delay > 0:
                time.sleep(delay)
        now = time.time()
        net.publish_many("synthetic_channel_01", [f"{t} #t{now:.6f}" for t in texts[k:k + chunk]])


async def listen(tmp: Path, n: int, rate: float, extract: bool, flush: float = 0.2, batch: int = 500) -> dict:
    from npswatch.crawlers.telegram import client as client_mod
    from npswatch.crawlers.telegram.collector import TelegramCollector
    from npswatch.crawlers.telegram.login import login
    from npswatch.crawlers.telegram.offline import OfflineNetwork
    from npswatch.pipelines.privacy import Pseudonymiser
    from npswatch.config import load_settings
    from npswatch.storage.db import make_engine, upgrade
    from npswatch.storage.writer import PostWriter

    net = OfflineNetwork(tmp / "net.sqlite", api_hash=API_HASH)
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    client_mod.CLIENT_FACTORY = net.factory
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n[telegram]\napi_id = 1000001\napi_hash = "{API_HASH}"\n')
    engine = make_engine(f"sqlite:///{tmp / 'data' / 'npswatch.db'}")
    upgrade(engine)
    ps = Pseudonymiser(b"bench-key")
    extractor = None
    if extract:
        from npswatch.pipelines.extract import default_extractor

        extractor = default_extractor().for_storage
    client = client_mod.make_client(load_settings(cfg))
    await login(client, phone=lambda: "+10000000001", code=lambda: "12345", password=lambda: "")
    col = TelegramCollector(client, engine, PostWriter(engine, ps, extractor), ps, flush_seconds=flush, batch_size=batch)
    latencies: list[float] = []
    commit = col.batch.commit

    first_stamp: list[float] = []
    last_commit = [0.0]

    def timed_commit(items):
        commit(items)
        now = last_commit[0] = time.time()
        for it in items:
            if it.post is not None:
                stamp = float(_STAMP.search(it.post.text).group(1))
                if not first_stamp:
                    first_stamp.append(stamp)
                latencies.append(now - stamp)

    col.batch.commit = timed_commit
    stop = asyncio.Event()
    task = asyncio.create_task(col.listen(lambda: ["synthetic_channel_01"], stop, reconcile_every=3600))
    while col.reconciles < 1:
        await asyncio.sleep(0.01)
    proc = mp.get_context("spawn").Process(target=publisher, args=(str(net.path), n, rate, 7))
    proc.start()
    while len(latencies) < n:
        if not proc.is_alive() and proc.exitcode:
            raise SystemExit(f"publisher failed ({proc.exitcode})")
        await asyncio.sleep(0.02)
    wall = last_commit[0] - first_stamp[0]  # first message published -> last one committed
    proc.join()
    stop.set()
    await task
    await client.disconnect()
    from sqlalchemy import text

    with engine.connect() as c:
        rows = c.execute(text("SELECT count(*) FROM post")).scalar()
    lat = sorted(latencies)
    return {"messages": n, "rows": rows, "wall": wall, "rate": n / wall, "flushes": col.batch.flushes,
            "p50": statistics.median(lat), "p99": lat[int(0.99 * (len(lat) - 1))], "max": lat[-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=20000)
    ap.add_argument("--rate", type=float, default=None, help="messages/s; 0 = as fast as possible (default: both)")
    ap.add_argument("--extract", action="store_true", help="run the extractor on every post")
    ap.add_argument("--flush-seconds", type=float, default=0.2, help="telegram.flush_seconds (default 0.2)")
    ap.add_argument("--batch-size", type=int, default=500, help="telegram.batch_size (default 500)")
    args = ap.parse_args()
    rates = [args.rate] if args.rate is not None else [0, 1000, 2000]
    print(f"{args.messages} messages, SQLite, extractor {'on' if args.extract else 'off'}")
    for rate in rates:
        with tempfile.TemporaryDirectory() as d:
            r = asyncio.run(listen(Path(d), args.messages, rate, args.extract, args.flush_seconds, args.batch_size))
        label = "as fast as possible" if not rate else f"published at {rate:.0f}/s"
        # The target: >= 1,000 msg/s stored with p99 < 500 ms. A burst shows the ceiling (its latency is
        # queueing time); other rates show the headroom and are not judged.
        if rate == 0:
            ok = "target OK" if r["rate"] >= 1000 else "below target"
        elif rate == 1000:
            ok = "target OK" if r["rate"] >= 950 and r["p99"] < 0.5 else "below target"
        else:
            ok = "headroom"
        print(f"{label:>22}: {r['rate']:7.0f} msg/s stored, latency p50 {r['p50'] * 1000:5.0f} ms, "
              f"p99 {r['p99'] * 1000:5.0f} ms, max {r['max'] * 1000:5.0f} ms; {r['rows']} rows, "
              f"{r['flushes']} flushes [{ok}]")


if __name__ == "__main__":
    main()
