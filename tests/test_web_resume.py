"""Resume and crash safety: kill -9 midway then rerun, Ctrl-C then resume, storage off the reactor thread.

Every crawl runs `npswatch crawl` in a subprocess against the fixture market served here, slowed down
so that a crawl can be caught midway.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import text

from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR
from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
SOURCE = {"shop": "fixture-shop", "forum": "fixture-forum", "board": "fixture-board"}


def config(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    folder.mkdir()
    cfg = folder / "npswatch.toml"
    cfg.write_text(f'data_dir = "{folder / "data"}"\n[privacy]\nkey = "test-key-0123456789abcdef0123456789"\n'
                   f'[web]\nsites_dir = "{FIXTURE_SITES_DIR}"\n', encoding="utf-8")
    engine = db(cfg)
    upgrade(engine)
    engine.dispose()
    return cfg


def env_for(cfg: Path) -> dict:
    return {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}


def npswatch(cfg: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([NPSWATCH, *args], capture_output=True, text=True, timeout=180, env=env_for(cfg), cwd=ROOT)


def db(cfg: Path):
    return make_engine(f"sqlite:///{cfg.parent / 'data' / 'npswatch.db'}")


def stored(cfg: Path) -> list[tuple[str, str]]:
    with db(cfg).connect() as c:
        return [tuple(r) for r in c.execute(text(
            "select s.key, p.external_id from post p join source s on s.id = p.source_id"))]


def wait_for_posts(cfg: Path, proc: subprocess.Popen, at_least: int, timeout: float = 90) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the crawl ended before it could be interrupted"
        try:
            n = len(stored(cfg))
        except Exception:  # noqa: BLE001 - the first transaction may not be there yet
            n = 0
        if n >= at_least:
            return n
        time.sleep(0.05)
    raise AssertionError("the crawl stored nothing in time")


def test_a_crawl_killed_midway_and_rerun_ends_with_exactly_the_listings_of_an_uninterrupted_one(tmp_path):
    market = build_market()
    truth = {(SOURCE[l.site], l.external_id) for l in market.listings}
    killed_cfg, clean_cfg = config(tmp_path, "killed"), config(tmp_path, "clean")
    with serve(market, delay=0.1) as srv:
        args = ["crawl", "fixture_shop", "fixture_forum", "fixture_board", "--base-url", srv.base_url,
                "--no-extract", "--batch-size", "5", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
        proc = subprocess.Popen([NPSWATCH, *args], env=env_for(killed_cfg), cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for_posts(killed_cfg, proc, at_least=20)
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        before = stored(killed_cfg)
        assert 0 < len(before) < len(truth)  # killed midway

        srv.delay = 0
        procs = [subprocess.Popen([NPSWATCH, *args], env=env_for(c), cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for c in (killed_cfg, clean_cfg)]
        (rerun_out, rerun_err), (_, clean_err) = (p.communicate(timeout=180) for p in procs)
        assert procs[0].returncode == 0, rerun_err[-3000:]
        assert procs[1].returncode == 0, clean_err[-3000:]
        assert "did not stop cleanly" in rerun_err

    after, reference = stored(killed_cfg), stored(clean_cfg)
    assert max(Counter(after).values()) == 1  # nothing twice
    assert set(before) <= set(after)  # nothing stored before the kill was lost
    assert set(after) == set(reference) == truth
    with db(killed_cfg).connect() as c:
        assert c.execute(text("select count(*) from post_version")).scalar() == 0  # no spurious edits
        runs = c.execute(text("select id, status, message from crawl_run order by id")).all()
        per_run = c.execute(text("select crawl_run_id, count(*), count(distinct post_id) from listing_observation "
                                 "group by crawl_run_id")).all()
        gone = c.execute(text("select count(*) from listing where disappeared_at is not null")).scalar()
    killed_runs = [r for r in runs if r.status == "failed"]
    assert len(killed_runs) == 3 and all("interrupted" in r.message for r in killed_runs)
    assert all(n == distinct for _, n, distinct in per_run)  # one observation per listing and crawl
    assert gone == 0  # the killed crawl was not complete: it marked nothing as disappeared


def test_ctrl_c_pauses_and_the_next_crawl_resumes_where_it_stopped(tmp_path):
    market = build_market()
    truth = {(SOURCE[l.site], l.external_id) for l in market.listings if l.site == "board"}
    cfg = config(tmp_path, "paused")
    with serve(market, delay=0.1) as srv:
        args = ["crawl", "fixture_board", "--base-url", srv.base_url, "--no-extract", "--batch-size", "5",
                "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=2"]
        proc = subprocess.Popen([NPSWATCH, *args], env=env_for(cfg), cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        wait_for_posts(cfg, proc, at_least=10)
        proc.send_signal(signal.SIGINT)  # once: Scrapy stops cleanly and keeps its queue in the JOBDIR
        stdout, stderr = proc.communicate(timeout=60)
        assert "run again to resume" in stdout, stdout + stderr[-2000:]
        state = json.loads((cfg.parent / "data" / "jobs" / "fixture-board" / "npswatch-job.json").read_text())
        assert state["state"] == "paused"
        first = set(srv.requests) - {"/robots.txt"}

        srv.delay = 0
        srv.clear_log()
        resumed = npswatch(cfg, *args)
        assert resumed.returncode == 0, resumed.stderr[-3000:]
        second = set(srv.requests) - {"/robots.txt"}

    assert "resuming" in resumed.stderr and "complete" in resumed.stdout
    assert first and second and not first & second  # no page fetched again
    assert set(stored(cfg)) == truth
    with db(cfg).connect() as c:
        assert c.execute(text("select count(*) from listing where disappeared_at is not null")).scalar() == 0
    assert not (cfg.parent / "data" / "jobs" / "fixture-board").exists()  # finished: the next crawl starts afresh


SLOW_SINK = textwrap.dedent("""
    import json, sys, threading, time
    from npswatch.crawlers.webcrawl import crawl_sites

    grew, threads = [], set()
    def on_batch(batch):
        threads.add(threading.current_thread().name)
        before = int(open(sys.argv[2]).read() or 0)
        time.sleep(0.3)  # a slow database
        grew.append(int(open(sys.argv[2]).read() or 0) > before)
    stats = crawl_sites(["crawlers/sites/fixture_board.toml"], base_url=sys.argv[1], on_batch=on_batch,
                        batch_size=10, settings_overrides={"LOG_LEVEL": "WARNING", "NPSWATCH_STORAGE_QUEUE": 1})
    print(json.dumps({"items": stats.items, "written": stats.written, "grew": grew, "threads": sorted(threads)}))
""")


def test_a_slow_database_does_not_stall_the_crawl(tmp_path):
    import threading

    market = build_market()
    counter = tmp_path / "requests"
    counter.write_text("0")
    with serve(market, delay=0.01) as srv:
        stop = threading.Event()

        def count():  # the server's request count, where the subprocess's sink can read it
            while not stop.is_set():
                counter.write_text(str(len(srv.requests)))
                time.sleep(0.01)

        t = threading.Thread(target=count, daemon=True)
        t.start()
        proc = subprocess.run([sys.executable, "-c", SLOW_SINK, srv.base_url, str(counter)], cwd=ROOT,
                              capture_output=True, text=True, timeout=120)
        stop.set()
        t.join()
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["items"] == result["written"] == 50  # back-pressure (queue of 1) lost nothing
    assert result["threads"] == ["npswatch-storage"]
    assert any(result["grew"])  # pages were fetched while a batch was being written
