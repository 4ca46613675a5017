"""Serve the fixture market for analysts: `python -m crawlers.fixture_market --port 8765`."""
from __future__ import annotations

import argparse
import time
from collections import Counter
from datetime import datetime, timezone

from npswatch.crawlers.fixture_market import build_market, serve


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m crawlers.fixture_market", description=__doc__)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=0, help="0 picks a free port")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--scale", type=int, default=1, help="multiplies the number of listings")
    ap.add_argument("--changes", type=int, default=0, help="rounds of churn (changed prices, stock, listings)")
    ap.add_argument("--delay", type=float, default=0.0, help="seconds every page takes (a slow site)")
    ap.add_argument("--now", default="2026-06-30T12:00:00+00:00", help="ISO time the relative dates refer to")
    args = ap.parse_args(argv)
    now = datetime.fromisoformat(args.now)
    market = build_market(seed=args.seed, now=now if now.tzinfo else now.replace(tzinfo=timezone.utc),
                          scale=args.scale, changes=args.changes)
    by_site = Counter(l.site for l in market.listings)
    with serve(market, args.host, args.port, args.delay) as srv:
        print(f"fixture market at {srv.base_url}/  ({len(market.listings)} listings: "
              + ", ".join(f"{k} {v}" for k, v in sorted(by_site.items())) + ")", flush=True)
        print(f"  {srv.base_url}/shop/catalog  {srv.base_url}/forum/  {srv.base_url}/board/  (Ctrl-C stops)",
              flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
