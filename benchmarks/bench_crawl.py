"""Crawl speed with extraction and storage on, against `scrapy bench` on the same machine in the same run.

    .venv/bin/python benchmarks/bench_crawl.py [--scale 20] [--bench-seconds 10]

1. `scrapy bench`: Scrapy's own benchmark (a local server of link pages, a spider that follows links, for
   `--bench-seconds`); its pages/s is response_received_count / elapsed_time_seconds of its final stats.
2. `npswatch crawl` of the three fixture-market layouts generated at `--scale` (scale 20: 4,200 listings,
   about 1,400 pages), served by the fixture server in a process of its own, into a fresh SQLite database,
   with the real extractor, listing tracking and all writes on the storage thread; its pages/s is the
   responses of the three sites over the longest of their elapsed times (the sites are crawled in
   parallel, and each site's elapsed time runs until its last batch is stored).

Prints both figures and their ratio (the goal is >= 0.8), and the extra checks: every listing stored once.
"""
from __future__ import annotations

import argparse
import ast
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def _stats_dumps(log: str) -> list[dict]:
    """Scrapy's 'Dumping Scrapy stats:' dicts from a log."""
    out = []
    for m in re.finditer(r"Dumping Scrapy stats:\n(\{.*?\})\n(?=\d{4}-|\Z)", log, re.S):
        text = re.sub(r"datetime\.datetime\([^)]*\)", "None", m.group(1))
        out.append(ast.literal_eval(text))
    return out


def scrapy_bench(seconds: int) -> tuple[float, int, float]:
    with tempfile.TemporaryDirectory() as tmp:  # no scrapy.cfg around: the plain default project
        proc = subprocess.run([str(BIN / "scrapy"), "bench", "-s", f"CLOSESPIDER_TIMEOUT={seconds}",
                               "-s", "REMOTE_CONTROL_ENABLED=False"], cwd=tmp, capture_output=True, text=True,
                              timeout=seconds + 120)
    stats = _stats_dumps(proc.stderr)
    if proc.returncode != 0 or not stats:
        raise SystemExit(f"scrapy bench failed:\n{proc.stderr[-2000:]}")
    pages, elapsed = stats[-1]["response_received_count"], stats[-1]["elapsed_time_seconds"]
    return pages / elapsed, pages, elapsed


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def npswatch_crawl(scale: int) -> tuple[float, int, float, int, int]:
    from sqlalchemy import text

    from npswatch.crawlers.fixture_market import build_market
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR
    from npswatch.storage.db import make_engine, upgrade

    listings = len(build_market(scale=scale).listings)
    port = _free_port()
    server = subprocess.Popen([sys.executable, "-m", "npswatch.crawlers.fixture_market", "--port", str(port),
                               "--scale", str(scale)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        server.stdout.readline()  # "fixture market at ..." once it listens
        with tempfile.TemporaryDirectory() as tmp:
            cfg = Path(tmp) / "npswatch.toml"
            cfg.write_text(f'data_dir = "{tmp}/data"\n[privacy]\nkey = "bench-0123456789abcdef0123456789abcdef"\n[web]\nsites_dir = "{FIXTURE_SITES_DIR}"\n')
            engine = make_engine(f"sqlite:///{tmp}/data/npswatch.db")
            upgrade(engine)
            env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "160"}
            t0 = time.perf_counter()
            proc = subprocess.run([str(BIN / "npswatch"), "crawl", "fixture_shop", "fixture_forum", "fixture_board",
                                   "--base-url", f"http://127.0.0.1:{port}", "-v"], cwd=ROOT, env=env,
                                  capture_output=True, text=True, timeout=1800)
            wall = time.perf_counter() - t0
            if proc.returncode != 0:
                raise SystemExit(f"npswatch crawl failed:\n{proc.stderr[-3000:]}")
            stats = _stats_dumps(proc.stderr)
            with engine.connect() as c:
                stored = c.execute(text("select count(*) from post")).scalar()
                offers = c.execute(text("select count(*) from offer")).scalar()
    finally:
        server.terminate()
        server.wait(10)
    pages = sum(s.get("response_received_count", 0) for s in stats)
    elapsed = max(s["elapsed_time_seconds"] for s in stats)
    print(f"  npswatch crawl process wall time {wall:.1f} s (start-up, extractor load and summary included)")
    if stored != listings:
        print(f"  WARNING: {stored} posts stored, {listings} listings in the market")
    return pages / elapsed, pages, elapsed, stored, offers


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scale", type=int, default=20)
    ap.add_argument("--bench-seconds", type=int, default=10)
    args = ap.parse_args()
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")
    print(f"scrapy bench ({args.bench_seconds} s)...")
    bench, bpages, belapsed = scrapy_bench(args.bench_seconds)
    print(f"  {bpages} pages in {belapsed:.1f} s")
    print(f"npswatch crawl of the fixture market at scale {args.scale} (extraction and storage on)...")
    ours, pages, elapsed, stored, offers = npswatch_crawl(args.scale)
    print(f"  {pages} pages in {elapsed:.1f} s; {stored} listings stored, {offers} offers extracted")
    print()
    print(f"scrapy bench:   {bench:8.1f} pages/s")
    print(f"npswatch crawl: {ours:8.1f} pages/s")
    print(f"ratio:          {ours / bench:8.2f}  (goal >= 0.8)")


if __name__ == "__main__":
    main()
