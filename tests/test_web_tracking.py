"""Change tracking: first/last seen and disappeared per listing, price and stock observed per crawl.

The storage part runs on SQLite and PostgreSQL; the end-to-end part crawls the fixture market with
`npswatch crawl`, then crawls its changed variant (prices changed, stock dropped, listings removed and
added) and checks that the database says exactly what the market's changelog says.
"""
from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import select, text

from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage import models
from npswatch.storage.listings import ListingTracker
from npswatch.storage.runs import start_run
from npswatch.storage.writer import PostWriter

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
L = models.tables_web.Listing.__table__
O = models.tables_web.ListingObservation.__table__


def card(ext: str, price: str | None, stock: int | None, text: str = "Мефедрон кристалл, 1 г") -> RawPost:
    return RawPost(source="test-shop", external_id=ext, text=f"{text} #{ext}",
                   extra={"price": price, "stock": stock, "title": None, "page": "/catalog"})


def utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt.astimezone(timezone.utc)  # SQLite: naive UTC


def rows(engine, table, order):
    with engine.connect() as c:
        return [dict(r) for r in c.execute(select(table).order_by(*order)).mappings()]


def test_observations_record_price_and_stock_changes_per_crawl(engine, pseudonymiser):
    writer, tracker = PostWriter(engine, pseudonymiser, None), ListingTracker(engine, pseudonymiser)
    t0 = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)

    run1 = start_run(engine, "crawl", "test-shop")
    first = [card("1", "4 500 ₽", 7), card("2", "3 000 ₽", 2), card("3", "договорная", None)]
    writer.write(first)
    r1 = tracker.observe(run1, first, observed_at=t0)
    assert (r1.observed, r1.new, r1.price_changes, r1.stock_drops) == (3, 3, 0, 0)
    assert tracker.mark_disappeared("test-shop", since=t0) == 0

    run2 = start_run(engine, "crawl", "test-shop")
    t1 = t0 + timedelta(days=1)
    second = [card("1", "4 000 ₽", 4), card("2", "3 000 ₽", 2)]  # 1: cheaper, 3 sold; 3: gone
    writer.write(second)
    r2 = tracker.observe(run2, second, observed_at=t1)
    assert (r2.observed, r2.new, r2.price_changes, r2.stock_drops, r2.units_gone) == (2, 0, 1, 1, 3)
    assert tracker.observe(run2, second, observed_at=t1).observed == 0  # the same crawl again: nothing twice
    assert tracker.mark_disappeared("test-shop", since=t1, at=t1) == 1

    obs = rows(engine, O, [O.c.crawl_run_id, O.c.post_id])
    assert [(o["crawl_run_id"], o["status"], o["price"], o["stock"], o["price_changed"], o["stock_delta"])
            for o in obs] == [
        (run1, "new", 4500.0, 7, False, None), (run1, "new", 3000.0, 2, False, None), (run1, "new", None, None, False, None),
        (run2, "changed", 4000.0, 4, True, -3), (run2, "seen", 3000.0, 2, False, 0)]
    listing = {r["post_id"]: r for r in rows(engine, L, [L.c.post_id])}
    p1, p2, p3 = sorted(listing)
    assert listing[p3]["disappeared_at"] is not None and listing[p1]["disappeared_at"] is None
    assert (listing[p1]["observations"], listing[p1]["price"], listing[p1]["stock"]) == (2, 4000.0, 4)
    assert utc(listing[p1]["first_seen"]) == t0 and utc(listing[p1]["last_seen"]) == t1

    run3 = start_run(engine, "crawl", "test-shop")
    back = [card("3", "договорная", None)]
    writer.write(back)
    r3 = tracker.observe(run3, back, observed_at=t1 + timedelta(days=1))
    assert r3.reappeared == 1
    assert rows(engine, L, [L.c.post_id])[2]["disappeared_at"] is None


def test_listings_of_other_sites_are_not_marked_disappeared(engine, pseudonymiser):
    writer, tracker = PostWriter(engine, pseudonymiser, None), ListingTracker(engine, pseudonymiser)
    run = start_run(engine, "crawl", "test-shop")
    other = RawPost(source="other-site", external_id="9", text="Спайс 1 г", extra={"price": "900 сом"})
    writer.write([card("1", "1 ₽", 1), other])
    tracker.observe(run, [card("1", "1 ₽", 1), other], observed_at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    assert tracker.mark_disappeared("test-shop", since=datetime(2026, 2, 1, tzinfo=timezone.utc)) == 1
    assert tracker.mark_disappeared("no-such-site", since=datetime(2026, 2, 1, tzinfo=timezone.utc)) == 0
    gone = {r["disappeared_at"] is not None for r in rows(engine, L, [L.c.post_id])}
    assert gone == {True, False}


# --- end to end ----------------------------------------------------------------------------------------


def npswatch(cfg: Path, *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    return subprocess.run([NPSWATCH, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def test_two_crawls_of_a_changing_market_record_its_changes(tmp_path):
    from npswatch.storage.db import make_engine

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "test-key-0123456789abcdef0123456789"\n'
                   f'[web]\nsites_dir = "{FIXTURE_SITES_DIR}"\n', encoding="utf-8")
    assert npswatch(cfg, "db", "upgrade").returncode == 0
    before, after = build_market(), build_market(changes=1)
    with serve(before) as srv:
        args = ["crawl", "fixture_shop", "fixture_board", "--base-url", srv.base_url, "--no-extract"]
        first = npswatch(cfg, *args)
        assert first.returncode == 0, first.stderr[-3000:]
        srv.market = after  # the same site a day later
        second = npswatch(cfg, *args)
        assert second.returncode == 0, second.stderr[-3000:]
    assert "complete" in second.stdout

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    with engine.connect() as c:
        q = text("""select s.key, p.external_id, o.crawl_run_id, o.status, o.price_changed, o.stock_delta,
                           l.disappeared_at is not null
                    from listing l join post p on p.id = l.post_id join source s on s.id = p.source_id
                    left join listing_observation o on o.post_id = p.id
                    order by o.crawl_run_id""")
        result = c.execute(q).all()
        runs = c.execute(text("select id, source, status from crawl_run where kind = 'crawl' order by id")).all()
    assert [r.status for r in runs] == ["ok"] * 4
    second_runs = {r.id for r in runs[2:]}
    site = {"fixture-shop": "shop", "fixture-board": "board"}
    log = {k: {key for key in v if key[0] in ("shop", "board")} for k, v in after.changelog.items()}
    latest = {(site[r[0]], r[1]): r for r in result}  # the last observation of each listing
    in_second = {k: r for k, r in latest.items() if r[2] in second_runs}

    assert {k for k, r in in_second.items() if r[4]} == log["price_changed"]
    assert {k for k, r in in_second.items() if r[5] is not None and r[5] < 0} == log["stock_dropped"]
    assert {k for k, r in latest.items() if r[6]} == log["removed"]  # disappeared
    assert {k for k, r in in_second.items() if r[3] == "new"} == log["added"]
    assert log["price_changed"] and log["stock_dropped"] and log["removed"] and log["added"]
    assert "fixture-shop" in second.stdout and "gone" in second.stdout
