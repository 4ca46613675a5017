"""What reading message kinds (polls, places, contact cards, via_bot: `crawlers/telegram/kinds.py`) costs the
Telegram conversion, in one run.

    .venv/bin/python benchmarks/bench_telegram_kinds.py [--messages 50000]

Converts the same synthetic messages with the real converters (`convert_message` for Telethon `Message`s,
the export importer's `_convert` for Desktop JSON) two ways, alternated, best of three rounds: with the kinds read, and with `kinds.merge`
replaced by a pass-through (the converter as it was before). Plain text posts are what a channel mostly
posts, so their rate is what the listener and the importer feel; the kinds themselves are timed apart
(a place looks up the gazetteer and the nearest city).
"""
from __future__ import annotations

import argparse
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=50_000)
    args = ap.parse_args()

    from telethon import types

    from npswatch.crawlers.telegram import kinds
    from npswatch.crawlers.telegram.convert import ChannelRef, convert_message
    from npswatch.crawlers.telegram.export import _convert
    from npswatch.pipelines.privacy import Pseudonymiser

    rng = random.Random(7)
    ps = Pseudonymiser(b"bench-key-not-secret-0123456789abcdef")
    ref = ChannelRef("synthetic_bench_01", 1_500_000_001, "synthetic_bench_01")
    date = datetime(2026, 12, 1, tzinfo=timezone.utc)
    texts = [f"товар {rng.choice('ABCDE')} {rng.choice(['0.5г', '1г', '2г'])} - {rng.randrange(10, 900) * 10}, "
             f"город N, в наличии (пост {i})" for i in range(args.messages)]
    tl = [types.Message(id=i + 1, peer_id=types.PeerChannel(ref.channel_id), date=date, message=t, post=True, views=1)
          for i, t in enumerate(texts)]
    js = [{"id": i + 1, "type": "message", "date_unixtime": "1796040000", "date": "2026-12-01T00:00:00", "text": t}
          for i, t in enumerate(texts)]

    def geo(lat, lon):
        return types.GeoPoint(long=lon, lat=lat, access_hash=0)

    answer = types.PollAnswer(text=types.TextWithEntities("товар A", []), option=b"0")
    medias = {
        "poll": types.MessageMediaPoll(poll=types.Poll(id=1, question=types.TextWithEntities("что завезти?", []), hash=0,
                                                       answers=[answer]), results=types.PollResults()),
        "location": types.MessageMediaGeo(geo=geo(43.2567, 76.9286)),
        "venue": types.MessageMediaVenue(geo=geo(42.87, 74.6), title="x", address="ул. Синтетическая 1, Бишкек",
                                         provider="", venue_id="", venue_type=""),
        "contact": types.MessageMediaContact(phone_number="77000000017", first_name="Synthetic", last_name="", vcard="",
                                             user_id=0),
    }

    def rate(fn, items) -> float:
        t0 = time.perf_counter()
        for it in items:
            fn(it)
        return len(items) / (time.perf_counter() - t0)

    def listener(m):
        return convert_message(m, ref, ps)

    def importer(m):
        return _convert(m, ref, ps, lambda _i: None)

    rate(listener, tl[:2000])  # warm up (gazetteer, city points)
    rate(importer, js[:2000])
    merge = kinds.merge
    results = {"kinds read": (0.0, 0.0), "before (pass-through)": (0.0, 0.0)}
    for _round in range(3):  # alternated, best of three: the machine is shared
        for label in results:
            kinds.merge = merge if label == "kinds read" else (lambda text, *_a: text)
            got = (rate(listener, tl), rate(importer, js))
            results[label] = tuple(max(a, b) for a, b in zip(results[label], got))
    kinds.merge = merge
    print(f"{args.messages:,} plain text messages, msgs/s    listener convert   export convert")
    for label, (a, b) in results.items():
        print(f"  {label:<24}          {a:>10,.0f}       {b:>10,.0f}")
    a0, b0 = results["before (pass-through)"]
    a1, b1 = results["kinds read"]
    print(f"  ratio (after / before)            {a1 / a0:>10.2f}       {b1 / b0:>10.2f}")
    n = max(1000, args.messages // 20)
    for name, media in medias.items():
        msgs = [types.Message(id=i + 1, peer_id=types.PeerChannel(ref.channel_id), date=date, message="", media=media)
                for i in range(n)]
        print(f"  {name:<10} {rate(listener, msgs):>10,.0f} msgs/s (listener convert, {n:,} messages)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
