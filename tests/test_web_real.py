"""Issue 14 items 1 and 6 on real pages: the two saved markets crawled from 127.0.0.1, offers counted from hand labels.

The saved pages of ../shared/real/pages are served by a local HTTP server; the site definitions of
tests/data/real_sites are copied with every saved page listed as a start URL (their pagination links point at
the original hosts), and `npswatch crawl` stores them with extraction on. Skipped when the pages are absent.
"""
from __future__ import annotations

import functools
import http.server
import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from npswatch.storage.db import make_engine, upgrade
from real_pages import MARKETS, SITES_DIR, load_labels, page_files, shared_real, why_absent

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
TARGET = 0.9  # issue 14 item 6


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture(scope="module")
def crawled(tmp_path_factory):
    root = shared_real()
    if root is None:
        pytest.skip(why_absent())
    tmp = tmp_path_factory.mktemp("real")
    sites = tmp / "sites"
    sites.mkdir()
    for market in MARKETS:
        starts = ", ".join(f'"/{market}/{p.name}"' for p in page_files(market, root))
        body = (SITES_DIR / f"{market}.toml").read_text(encoding="utf-8")
        body = re.sub(r"(?m)^start_urls = .*$", f"start_urls = [{starts}]", body)
        (sites / f"{market}.toml").write_text(body, encoding="utf-8")
    cfg = tmp / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp / 'data' / 'npswatch.db'}")
    upgrade(engine)
    handler = functools.partial(_Quiet, directory=str(root / "pages"))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    try:
        proc = subprocess.run([NPSWATCH, "crawl", *MARKETS, "--base-url", f"http://127.0.0.1:{server.server_port}/"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    finally:
        server.shutdown()
        server.server_close()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    status = subprocess.run([NPSWATCH, "status", "--json"], env=env, cwd=ROOT, capture_output=True, text=True,
                            timeout=120)
    return {"engine": engine, "out": proc.stdout, "status": json.loads(status.stdout), "env": env}


def _offers(engine) -> dict[tuple[str, str], list[tuple]]:
    rows = engine.connect().execute(text(
        "SELECT s.key, p.external_id, o.quantity, o.unit, o.price, o.currency FROM post p "
        "JOIN source s ON s.id = p.source_id LEFT JOIN offer o ON o.post_id = p.id")).all()
    out: dict[tuple[str, str], list[tuple]] = {}
    for key, ext, *offer in rows:
        out.setdefault((key, ext), [])
        if offer[0] is not None:
            out[(key, ext)].append(tuple(offer))
    return out


def _coverage(engine) -> tuple[float, list[str]]:
    """Share of the labelled drug listings showing a quantity and a price that got an offer with the labelled
    (displayed) price and currency; and the misses."""
    offers = _offers(engine)
    priced = [lab for lab in load_labels() if lab["drug"] and lab["priced"]]
    misses = []
    for lab in priced:
        gold = lab["gold"]["offers"]
        stored = offers[(lab["market"], lab["id"])]
        if not any(abs(o[2] - g["price"]) < 0.01 and o[3] == g["currency"] for o in stored for g in gold):
            misses.append(f"{lab['market']}:{lab['id']}")
    return 1 - len(misses) / len(priced), misses


def test_every_labelled_listing_is_stored_with_its_fields_one_per_line(crawled):
    offers = _offers(crawled["engine"])
    labels = load_labels()
    assert all((lab["market"], lab["id"]) in offers for lab in labels)
    rows = crawled["engine"].connect().execute(text(
        "SELECT p.text FROM post p JOIN source s ON s.id = p.source_id WHERE s.key = 'whitehouse' LIMIT 50")).all()
    for (body,) in rows:  # title, stock, price, ships from, ships to: each on a line of its own, in page order
        lines = body.split("\n")
        assert re.fullmatch(r"[A-Z]{3} [\d.,]+", lines[-3]) and lines[-2].startswith("Ships from")
        assert lines[-1].startswith("Ships to")


def test_offers_for_ninety_percent_of_priced_drug_listings_with_the_displayed_price(crawled):
    share, misses = _coverage(crawled["engine"])
    print(f"offers with the displayed price and currency: {share:.3f} of the priced drug listings; misses {misses}")
    assert share >= TARGET, misses


def test_one_listing_never_yields_the_same_offer_twice(crawled):
    dupes = crawled["engine"].connect().execute(text(
        "SELECT post_id, quantity, unit, price, currency, COUNT(*) FROM offer "
        "GROUP BY post_id, quantity, unit, price, currency HAVING COUNT(*) > 1")).all()
    assert dupes == []


def test_summary_and_status_say_how_many_listings_had_no_offer(crawled):
    engine = crawled["engine"]
    for market in MARKETS:
        listings, none = engine.connect().execute(text(
            "SELECT COUNT(*), SUM(CASE WHEN NOT EXISTS (SELECT 1 FROM offer o WHERE o.post_id = p.id) THEN 1 ELSE 0 END) "
            "FROM post p JOIN source s ON s.id = p.source_id WHERE s.key = :k"), {"k": market}).one()
        assert 0 < none < listings
        row = next(line for line in crawled["out"].splitlines() if re.search(rf"\b{market}\b.*\d", line))
        cells = [c.strip() for c in re.split(r"[│┃|]", row) if c.strip()]
        assert cells[0] == market and cells[3] == str(none), row  # site, pages, listings, no offer
        source = next(s for s in crawled["status"]["sources"] if s["source"] == market)
        assert (source["listings_last_crawl"], source["no_offer_last_crawl"]) == (listings, none)
