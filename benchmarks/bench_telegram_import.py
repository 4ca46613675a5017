"""Telegram Desktop export import: memory and speed against the file size (extraction off).

    .venv/bin/python benchmarks/bench_telegram_import.py [--mb 200] [--reader stream|whole] [--limit-mb 500]

Writes a synthetic single-channel export of about `--mb` megabytes (streamed to disk, so the generator holds
no copy), then imports it in a child process into a fresh SQLite database with `import_export` and reports
messages/s and the child's peak resident memory (ru_maxrss). `--reader whole` reads the file the old way
(`json.loads` of the whole text) for a before/after figure in one run. The issue's target is a 1 GB export
within 500 MB: `--mb 1024` (about 10 minutes on two cores); the exit code is 1 when the peak exceeds
`--limit-mb`.
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHANNEL_ID = 1_500_000_001
_WORDS = ["товар A", "товар B", "синтетика C", "0.5г", "1г", "2г", "город N", "центр", "в наличии", "доставка",
          "отзывы в канале", "оператор на связи", "скидки", "новое поступление", "item E", "north side"]


def message(rng: random.Random, i: int) -> str:
    """A synthetic market post of 50-380 characters."""
    parts = [f"{rng.choice(_WORDS)} - {rng.randrange(10, 900) * 10}"]
    while sum(map(len, parts)) < rng.randrange(50, 380):
        parts.append(rng.choice(_WORDS))
    return f"{', '.join(parts)} (пост {i})"


def write_export(path: Path, mb: float, seed: int = 7) -> int:
    rng = random.Random(seed)
    target = int(mb * 1024 * 1024)
    n = 0
    with open(path, "w", encoding="utf-8") as f:
        f.write('{\n "name": "Synthetic Channel 01",\n "type": "public_channel",\n'
                f' "id": {CHANNEL_ID},\n "messages": [\n')
        size = 0
        while size < target:
            n += 1
            t = 1_700_000_000 + n * 60
            m = {"id": n, "type": "message", "date": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)),
                 "date_unixtime": str(t), "from": "Synthetic Channel 01", "from_id": f"channel{CHANNEL_ID}",
                 "text": [message(rng, n), {"type": "bold", "text": " 1г"}],
                 "text_entities": [{"type": "plain", "text": message(rng, n)}]}
            line = ("  " if n == 1 else ",\n  ") + json.dumps(m, ensure_ascii=False)
            f.write(line)
            size += len(line.encode())
        f.write("\n ]\n}\n")
    return n


def child(export: str, db: str, reader: str, out) -> None:
    from npswatch.crawlers.telegram import export as ex
    from npswatch.pipelines.privacy import Pseudonymiser
    from npswatch.storage import telegram_store as store
    from npswatch.storage.db import make_engine, upgrade
    from npswatch.storage.writer import PostWriter

    if reader == "whole":
        def whole(p):  # the old reader (json.loads of the whole text), for the before figure
            for chat in ex._read(p):  # noqa: SLF001
                yield ("chat", chat.header, False)
                for m in chat.messages:
                    yield ("message", m)
        ex._events = whole
    engine = make_engine(f"sqlite:///{db}")
    upgrade(engine)
    ps = Pseudonymiser(b"benchmark-key-benchmark-key-0001")

    def write_links(links):
        with engine.begin() as conn:
            return store.record_links(conn, links)

    start = time.perf_counter()
    r = ex.import_export(Path(export), PostWriter(engine, ps, None), write_links)
    secs = time.perf_counter() - start
    out.send({"messages": r.messages, "inserted": r.write.inserted, "seconds": secs,
              "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024})


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, default=200, help="export size in MB (the issue: 1024)")
    ap.add_argument("--reader", choices=["stream", "whole", "both"], default="both")
    ap.add_argument("--limit-mb", type=float, default=500)
    args = ap.parse_args()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        export = Path(tmp) / "result.json"
        t0 = time.perf_counter()
        n = write_export(export, args.mb)
        print(f"export: {export.stat().st_size / 2**20:.0f} MB, {n} messages, written in "
              f"{time.perf_counter() - t0:.0f} s")
        for reader in (["whole", "stream"] if args.reader == "both" else [args.reader]):
            recv, send = mp.Pipe(duplex=False)
            p = mp.get_context("spawn").Process(target=child, args=(str(export), f"{tmp}/{reader}.db", reader, send))
            p.start()
            r = recv.recv()
            p.join()
            within = r["peak_mb"] <= args.limit_mb
            ok &= within or reader == "whole"
            print(f"{reader:>6}: {r['messages']} messages in {r['seconds']:.1f} s = {r['messages'] / r['seconds']:.0f} msg/s;"
                  f" peak {r['peak_mb']:.0f} MB ({'within' if within else 'OVER'} {args.limit_mb:.0f} MB)")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
