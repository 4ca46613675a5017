"""Trend queries over a million offers: the figure reported in README (goal: week x city < 1 s on SQLite).

    .venv/bin/python benchmarks/bench_trends.py [--offers 1000000] [--pg postgresql+psycopg://...] [--base DIR]

The database is generated once (synthetic: 40 cities in 8 countries, 20 substances, two years, one mention per
offer, two offers per post) into .benchmarks/trends-<n>.db through the real migrations, and reused. The weekly
aggregate (migration 0015) is refreshed first (after generation: built from all rows; the time is printed), and
the queries read it, as reports do; "raw rows" times the same query from the offers and mentions
(`method="columns"`). Each query runs 7 times in this process; the first ("cold") run includes importing
pyarrow and the ADBC driver.
With --pg the same rows are copied into PostgreSQL (a fresh schema, dropped afterwards), the aggregate built
there, and timed by the three methods (the aggregate; columns read through the ADBC driver; the server's
percentile_cont).
With --base DIR (another checkout, e.g. `git archive <commit> | tar -x -C DIR`) week x city is also timed with
that checkout's code, in a child process of this venv, on the same database(s), alternating with this one: the
before and after of one run.
"""
from __future__ import annotations

import argparse
import os
import random
import sqlite3
import statistics
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COUNTRIES = {"KZ": "KZT", "KG": "KGS", "UZ": "UZS", "TJ": "TJS", "RU": "RUB", "BY": "BYN", "GE": "GEL", "RS": "RSD"}
RATE = {"KZT": 480.0, "KGS": 87.0, "UZS": 12600.0, "TJS": 10.9, "RUB": 92.0, "BYN": 3.2, "GEL": 2.7, "RSD": 108.0,
        "USDT": 1.0}


def generate(path: Path, n_offers: int, revision: str = "head") -> None:
    """Write the synthetic database to `path` (schema migrated up to `revision`)."""
    from npswatch.storage.db import make_engine, upgrade

    tmp = path.with_suffix(".tmp")
    for p in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
        p.unlink(missing_ok=True)
    eng = make_engine(f"sqlite:///{tmp}")
    upgrade(eng, revision)
    eng.dispose()
    rnd = random.Random(42)
    c = sqlite3.connect(tmp)
    c.execute("PRAGMA synchronous=OFF")
    c.execute("insert into source(id, key, kind) values (1, 'bench-shop.test', 'web')")
    cities = []
    for i, (cc, cur) in enumerate(COUNTRIES.items()):
        for j in range(5):
            rid = i * 5 + j + 1
            cities.append((rid, cc, cur))
            c.execute("insert into region(id, key, level, geonameid, name, country) values (?, ?, 'city', ?, ?, ?)",
                      (rid, f"city:{900000 + rid}", 900000 + rid, f"City {rid:02d}", cc))
    for s in range(1, 21):
        c.execute("insert into substance(id, key, canonical, class, origin) values (?, ?, ?, ?, 'lexicon')",
                  (s, f"bench-{s}", f"Bench-{s}", "synthetic_cathinone" if s < 8 else "stimulant"))
    start = datetime(2024, 1, 1)
    span = 2 * 365 * 86400
    n_posts = n_offers // 2
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    stamps = [(start + timedelta(seconds=rnd.randrange(span))).strftime(fmt) for _ in range(n_posts)]
    c.executemany("insert into post(id, source_id, external_id, text_hash, version, posted_at) values (?, 1, ?, ?, 1, ?)",
                  ((i + 1, str(i + 1), str(i + 1), stamps[i]) for i in range(n_posts)))

    def offers():
        for i in range(n_offers):
            pid = i // 2 + 1
            rid, _, cur = cities[rnd.randrange(len(cities))]
            if rnd.random() < 0.1:
                cur = "USDT"
            sub = rnd.randint(1, 20)
            usd_ppg = rnd.lognormvariate(3.3, 0.35)
            ppg = round(usd_ppg * RATE[cur], 2)
            usd = round(usd_ppg, 4) if rnd.random() < 0.8 else None
            grams = rnd.choice((0.5, 1.0, 2.0, 5.0))
            yield (i + 1, pid, sub, rid, grams, "g", grams, ppg * grams, cur, ppg, usd, stamps[pid - 1])

    c.executemany("insert into offer(id, post_id, substance_id, region_id, quantity, unit, grams, price, currency, "
                  "price_per_gram, price_per_gram_usd, observed_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  offers())
    c.execute("insert into mention(post_id, substance_id, region_id, matched, observed_at) "
              "select post_id, substance_id, region_id, 'x', observed_at from offer")
    c.commit()
    c.execute("ANALYZE")
    c.close()
    tmp.rename(path)


def cpu_time() -> float:
    """CPU seconds of this process (all threads) and of its SQLite reader process (storage/arrow_reads.py; a
    checkout from before it read SQLite in this process)."""
    try:
        from npswatch.storage import arrow_reads
    except ImportError:
        return time.process_time()
    return time.process_time() + arrow_reads.cpu_seconds()


def timed(fn, runs: int = 5) -> tuple[float, float, float, float, object]:
    """(cold, best, median wall seconds, median CPU seconds (`cpu_time`), result)."""
    times, cpu, result = [], [], None
    for _ in range(runs):
        t, c = time.perf_counter(), cpu_time()
        result = fn()
        times.append(time.perf_counter() - t)
        cpu.append(cpu_time() - c)
    return times[0], min(times), statistics.median(times[1:] or times), statistics.median(cpu[1:] or cpu), result


# Runs in a child process: the other checkout's package imported in place of this one's (editable install).
_CHILD = r"""
import json, statistics, sys, time
base, url, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
for finder in list(sys.meta_path):
    mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
    if isinstance(mapping, dict) and "npswatch" in mapping:
        for k in mapping:
            mapping[k] = base + "/" + ("npswatch" if k == "npswatch" else k.split(".", 1)[1])
from npswatch.reports import trends as tr
from npswatch.storage.db import make_engine
assert tr.__file__.startswith(base), tr.__file__
eng = make_engine(url)
wall, cpu = [], []
for _ in range(runs):
    t, c = time.perf_counter(), time.process_time()
    rows = tr.trends(eng, by="week", group="city")
    wall.append(time.perf_counter() - t)
    cpu.append(time.process_time() - c)
print(json.dumps({"rows": len(rows), "cold": wall[0], "best": min(wall), "median": statistics.median(wall[1:]),
                  "cpu": statistics.median(cpu[1:])}))
"""


def run_base(base: Path, url: str, runs: int) -> dict:
    import json
    import subprocess

    out = subprocess.run([sys.executable, "-c", _CHILD, str(base.resolve()), url, str(runs)], capture_output=True,
                         text=True, check=True, cwd=base)
    return json.loads(out.stdout.strip().splitlines()[-1])


def show(label: str, rows: int, cold: float, best: float, med: float, cpu: float) -> None:
    print(f"{label:36} {rows:6d} {cold:7.3f} {best:7.3f} {med:9.3f} {cpu:6.3f}")


def copy_to_pg(sqlite_path: Path, pg_url: str):
    from sqlalchemy import text

    from npswatch.storage.db import make_engine, upgrade

    schema = f"bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(pg_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in pg_url else "?"
    eng = make_engine(f"{pg_url}{sep}options=-csearch_path%3D{schema}")
    upgrade(eng)
    src = sqlite3.connect(sqlite_path)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        for table, cols in [("source", "id, key, kind"), ("region", "id, key, level, geonameid, name, country"),
                            ("substance", 'id, key, canonical, "class", origin'),
                            ("post", "id, source_id, external_id, text_hash, version, posted_at"),
                            ("offer", "id, post_id, substance_id, region_id, quantity, unit, grams, price, currency, "
                                      "price_per_gram, price_per_gram_usd, observed_at"),
                            ("mention", "id, post_id, substance_id, region_id, matched, observed_at")]:
            with cur.copy(f"COPY {table} ({cols}) FROM STDIN") as cp:
                for row in src.execute(f"select {cols} from {table}"):
                    cp.write_row([f"{v}+00" if isinstance(v, str) and len(v) == 26 and v[4] == "-" and v[10] == " "
                                  else v for v in row])
        cur.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    return eng, admin, schema


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, default=1_000_000)
    ap.add_argument("--pg", help="also time PostgreSQL at this URL")
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--base", type=Path, help="also time week x city with the checkout in this folder (before)")
    args = ap.parse_args()

    from npswatch.reports import trends as tr
    from npswatch.reports import weekly
    from npswatch.reports.scope import Filters
    from npswatch.storage.db import make_engine, upgrade

    path = ROOT / ".benchmarks" / f"trends-{args.offers}.db"
    path.parent.mkdir(exist_ok=True)
    if not path.exists():
        t = time.perf_counter()
        generate(path, args.offers)
        print(f"generated {path} in {time.perf_counter() - t:.0f} s")
    eng = make_engine(f"sqlite:///{path}")
    upgrade(eng)
    t, c = time.perf_counter(), time.process_time()
    segments = weekly.refresh(eng)
    if segments:
        print(f"weekly aggregate refreshed ({segments} segments) in {time.perf_counter() - t:.1f} s, "
              f"CPU {time.process_time() - c:.1f} s")
    n = sqlite3.connect(path).execute("select count(*) from offer").fetchone()[0]
    print(f"SQLite {sqlite3.sqlite_version}, {n:,} offers, {n:,} mentions (read through the stdlib driver)")
    last = datetime(2026, 1, 1, tzinfo=timezone.utc)
    cases = [
        ("week x city, all offers", dict(by="week", group="city")),
        ("month x country", dict(by="month", group="country")),
        ("week x substance, one country", dict(filters=Filters(country="KZ"), by="week", group="substance")),
        ("week x city, last 90 days", dict(filters=Filters(since=last - timedelta(days=90)), by="week", group="city")),
    ]
    print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"{'query':34} {'rows':>6} {'cold s':>7} {'best s':>7} {'median s':>9} {'CPU s':>6}")
    for label, kw in cases:
        cold, best, med, cpu, rows = timed(lambda kw=kw: tr.trends(eng, **kw), runs=args.runs)
        print(f"{label:34} {len(rows):6d} {cold:7.3f} {best:7.3f} {med:9.3f} {cpu:6.3f}")
    read = tr.read_columns
    tr.read_columns = lambda engine, sql, **kw: read(engine, sql, arrow=False)
    cold, best, med, cpu, rows = timed(lambda: tr.trends(eng, by="week", group="city"), runs=3)
    tr.read_columns = read
    print(f"{'week x city, stdlib sqlite3 driver':34} {len(rows):6d} {cold:7.3f} {best:7.3f} {med:9.3f} {cpu:6.3f}")
    cold, best, med, cpu, rows = timed(lambda: tr.trends(eng, by="week", group="city", method="columns"), runs=3)
    show("week x city, raw rows (no aggregate)", len(rows), cold, best, med, cpu)
    if args.base:
        b = run_base(args.base, f"sqlite:///{path}", args.runs)
        show("week x city, base checkout", b["rows"], b["cold"], b["best"], b["median"], b["cpu"])
        cold, best, med, cpu, rows = timed(lambda: tr.trends(eng, by="week", group="city"), runs=args.runs)
        show("week x city, this checkout", len(rows), cold, best, med, cpu)
    if args.pg:
        from sqlalchemy import text

        t = time.perf_counter()
        pg, admin, schema = copy_to_pg(path, args.pg)
        print(f"copied to PostgreSQL schema {schema} in {time.perf_counter() - t:.0f} s")
        try:
            t, c = time.perf_counter(), time.process_time()
            segments = weekly.refresh(pg)
            print(f"PostgreSQL weekly aggregate built ({segments} segments) in {time.perf_counter() - t:.1f} s, "
                  f"CPU {time.process_time() - c:.1f} s")
            for method in ("aggregate", "columns", "sql"):
                cold, best, med, cpu, rows = timed(lambda m=method: tr.trends(pg, by="week", group="city", method=m),
                                                   runs=3)
                show(f"PostgreSQL week x city, {method}", len(rows), cold, best, med, cpu)
            if args.base:
                b = run_base(args.base, pg.url.render_as_string(hide_password=False), 3)
                show("PostgreSQL week x city, base", b["rows"], b["cold"], b["best"], b["median"], b["cpu"])
        finally:
            pg.dispose()
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


if __name__ == "__main__":
    main()
