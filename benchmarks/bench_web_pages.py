"""Every page of the web app on a database of 1M offers and 2M posts (issue 17 item 9: < 300 ms of server time).

    .venv/bin/python benchmarks/bench_web_pages.py [--offers 1000000] [--posts 2000000] [--runs 5] [--base DIR]
        [--pg postgresql+psycopg://postgres@127.0.0.1:5432/test]

The database is generated once into .benchmarks/web-<offers>-<posts>.db (schema at migration 0014, the last
one every checkout knows) and reused: bench_trends' 1M offers on 500k posts, 1.5M more posts without offers
(Telegram channels and web shops, up to 2026-12), texts for all 2M posts with the search index filled, job
history, listing observations, channel states, 3000 signals (a third triaged), 2000 candidates with mentions,
5000 discovered channels with 300k links, 3000 discovered sites, accounts, sessions and an audit log.
This checkout's pages run on a copy migrated to its head (.benchmarks/web-...-head.db).

Each page is requested `--runs` times through Starlette's test client (as an admin: the audit log needs one);
"cold" is the first request, the median is over the others; "CPU" is this process's CPU time (all threads), the
steadier figure on a loaded machine. The substance page, the map and their CSVs are the "agg" work (migration
0015's weekly aggregate), marked `agg` in the table. With --base DIR (another checkout with its compiled modules,
e.g. `git archive <commit> | tar -x -C DIR` plus `setup.py build_ext --inplace`) the same pages are timed with
that checkout's code in a child process on the 0014 database, alternating rounds with this one: before and after
from one run. With --pg URL the pages run on PostgreSQL instead: the head database's rows are copied into a
schema of that server once (`bench_<file name>`, kept for the next run; drop it to copy again), the search index
built after the copy.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_substance_pages import PAGES as AGG  # noqa: E402 - the agg helper's pages, timed there too
from bench_trends import cpu_time, generate  # noqa: E402

BASE = os.environ.get("BENCH_WEB_BASE")  # set in the child process that times another checkout's code
if BASE:  # before anything imports npswatch: the editable install's mapping points at the other checkout
    sys.path.insert(0, BASE)
    for finder in list(sys.meta_path):
        mapping = getattr(sys.modules.get(getattr(finder, "__module__", "")), "MAPPING", None)
        if isinstance(mapping, dict) and "npswatch" in mapping:
            for k in mapping:
                mapping[k] = BASE + "/" + ("npswatch" if k == "npswatch" else k.split(".", 1)[1])

PASSWORD = "bench-password-1234"  # noqa: S105 - a benchmark account
COMMON, RARE = "закладки", "ксилазин"  # in about a third of the posts; in 25 posts
FMT = "%Y-%m-%d %H:%M:%S.%f"
NOW = datetime(2026, 12, 4, 12)
MINE = [
    "/login",
    "/signals",
    "/signals?status=new",
    "/signals?kind=spike&cls=stimulant",
    "/signals?country=KZ&since=2025-06-01",
    "/signals?status=dismissed",
    "/signals?offset=1000",
    "/candidates",
    "/candidates?status=all",
    "/candidates?kind=slang",
    "/candidates?offset=500",
    "/health",
    "/audit",
    f"/search?q={COMMON}",
    f"/search?q={RARE}",
    f"/search?q={COMMON}+bench-3",
    f"/search?q={COMMON}&kind=telegram&since=2026-06-01",
    f"/search?q={COMMON}&substance=Bench-3",
    f"/search?q={RARE}&substance=Bench-3",
    f"/search?q={COMMON}&cls=stimulant",
    f"/search?q={COMMON}&cls=stimulant&kind=web",
    f"/search?q={COMMON}&offset=500",
]


# --- the database --------------------------------------------------------------------------------------------
def _words(rnd: random.Random, n: int) -> list[str]:
    syl = ["ма", "ло", "ки", "ра", "ту", "не", "зо", "ви", "да", "пе", "ску", "бро", "шка", "тра", "ми", "ка"]
    out = set()
    while len(out) < n:
        out.add("".join(rnd.choice(syl) for _ in range(rnd.randint(2, 4))))
    return sorted(out)


def _texts(rnd: random.Random, n: int, cities: list[str], rare_at: set[int]):
    vocab = _words(rnd, 4000)
    weights = [1 / (i + 1) for i in range(len(vocab))]  # Zipf
    cum, t = [], 0.0
    for w in weights:
        t += w
        cum.append(t)
    for i in range(n):
        words = rnd.choices(vocab, cum_weights=cum, k=rnd.randint(10, 30))
        words.insert(rnd.randrange(len(words)), f"Bench-{rnd.randint(1, 20)}")
        words.append(f"{rnd.choice((0.5, 1, 2, 5))}г {rnd.randint(10, 400) * 100}")
        words.append(rnd.choice(cities))
        if rnd.random() < 0.35:
            words.insert(rnd.randrange(len(words)), COMMON)
        if i in rare_at:
            words.insert(rnd.randrange(len(words)), RARE)
        yield " ".join(words)


def _stamp(rnd: random.Random, start: datetime, end: datetime) -> str:
    return (start + timedelta(seconds=rnd.randrange(int((end - start).total_seconds())))).strftime(FMT)


def extend(path: Path, n_posts: int) -> None:
    """Add what the web app's pages read to bench_trends' database of offers."""
    rnd = random.Random(17)
    c = sqlite3.connect(path)
    c.execute("PRAGMA synchronous=OFF")
    c.execute("PRAGMA journal_mode=OFF")
    for name in ("post_fts_insert", "post_fts_delete", "post_fts_update"):
        c.execute(f"DROP TRIGGER IF EXISTS {name}")  # the index is rebuilt at the end (create_index)
    cities = [r[0] for r in c.execute("select name from region order by id")]
    n_offer_posts = c.execute("select max(id) from post").fetchone()[0]
    # sources: the offers' shop (id 1), 9 more shops, 40 Telegram channels
    webs = [(1, "bench-shop.test")] + [(i, f"shop-{i}.test") for i in range(2, 11)]
    channels = [(i, f"chan_{i}") for i in range(11, 51)]
    c.executemany("insert into source(id, key, kind) values (?, ?, 'web')", webs[1:])
    c.executemany("insert into source(id, key, kind) values (?, ?, 'telegram')", channels)
    source_ids = [s for s, _ in webs[1:] + channels]
    rare_at = set(rnd.sample(range(n_posts), 25))
    texts = _texts(rnd, n_posts, cities, rare_at)
    start, end = datetime(2024, 1, 1), NOW - timedelta(days=1)
    stamps = [r[0] for r in c.execute("select posted_at from post order by id")]
    c.executemany("update post set text = ?, url = ?, first_seen = posted_at, collected_at = posted_at, "
                  "last_seen = posted_at where id = ?",
                  ((next(texts), f"https://bench-shop.test/item/{i}", i) for i in range(1, n_offer_posts + 1)))
    new_posts = []
    for i in range(n_offer_posts + 1, n_posts + 1):
        src = rnd.choice(source_ids)
        at = _stamp(rnd, start, end)
        url = f"https://shop-{src}.test/item/{i}" if src <= 10 else f"https://t.me/chan_{src}/{i}"
        new_posts.append((i, src, str(i), url, next(texts), str(i), at, at, at, at))
        stamps.append(at)
        if len(new_posts) == 100_000:
            c.executemany("insert into post(id, source_id, external_id, url, text, text_hash, version, posted_at, "
                          "collected_at, first_seen, last_seen) values (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)", new_posts)
            new_posts = []
    c.executemany("insert into post(id, source_id, external_id, url, text, text_hash, version, posted_at, "
                  "collected_at, first_seen, last_seen) values (?, ?, ?, ?, ?, ?, 1, ?, ?, ?, ?)", new_posts)

    # job history: daily crawls of the shops for two years, 6-hourly backfills of the channels for a year,
    # ten scheduler jobs hourly for 90 days; a few failures and empty runs
    runs, rid = [], 0

    def run(kind, source, at, items):
        nonlocal rid
        rid += 1
        roll = rnd.random()
        status, errors, msg = ("failed", 1, "boom: connection reset") if roll < 0.05 else (
            ("ok", 3, "3 pages failed") if roll < 0.08 else ("ok", 0, None))
        runs.append((rid, kind, source, at.strftime(FMT), (at + timedelta(minutes=5)).strftime(FMT), status,
                     0 if status == "failed" else items, errors, msg))
        return rid

    last_crawls: dict[int, list[int]] = {}
    for sid, key in webs:
        for d in range(730, 0, -1):
            last_crawls.setdefault(sid, []).append(run("crawl", key, NOW - timedelta(days=d), 3000))
    for _sid, key in channels:
        for h in range(365 * 4, 0, -1):
            run("telegram-backfill", key, NOW - timedelta(hours=6 * h), 40)
    for j in ("crawl:all", "backfill", "extract", "signals", "digest", "retention", "discover", "fx", "ads",
              "metrics"):
        for h in range(90 * 24, 0, -1):
            run("job", j, NOW - timedelta(hours=h), 1)
    c.executemany("insert into crawl_run(id, kind, source, started_at, finished_at, status, items, errors, message) "
                  "values (?, ?, ?, ?, ?, ?, ?, ?, ?)", runs)
    # what the last five crawls of each shop saw: 3000 listings each
    obs = []
    for sid, ids in last_crawls.items():
        posts = [r[0] for r in c.execute("select id from post where source_id = ? order by id desc limit 3000",
                                         (sid,))]
        for k, run_id in enumerate(ids[-5:]):
            at = (NOW - timedelta(days=5 - k)).strftime(FMT)
            obs += [(run_id, p, at, "seen") for p in posts]
    c.executemany("insert into listing_observation(crawl_run_id, post_id, observed_at, status, price_changed) "
                  "values (?, ?, ?, ?, 0)",
                  obs)
    states = []
    for _sid, key in channels:
        for k in range(rnd.randint(1, 4)):
            states.append((key, rnd.choice(("ok", "ok", "join_pending", "private", "banned")),
                           (NOW - timedelta(days=300 - 60 * k)).strftime(FMT)))
    c.executemany("insert into telegram_channel_status(key, status, at) values (?, ?, ?)", states)

    # signals: 3000 over two years, a third triaged
    from npswatch.reports.signals import KINDS

    countries = [r[0] for r in c.execute("select distinct country from region order by country")]
    sigs, reviews = [], []
    for i in range(1, 3001):
        kind, sub = rnd.choice(KINDS), rnd.randint(1, 20)
        p_end = NOW - timedelta(days=rnd.randrange(700))
        p_start = p_end - timedelta(days=7)
        ccs = sorted(rnd.sample(countries, rnd.randint(1, 3)))
        ev = {"examples": [{"source": "chan_12", "text": f"Bench-{sub} {COMMON} 1г 4000 " * 4,
                            "url": f"https://t.me/chan_12/{rnd.randint(1, 10**6)}", "observed_at": p_end.isoformat()}
                           for _ in range(3)],
              "cities": rnd.sample(cities, 3), "distinct_ads": rnd.randint(1, 40)}
        sigs.append((i, f"{kind}|bench-{sub}|{i}", kind, sub, f"Bench-{sub}",
                     "synthetic_cathinone" if sub < 8 else "stimulant", json.dumps(ccs),
                     f"Bench-{sub}: {kind} in {', '.join(ccs)}", p_start.strftime(FMT), p_end.strftime(FMT),
                     p_start.strftime(FMT), p_end.strftime(FMT), rnd.randint(3, 300), rnd.randint(1, 9),
                     json.dumps(ev, ensure_ascii=False), p_end.strftime(FMT)))
        if rnd.random() < 0.33:
            reviews.append((i, rnd.choice(("reviewed", "escalated", "dismissed")), "checked", "analyst-1",
                            p_end.strftime(FMT)))
    c.executemany("insert into signal(id, key, kind, substance_id, substance, class, countries, title, period_start, "
                  "period_end, first_seen, last_seen, posts, sources, evidence, detected_at) "
                  "values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", sigs)
    c.executemany("insert into signal_review(signal_id, status, note, reviewed_by, reviewed_at) values (?, ?, ?, ?, ?)",
                  reviews)

    # candidates: 1500 new names (each a candidate:<name> substance with 10-120 mentions), 500 slang words
    cands, mentions = [], []
    for i in range(1500):
        name = f"новинка{i}"
        status = "new" if i < 1000 else ("confirmed" if i < 1300 else "dismissed")
        sid = 1000 + i
        c.execute("insert into substance(id, key, canonical, class, origin) values (?, ?, ?, 'synthetic_cathinone', "
                  "'lexicon')", (sid, f"candidate:{name}", name))
        n = rnd.randint(10, 120)
        for p in rnd.sample(range(1, n_posts + 1), n):
            mentions.append((p, sid, name, stamps[p - 1]))
        cands.append((name, name, "synthetic_cathinone", status, n, stamps[0], stamps[-1], "new_name", None, None))
    for i in range(500):
        name = f"слово{i}"
        ex = json.dumps([f"{name} {COMMON} 1г 4000 Bench-3 " * 3] * 3, ensure_ascii=False)
        cands.append((name, name, "unknown", "new", rnd.randint(5, 500), stamps[0], stamps[-1], "slang",
                      rnd.random(), ex))
    c.executemany("insert into candidate(key, name, class, status, posts, first_seen, last_seen, kind, score, "
                  "examples) values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", cands)
    c.executemany("insert into mention(post_id, substance_id, matched, observed_at) values (?, ?, ?, ?)", mentions)

    # discovery: 5000 channels seen in 300k forwards and links, 3000 web shops named
    disc = [(f"found_{i}", f"found_{i}", 10**9 + i, f"Found {i}", rnd.randint(10, 50000),
             _stamp(rnd, start, end), rnd.choice(channels)[1], _stamp(rnd, start, end),
             "new" if rnd.random() < 0.9 else "added") for i in range(5000)]
    c.executemany("insert into discovered_channel(key, username, channel_id, title, subscribers, first_seen, "
                  "first_seen_in, last_seen, status) values (?, ?, ?, ?, ?, ?, ?, ?, ?)", disc)
    c.executemany("insert into telegram_entity(username, channel_id, title) values (?, ?, ?)",
                  [(d[0], d[2], d[3]) for d in disc] + [(k, 2 * 10**9 + s, k) for s, k in channels])
    links = {(rnd.choice(channels)[1], rnd.randint(1, 10**6), f"found_{min(int(rnd.paretovariate(0.8)), 5000) - 1}",
              rnd.choice(("forward", "link"))) for _ in range(300_000)}
    c.executemany("insert into channel_link(src, message_id, dst, kind, seen_at) values (?, ?, ?, ?, ?)",
                  ((*ln, _stamp(rnd, start, end)) for ln in links))
    c.executemany("insert into discovered_site(key, mentions, first_seen, first_seen_in, last_seen, status) "
                  "values (?, ?, ?, ?, ?, ?)",
                  ((f"https://found-{i}.test", rnd.randint(1, 900), _stamp(rnd, start, end), "chan_12",
                    _stamp(rnd, start, end), "new" if rnd.random() < 0.9 else "added") for i in range(3000)))
    # accounts: 30 users, 2000 old sessions, 30k audit entries
    c.executemany("insert into web_user(id, name, password_hash, role, language, timezone, active) "
                  "values (?, ?, 'x', 'analyst', 'en', 'UTC', 1)", ((i, f"analyst-{i}") for i in range(1, 31)))
    c.executemany("insert into web_session(token_hash, user_id, csrf, created_at, expires_at) values (?, ?, ?, ?, ?)",
                  ((f"{i:064x}", rnd.randint(1, 30), "x", _stamp(rnd, start, end), _stamp(rnd, start, end))
                   for i in range(2000)))
    c.executemany("insert into audit_log(at, actor, action, target_kind, target_id, detail) values (?, ?, ?, ?, ?, ?)",
                  ((_stamp(rnd, start, end), f"analyst-{rnd.randint(1, 30)}", "signal.status", "signal",
                    str(rnd.randint(1, 3000)), json.dumps({"status": "reviewed", "note": "ok"}))
                   for _ in range(30_000)))
    c.commit()
    c.close()

    from npswatch.storage.db import make_engine
    from npswatch.storage.search import create_index

    eng = make_engine(f"sqlite:///{path}")
    with eng.begin() as conn:
        create_index(conn)  # the triggers again, and the index filled from the 2M texts
    eng.dispose()
    c = sqlite3.connect(path)
    c.execute("ANALYZE")
    c.close()


def database(n_offers: int, n_posts: int) -> Path:
    path = ROOT / ".benchmarks" / f"web-{n_offers}-{n_posts}.db"
    if path.exists():
        return path
    path.parent.mkdir(exist_ok=True)
    stage = path.with_name(path.stem + "-stage.db")
    stage.unlink(missing_ok=True)
    t = time.perf_counter()
    generate(stage, n_offers, revision="0014")
    from npswatch.pipelines.geo import city_coordinates

    real = sorted(city_coordinates())[:: max(1, len(city_coordinates()) // 40)][:40]
    c = sqlite3.connect(stage)
    for rid, gid in zip(range(1, 41), real):  # real cities, so the map places them
        c.execute("update region set geonameid = ? where id = ?", (gid, rid))
    c.commit()
    c.close()
    extend(stage, n_posts)
    stage.rename(path)
    print(f"generated {path} in {time.perf_counter() - t:.0f} s", flush=True)
    return path


# --- the same rows in PostgreSQL ------------------------------------------------------------------------------
_SKIP = ("alembic_version", "post_fts", "sqlite_")


def pg_copy(sqlite_path: Path, pg_url: str) -> str:
    """The database URL of a PostgreSQL schema holding `sqlite_path`'s rows (migrated to this checkout's head
    first). The schema is named after the file and kept: a second run reuses it (`--pg-fresh` drops it)."""
    from sqlalchemy import text

    from npswatch.storage.db import make_engine, upgrade

    schema = "bench_" + re.sub(r"\W", "_", sqlite_path.stem)
    sep = "&" if "?" in pg_url else "?"
    url = f"{pg_url}{sep}options=-csearch_path%3D{schema}"
    admin = make_engine(pg_url)
    with admin.begin() as c:
        done = c.execute(text("SELECT 1 FROM information_schema.tables WHERE table_schema = :s "
                              "AND table_name = 'bench_complete'"), {"s": schema}).first()
    if done:
        admin.dispose()
        return url
    t = time.perf_counter()
    with admin.begin() as c:
        c.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        c.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    eng = make_engine(url)
    upgrade(eng)
    src = sqlite3.connect(sqlite_path)
    raw = eng.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute("SELECT table_name, column_name, data_type FROM information_schema.columns "
                    "WHERE table_schema = %s", (schema,))
        pg_cols: dict[str, dict[str, str]] = {}
        for table, col, typ in cur.fetchall():
            pg_cols.setdefault(table, {})[col] = typ
        # the search index is built once after the copy, not row by row
        cur.execute("DROP INDEX IF EXISTS ix_post_text_fts")  # before migration 0017
        cur.execute("DROP INDEX IF EXISTS ix_post_text_tsv")
        # the rows are copied table by table, in name order: foreign keys and triggers wait (as pg_restore does)
        cur.execute("SET session_replication_role = replica")
        tables = [r[0] for r in src.execute("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for table in tables:
            if table.startswith(_SKIP) or table not in pg_cols:
                continue
            have = [r[1] for r in src.execute(f'PRAGMA table_info("{table}")')]
            cols = [c for c in have if c in pg_cols[table]]
            types = [pg_cols[table][c] for c in cols]

            def conv(v, typ):
                if v is None:
                    return None
                if typ == "boolean":
                    return bool(v)
                if typ == "timestamp with time zone" and isinstance(v, str) and "+" not in v[10:]:
                    return v + "+00"
                return v
            quoted = ", ".join(f'"{c}"' for c in cols)
            with cur.copy(f'COPY "{table}" ({quoted}) FROM STDIN') as cp:
                for row in src.execute(f'SELECT {quoted} FROM "{table}"'):
                    cp.write_row([conv(v, typ) for v, typ in zip(row, types)])
            if "id" in cols:
                cur.execute(f"SELECT setval(pg_get_serial_sequence('\"{table}\"', 'id'), "
                            f'(SELECT coalesce(max(id), 1) FROM "{table}"))')
        raw.commit()
        from npswatch.storage.search import _PG_DDL

        for ddl in _PG_DDL:  # this checkout's search index, as its create_index makes it
            cur.execute(ddl)
        cur.execute("CREATE TABLE bench_complete (at timestamptz DEFAULT now())")
        raw.commit()
        # as autovacuum leaves a table that has been written: statistics, and the visibility map that lets an
        # index answer a count alone
        raw.driver_connection.autocommit = True
        cur.execute("VACUUM ANALYZE")
    finally:
        raw.close()
        src.close()
    eng.dispose()
    print(f"copied {sqlite_path.name} into PostgreSQL schema {schema} in {time.perf_counter() - t:.0f} s", flush=True)
    return url


# --- the pages -----------------------------------------------------------------------------------------------
def measure(path: Path | str, runs: int, pages: list[str] | None = None) -> dict[str, dict]:
    """{url: {cold, median, cpu, status}} of every page, in this process's checkout, on the SQLite file `path`
    or the database URL `path`."""
    from starlette.testclient import TestClient

    from npswatch.errors import WatchError
    from npswatch.reports.maps import base_map
    from npswatch.watch import Watch
    from npswatch.web import create_app

    url = path if isinstance(path, str) else f"sqlite:///{path}"
    folder = ROOT / ".benchmarks" if isinstance(path, str) else path.parent
    w = Watch(settings={"data_dir": str(folder), "database": {"url": url}})
    w.upgrade()
    try:
        w.add_user("bench-admin", PASSWORD, "admin")
    except (WatchError, ValueError):
        pass  # there from an earlier run
    base_map()  # the app warms it in a thread at start: not a page's cost
    c = TestClient(create_app(w), follow_redirects=False)
    token = re.search(r'name="csrf" value="([^"]+)"', c.get("/login").text).group(1)
    r = c.post("/login", data={"name": "bench-admin", "password": PASSWORD, "csrf": token, "next": "/"})
    assert r.status_code == 303, r.text
    out = {}
    for url in pages or MINE + AGG:
        wall, cpu, status = [], [], None
        for _ in range(runs):
            t, p = time.perf_counter(), cpu_time()
            status = c.get(url).status_code
            wall.append(time.perf_counter() - t)
            cpu.append(cpu_time() - p)
        out[url] = {"cold": wall[0], "median": statistics.median(wall[1:] or wall),
                    "cpu": statistics.median(cpu[1:] or cpu), "status": status}
    return out


def run_base(base: Path, path: Path, runs: int, mine: bool) -> dict[str, dict]:
    env = {**os.environ, "BENCH_WEB_BASE": str(base.resolve())}
    out = subprocess.run([sys.executable, __file__, "--measure", str(path), "--runs", str(runs)]
                         + (["--mine"] if mine else []), env=env,
                         capture_output=True, text=True, check=True, cwd=base)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--offers", type=int, default=1_000_000)
    ap.add_argument("--posts", type=int, default=2_000_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=2, help="with --base: alternating rounds of before and after")
    ap.add_argument("--base", type=Path, help="also time the pages with the checkout in this folder (before)")
    ap.add_argument("--mine", action="store_true", help="only the pages that are not the agg work")
    ap.add_argument("--pg", help="time the pages on PostgreSQL instead: this server's database URL, e.g. "
                    "postgresql+psycopg://postgres@127.0.0.1:5432/test (the rows are copied into a schema once)")
    ap.add_argument("--measure", type=Path, help=argparse.SUPPRESS)  # the child: time one database, print JSON
    args = ap.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.runs, MINE if args.mine else None)))
        return
    base_db = database(args.offers, args.posts)
    head_db = base_db.with_name(base_db.stem + "-head.db")
    if not head_db.exists():
        shutil.copyfile(base_db, head_db)
    target: Path | str = head_db
    if args.pg:
        if args.base:
            raise SystemExit("--base times SQLite only")
        from npswatch.storage.db import make_engine, upgrade

        eng = make_engine(f"sqlite:///{head_db}")
        upgrade(eng)
        eng.dispose()
        target = pg_copy(head_db, args.pg)
    print(f"{'PostgreSQL' if args.pg else 'SQLite'}: {args.offers:,} offers, {args.posts:,} posts; load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores; {args.runs} requests a page, median of the warm ones", flush=True)
    after: list[dict] = []
    before: list[dict] = []
    for _ in range(args.rounds if args.base else 1):
        if args.base:
            before.append(run_base(args.base, base_db, args.runs, args.mine))
        after.append(measure(target, args.runs, MINE if args.mine else None))

    def merged(rounds: list[dict], url: str) -> dict:
        return {k: (statistics.median(r[url][k] for r in rounds) if k != "status" else rounds[-1][url][k])
                for k in ("cold", "median", "cpu", "status")}

    rows = []
    for url in MINE if args.mine else MINE + AGG:
        a = merged(after, url)
        b = merged(before, url) if before else None
        rows.append((url, "agg" if url in AGG else "pages", b, a))
    rows.sort(key=lambda r: -r[3]["median"])
    head = f"{'page':56} {'owner':5} "
    if before:
        head += f"{'before ms':>9} {'b. CPU':>7} "
    print(head + f"{'cold ms':>8} {'median ms':>9} {'CPU ms':>7} {'HTTP':>4}")
    for url, owner, b, a in rows:
        line = f"{url[:56]:56} {owner:5} "
        if b:
            line += f"{b['median'] * 1000:9.0f} {b['cpu'] * 1000:7.0f} "
        print(line + f"{a['cold'] * 1000:8.0f} {a['median'] * 1000:9.0f} {a['cpu'] * 1000:7.0f} {a['status']:4d}")


if __name__ == "__main__":
    main()
