"""Politeness and limits: robots.txt, an honest user agent, size caps (big page, gzip bomb), retries.

One crawl in a subprocess (a reactor cannot restart in the pytest process) of a site definition that
starts on the shop catalogue and also on the fixture market's 5 MB page and its gzip bomb; the server
answers the catalogue's second page with 503 twice first, and the "about" page with 500 every time.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, load_site, parse_site

ROOT = Path(__file__).resolve().parents[1]
UA = "npswatch-test/1.0 (+public-health research; contact test@example.invalid)"

CRAWL = textwrap.dedent("""
    import json, sys, threading
    from npswatch.crawlers.sitedef import load_site
    from npswatch.crawlers.webcrawl import crawl_sites

    site = load_site(sys.argv[2])
    site = site.model_copy(update={"start_urls": ["/shop/catalog", "/big/", "/bomb/"]})
    items, threads = [], set()
    def on_batch(batch):
        threads.add(threading.current_thread().name)
        items.extend(p.external_id for p in batch)
    stats = crawl_sites([site], base_url=sys.argv[1], on_batch=on_batch, batch_size=10,
                        settings_overrides={"LOG_LEVEL": "INFO", "USER_AGENT": sys.argv[3],
                                            "RETRY_BACKOFF_BASE": 0.2, "RETRY_BACKOFF_MAX": 0.5})
    print(json.dumps({"items": items, "threads": sorted(threads), "stats": stats.as_dict()}))
""")


@pytest.fixture(scope="module")
def crawl():
    market = build_market()
    with serve(market) as srv:
        srv.fail("/shop/catalog?page=2", times=2, status=503, retry_after=1)
        srv.fail("/shop/about", times=5, status=500)  # more often than the 2 retries allow
        proc = subprocess.run([sys.executable, "-c", CRAWL, srv.base_url, str(FIXTURE_SITES_DIR / "fixture_shop.toml"), UA],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        result["log"], result["stderr"], result["market"] = list(srv.log), proc.stderr, market
    return result


def test_the_crawl_goes_on_past_oversized_pages_and_collects_every_listing(crawl):
    truth = {l.external_id for l in crawl["market"].site_listings("shop")}
    assert Counter(crawl["items"]) == Counter(truth)  # all of them, each once
    site = crawl["stats"]["sites"]["fixture-shop"]
    assert site["finish_reason"] == "finished"


def test_a_page_lost_to_server_errors_makes_the_crawl_incomplete(crawl):
    assert [e.status for e in crawl["log"] if e.path == "/shop/about"] == [500, 500, 500]
    site = crawl["stats"]["sites"]["fixture-shop"]
    assert site["failed_requests"] == 1 and not site["complete"]  # so nothing may be marked disappeared


def test_big_page_and_gzip_bomb_are_dropped_with_a_log_line(crawl):
    err = crawl["stderr"]
    assert "/big/" in err and "larger than download max size" in err  # cut off by Content-Length
    assert "/bomb/" in err and "exceeded DOWNLOAD_MAXSIZE" in err  # cut off while inflating
    assert crawl["stats"]["sites"]["fixture-shop"]["dropped"] >= 2
    assert {"/big/", "/bomb/"} <= {e.path for e in crawl["log"]}


def test_robots_txt_is_obeyed_and_the_user_agent_is_honest(crawl):
    paths = [e.path for e in crawl["log"]]
    assert "/robots.txt" in paths
    assert not [p for p in paths if "/private/" in p]  # the wholesale page is linked but disallowed
    assert crawl["stats"]["sites"]["fixture-shop"]["robots_forbidden"] >= 1
    assert {e.user_agent for e in crawl["log"]} == {UA}


def test_a_flaky_page_is_retried_and_then_read(crawl):
    page2 = [e.status for e in crawl["log"] if e.path == "/shop/catalog?page=2"]
    assert page2 == [503, 503, 200]
    # Both retries waited (crawlers.middlewares.RetryBackoffMiddleware), as long as the server's Retry-After
    # asked (capped by RETRY_BACKOFF_MAX), before going out again.
    # (The "about" page's two retries make 4 waits and 4 retries in all.)
    for stat in ("'npswatch/retry_backoff_waits': 4", "'npswatch/retry_after': 2", "'retry/count': 4"):
        assert stat in crawl["stderr"]


def test_storage_runs_on_its_own_thread(crawl):
    assert crawl["threads"] == ["npswatch-storage"]


def test_site_politeness_reaches_every_request():
    site = parse_site("""
        name = "slow-site"
        start_urls = ["https://example.invalid/list"]
        listing = "div.item"
        proxy = "http://127.0.0.1:8118"
        [fields]
        text = "p"
        [politeness]
        max_size_mb = 1.5
        timeout = 12
        retries = 4
    """)
    from npswatch.crawlers.spiders.listing import ListingSpider

    spider = ListingSpider(site)
    meta = spider.request_meta()
    assert meta == {"download_maxsize": int(1.5 * 2**20), "download_timeout": 12.0, "max_retry_times": 4,
                    "proxy": "http://127.0.0.1:8118"}


def test_politeness_defaults_are_conservative():
    site = load_site(FIXTURE_SITES_DIR / "fixture_shop.toml")
    default = parse_site('name = "x"\nstart_urls = ["/"]\nlisting = "div"\n[fields]\ntext = "p"')
    assert default.politeness.obey_robots and default.politeness.download_delay >= 1
    assert default.politeness.autothrottle and default.politeness.max_size_mb <= 8
    assert site.politeness.obey_robots
