"""Server time of the substance page, the map and their CSVs over a million offers (issue 17: every page under
300 ms of server time on 1M offers), and of the `Watch` calls behind them.

    .venv/bin/python benchmarks/bench_substance_pages.py [--offers 1000000] [--runs 5]

The database is bench_trends.py's synthetic one (40 cities in 8 countries, 20 substances, two years, one mention
per offer, two offers per post), generated once into .benchmarks/pages-<n>.db, with its cities given real
GeoNames ids of focus-country cities so that the map places them (copied from bench_trends.py's database when
that exists). The weekly aggregate (migrations 0015 and 0017) is refreshed first and its time printed apart: pages
read it. Pages are requested through Starlette's test client (routing, the Watch calls, templates; no network),
logged in as a viewer; each is asked `--runs` times,
the first ("cold") run included in the table but not in the medians (wall, and CPU time of the process: the
steadier figure on a loaded machine). To time another checkout on the same database, run this script with that
checkout's package in place of this one's (as bench_trends.py's --base does), on a copy of the database
downgraded to its revision.
"""
from __future__ import annotations

import argparse
import re
import sqlite3
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_trends import generate, timed  # noqa: E402

PASSWORD = "bench-password-1234"  # noqa: S105 - a benchmark account
PAGES = [
    "/substance?substance=Bench-3",
    "/substance?substance=Bench-3&country=KZ&by=month&group=country&cur=usd",
    "/substance?cls=stimulant&tier=0",
    "/substance/places.csv?substance=Bench-3",
    "/substance/posts.csv?substance=Bench-3",
    "/map",
    "/map?substance=Bench-3&since=2025-10-01",
    "/map.csv?cls=synthetic_cathinone",
]


def database(n: int) -> Path:
    path = ROOT / ".benchmarks" / f"pages-{n}.db"
    if not path.exists():
        path.parent.mkdir(exist_ok=True)
        t = time.perf_counter()
        trends_db = ROOT / ".benchmarks" / f"trends-{n}.db"
        if trends_db.exists():  # bench_trends.py's database: the same rows
            src, dst = sqlite3.connect(trends_db), sqlite3.connect(path)
            src.backup(dst)
            src.close()
            dst.close()
        else:
            generate(path, n)
        from npswatch.pipelines.geo import city_coordinates

        real = sorted(city_coordinates())[:: max(1, len(city_coordinates()) // 40)][:40]
        c = sqlite3.connect(path)
        for rid, gid in zip(range(1, 41), real):
            c.execute("update region set geonameid = ? where id = ?", (gid, rid))
        c.commit()
        c.close()
        print(f"generated {path} in {time.perf_counter() - t:.0f} s")
    return path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, default=1_000_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    path = database(args.offers)

    from starlette.testclient import TestClient

    from npswatch.reports.maps import base_map
    from npswatch.watch import Watch
    from npswatch.web import create_app
    from npswatch.web.substance import Query, trend_table, weekly_table

    w = Watch(settings={"data_dir": str(path.parent), "database": {"url": f"sqlite:///{path}"}})
    w.upgrade()
    t, c = time.perf_counter(), time.process_time()
    refresh = getattr(w, "refresh_aggregate", None)  # None: a checkout before the aggregate (--base timing)
    segments = refresh() if refresh else 0  # after the migration (or a write), the first report would do it
    if segments:
        print(f"weekly aggregate refreshed ({segments} segments) in {time.perf_counter() - t:.1f} s, "
              f"CPU {time.process_time() - c:.1f} s")
    w.add_user("bench", PASSWORD, "viewer")
    base_map()  # the app warms it in a thread at start: not a page's cost
    qy = Query({"substance": "Bench-3", "cls": None, "country": None, "since": None, "until": None})
    print(f"{args.offers:,} offers; medians of {args.runs - 1} warm runs (cold = the first)")
    print(f"{'call':58} {'cold ms':>8} {'median ms':>10} {'CPU ms':>7}")
    for name, fn in [("Watch.trends via trend_table (week x city, per g)", lambda: trend_table(w, qy)),
                     ("Watch.trends via weekly_table (week, no group)", lambda: weekly_table(w, qy)),
                     ("Watch.substance_profile (places, sources, 20 posts)",
                      lambda: w.substance_profile(substance="Bench-3")),
                     ("Watch.places (everything)", lambda: w.places()),
                     ("PlacesResult.svg (the map, 40 cities)", lambda: w.places().svg(frame="auto"))]:
        cold, _best, med, cpu, _ = timed(fn, args.runs)
        print(f"{name:58} {cold * 1000:8.0f} {med * 1000:10.0f} {cpu * 1000:7.0f}")
    c = TestClient(create_app(w), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    c.post("/login", data={"name": "bench", "password": PASSWORD, "csrf": token, "next": "/"})
    print(f"{'page (server time, test client)':58} {'cold ms':>8} {'median ms':>10} {'CPU ms':>7}")
    for url in PAGES:
        def get(url=url):
            r = c.get(url)
            assert r.status_code == 200, (url, r.status_code)
            return r
        cold, _best, med, cpu, _ = timed(get, args.runs)
        print(f"{url:58} {cold * 1000:8.0f} {med * 1000:10.0f} {cpu * 1000:7.0f}")


if __name__ == "__main__":
    main()
