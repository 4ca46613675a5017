"""Scale-out: two crawler processes share one Redis frontier and crawl the fixture market once between them.

Real Redis (the `redis_url` fixture: skipped, or failed under NPSWATCH_REQUIRE_SERVICES=1, when absent).
The fixture server holds every request until both processes have joined the frontier of both sites, so
they start on an equal footing; then each page must be fetched by exactly one of them.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import text

from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.frontier import frontier_prefix, frontier_workers, reset_frontier
from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR
from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
SITES = ("fixture_forum", "fixture_board")
SOURCE = {"forum": "fixture-forum", "board": "fixture-board"}


@pytest.fixture
def frontier(redis_url):
    name = f"test-{uuid.uuid4().hex[:10]}"  # keys of this test only
    yield name
    reset_frontier(redis_url, name)


def crawl_setup(tmp_path, redis_url):
    """A config and a migrated SQLite database for crawler processes that share the Redis frontier."""
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "test-key-0123456789abcdef0123456789"\n'
                   f'[web]\nsites_dir = "{FIXTURE_SITES_DIR}"\n', encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200", "REDIS_URL": redis_url}
    return engine, env


def test_two_processes_share_one_frontier_and_fetch_each_page_once(tmp_path, redis_url, frontier):
    import redis

    engine, env = crawl_setup(tmp_path, redis_url)
    market = build_market()
    truth = {(SOURCE[l.site], l.external_id) for l in market.listings if l.site in SOURCE}

    with serve(market, delay=0.1) as srv:
        srv.hold()
        args = [NPSWATCH, "crawl", *SITES, "--base-url", srv.base_url, "--frontier", frontier, "--no-extract",
                "--batch-size", "10", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1"]
        procs = [subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
        deadline = time.monotonic() + 60
        site_names = [s.replace("_", "-") for s in SITES]
        while (min(frontier_workers(redis_url, frontier, s) for s in site_names) < 2
               and time.monotonic() < deadline):
            assert all(p.poll() is None for p in procs), [p.communicate() for p in procs]
            time.sleep(0.05)
        srv.release()
        outputs = [p.communicate(timeout=180) for p in procs]
        log = list(srv.log)
    for p, (_out, err) in zip(procs, outputs):
        assert p.returncode == 0, err[-3000:]

    fetched = Counter(e.path for e in log if e.path != "/robots.txt")  # each process reads robots.txt itself
    assert max(fetched.values()) == 1  # no URL fetched twice
    expected = {p for p in market if p.startswith(("/forum/thread/", "/board/ad/", "/board/?"))} | {"/forum/", "/board/"}
    expected -= {"/board/?page=1"}  # an alias of /board/ nothing links to
    assert set(fetched) == expected  # and together they fetched everything

    with engine.connect() as c:
        keys = [tuple(r) for r in c.execute(text(
            "select s.key, p.external_id from post p join source s on s.id = p.source_id"))]
        runs = {r.id: r for r in c.execute(text("select id, source, status, message from crawl_run"))}
    assert Counter(keys).most_common(1)[0][1] == 1 and set(keys) == truth

    # Each process did part of the work; exactly one per site saw the frontier finished and cleared it.
    pages_by_process = []
    for out, _ in outputs:
        ids = [int(i) for i in re.findall(r"crawl run (\d+)\)", out)]
        pages_by_process.append(sum(int(re.search(r"pages=(\d+)", runs[i].message).group(1)) for i in ids))
    assert all(n > 0 for n in pages_by_process) and sum(pages_by_process) == len(expected)
    complete = Counter(runs[i].source for i in runs if runs[i].message.endswith("complete"))
    assert complete == {"fixture-forum": 1, "fixture-board": 1}
    assert not list(redis.Redis.from_url(redis_url).scan_iter(match=frontier_prefix(frontier) + ":*"))


def test_a_killed_process_leaves_the_crawl_incomplete_and_the_others_finish(tmp_path, redis_url, frontier):
    import signal

    import redis

    engine, env = crawl_setup(tmp_path, redis_url)
    market = build_market()
    with serve(market, delay=0.1) as srv:
        srv.hold()
        args = [NPSWATCH, "crawl", "fixture_board", "--base-url", srv.base_url, "--frontier", frontier,
                "--no-extract", "--batch-size", "5", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=1",
                "-s", "NPSWATCH_FRONTIER_TTL=2"]  # a killed process is noticed after 2 s
        victim, survivor = (subprocess.Popen(args, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                             text=True) for _ in range(2))
        deadline = time.monotonic() + 60
        while frontier_workers(redis_url, frontier, "fixture-board") < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        srv.release()
        while len(srv.requests) < 15 and time.monotonic() < deadline:
            time.sleep(0.02)
        victim.send_signal(signal.SIGKILL)
        victim.wait(30)
        out, err = survivor.communicate(timeout=120)
    assert survivor.returncode == 0, err[-3000:]
    assert "left shared frontier" in err and "without closing" in err
    assert "incomplete" in out  # so no listing is marked as disappeared by this crawl
    with engine.connect() as c:
        assert c.execute(text("select count(*) from listing where disappeared_at is not null")).scalar() == 0
        keys = [r[0] for r in c.execute(text("select external_id from post"))]
    assert len(keys) == len(set(keys))  # nothing twice
    assert not list(redis.Redis.from_url(redis_url).scan_iter(match=frontier_prefix(frontier) + ":*"))
