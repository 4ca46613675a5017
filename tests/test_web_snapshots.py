"""Raw page snapshots: kept content-addressed under the data folder, re-parsed offline, pruned by age."""
from __future__ import annotations


import gzip
import hashlib
import os
import re
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import text
from typer.testing import CliRunner

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR
from npswatch.cli.app import app
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.snapshots import PageRecord, SnapshotStore

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")


def with_snapshots(src: Path, dst: Path) -> None:
    lines = src.read_text(encoding="utf-8").splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("name ="))
    lines.insert(at + 1, "snapshots = true")
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    """Shop and board crawled twice with snapshots on; the server is gone afterwards."""
    tmp = tmp_path_factory.mktemp("snap")
    sites = tmp / "sites"
    sites.mkdir()
    for name in ("fixture_shop", "fixture_board"):
        with_snapshots(FIXTURE_SITES_DIR / f"{name}.toml", sites / f"{name}.toml")
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp / "data"}"\n[privacy]\nkey = "test-key-0123456789abcdef0123456789"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp / 'data' / 'npswatch.db'}")
    upgrade(engine)
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    market = build_market()
    with serve(market) as srv:
        for _ in range(2):
            proc = subprocess.run([NPSWATCH, "crawl", "fixture_shop", "fixture_board", "--base-url", srv.base_url,
                                   "--no-extract"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
            assert proc.returncode == 0, proc.stderr[-3000:]
        pages = {p for p in srv.requests if p != "/robots.txt"}
    return {"tmp": tmp, "cfg": cfg, "sites": sites, "engine": engine, "market": market, "pages": pages}


def q(engine, sql: str):
    with engine.connect() as c:
        return c.execute(text(sql)).all()


def test_every_parsed_page_is_kept_once_per_content(crawled):
    engine, root = crawled["engine"], crawled["tmp"] / "data" / "snapshots"
    per_run = q(engine, "select crawl_run_id, count(*) from page_snapshot group by crawl_run_id order by 1")
    assert [n for _, n in per_run] == [7, 55, 7, 55]  # shop: 6 catalogue pages + about; board: 5 lists + 50 ads
    hashes = {sha for (sha,) in q(engine, "select distinct sha256 from page_snapshot")}
    files = {p.name.removesuffix(".html.gz") for p in root.glob("??/*.html.gz")}
    assert files == hashes  # the second crawl saw the same pages: no new files
    url, sha = q(engine, "select url, sha256 from page_snapshot where url like '%/board/ad/%' limit 1")[0]
    body = gzip.decompress((root / sha[:2] / f"{sha}.html.gz").read_bytes())
    assert hashlib.sha256(body).hexdigest() == sha
    path = url.split("/", 3)[3]
    raw = crawled["market"]["/" + path].body.decode("utf-8")
    assert body.decode("utf-8") == Pseudonymiser(b"test-key-0123456789abcdef0123456789").scrub(raw)  # stored scrubbed, nothing raw
    assert "@synthetic_vendor_" in raw and "synthetic_vendor" not in body.decode("utf-8")
    items = q(engine, "select source, items from crawl_run where kind = 'crawl' order by id")
    assert items == [("fixture-shop", 70), ("fixture-board", 50)] * 2  # listings, not listings + pages
    roles = dict(q(engine, "select role, count(*) from page_snapshot group by role"))
    assert roles == {"start": 4, "listing": 20, "detail": 100}  # two crawls


def test_reparse_reads_stored_pages_with_the_new_definition_and_no_network(crawled, monkeypatch):
    engine = crawled["engine"]
    monkeypatch.setenv("NPSWATCH_CONFIG", str(crawled["cfg"]))
    # The analyst changes a selector: the shop's text now leaves the card description out.
    shop = crawled["sites"] / "fixture_shop.toml"
    shop.write_text(shop.read_text(encoding="utf-8").replace('text = "p.card-desc"', 'text = "h3.card-title"'),
                    encoding="utf-8")
    versions_before = q(engine, "select count(*) from post_version")[0][0]
    r = CliRunner().invoke(app, ["reparse", "fixture_shop", "--no-extract"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "70 listings" in r.output and "70 changed" in r.output  # the server is closed: pages came from disk
    assert q(engine, "select count(*) from post_version")[0][0] == versions_before + 70
    r = CliRunner().invoke(app, ["reparse", "fixture_board", "--no-extract"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "50 listings" in r.output and "50 unchanged" in r.output  # list pages lead to the stored ad pages
    runs = q(engine, "select kind, status from crawl_run where kind = 'reparse'")
    assert runs == [("reparse", "ok"), ("reparse", "ok")]


def test_reparse_can_pick_an_older_crawl_and_says_what_is_missing(crawled, monkeypatch):
    monkeypatch.setenv("NPSWATCH_CONFIG", str(crawled["cfg"]))
    r = CliRunner().invoke(app, ["reparse", "fixture_board", "--list"], terminal_width=200)
    # two crawls of 55 pages each (match the pages cell, not a "11:55" in the time column)
    assert r.exit_code == 0 and len(re.findall(r"│\s*55\s*│", r.output)) == 2
    first_board_run = q(crawled["engine"], "select min(crawl_run_id) from page_snapshot where source = 'fixture-board'")[0][0]
    r = CliRunner().invoke(app, ["reparse", "fixture_board", "--run", str(first_board_run), "--no-extract"],
                           terminal_width=200)
    assert r.exit_code == 0 and "50 listings" in r.output
    assert "1 linked pages not stored" in r.output  # the VIP ad robots.txt kept the crawl from
    r = CliRunner().invoke(app, ["reparse", "fixture_forum"], terminal_width=200)
    assert r.exit_code == 2 and "no snapshots" in r.output


def test_old_snapshots_are_pruned_with_their_files(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    store = SnapshotStore(engine, tmp_path / "snapshots", Pseudonymiser(b"k").scrub)
    now = datetime.now(timezone.utc)
    store.save(None, [PageRecord("s", "http://x/old", "start", b"old page", fetched_at=now - timedelta(days=100)),
                      PageRecord("s", "http://x/both", "listing", b"shared page", fetched_at=now - timedelta(days=100)),
                      PageRecord("s", "http://x/new", "start", b"shared page", fetched_at=now)])
    old_file = store.blobs.path(hashlib.sha256(b"old page").hexdigest())
    long_ago = time.time() - 7200
    os.utime(old_file, (long_ago, long_ago))
    assert store.prune(older_than_days=90) == (2, 1)
    assert not old_file.exists()
    assert store.blobs.get(hashlib.sha256(b"shared page").hexdigest()) == b"shared page"  # still referenced
    assert [u for (u,) in q(engine, "select url from page_snapshot")] == ["http://x/new"]
