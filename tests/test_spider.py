"""The generic spider crawls the fixture market through the TOML site definitions only.

One crawl of all three sites runs in a subprocess (a Twisted reactor cannot restart inside the
pytest process); the fixture server runs here, so its access log is checked directly.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pytest

from npswatch.crawlers import settings as crawl_settings
from npswatch.crawlers.fixture_market import build_market, serve
from npswatch.crawlers.sitedef import SiteDefError, load_site, load_sites, parse_site
from npswatch.crawlers.spiders.fields import compose_text, parse_stock
from npswatch.pipelines.rawpost import RawPost

ROOT = Path(__file__).resolve().parents[1]
SITES = ROOT / "crawlers" / "sites"
SOURCE = {"shop": "fixture-shop", "forum": "fixture-forum", "board": "fixture-board"}
BATCH = 40

CRAWL = textwrap.dedent("""
    import json, sys
    from datetime import datetime
    from pathlib import Path
    from npswatch.crawlers.webcrawl import crawl_sites

    base_url, now, out = sys.argv[1], datetime.fromisoformat(sys.argv[2]), Path(sys.argv[3])
    sites = sorted(Path("crawlers/sites").glob("fixture_*.toml"))
    batches, progress = [], []
    with (out / "items.jsonl").open("w") as f:
        def on_batch(batch):
            batches.append(len(batch))
            for post in batch:
                f.write(post.model_dump_json() + "\\n")
        stats = crawl_sites(sites, base_url=base_url, on_batch=on_batch, batch_size=int(sys.argv[4]),
                            on_progress=lambda p: progress.append(vars(p)), now=now,
                            settings_overrides={"LOG_LEVEL": "WARNING"})
    (out / "run.json").write_text(json.dumps({"stats": stats.as_dict(), "batches": batches, "progress": progress}))
""")


class Crawl:
    def __init__(self, market, requests, log, items, run):
        self.market, self.requests, self.log, self.items = market, requests, log, items
        self.stats, self.batches, self.progress = run["stats"], run["batches"], run["progress"]
        self.truth = {(SOURCE[l.site], l.external_id): l for l in market.listings}


@pytest.fixture(scope="module")
def crawl(tmp_path_factory):
    market = build_market()
    out = tmp_path_factory.mktemp("crawl")
    with serve(market) as srv:
        proc = subprocess.run([sys.executable, "-c", CRAWL, srv.base_url, market.now.isoformat(), str(out), str(BATCH)],
                              cwd=ROOT, capture_output=True, text=True, timeout=180)
        assert proc.returncode == 0, proc.stderr[-3000:]
        items = [RawPost.model_validate_json(line) for line in (out / "items.jsonl").read_text().splitlines()]
        c = Crawl(market, srv.requests, list(srv.log), items, json.loads((out / "run.json").read_text()))
        c.base_url = srv.base_url
    return c


def test_every_listing_is_collected_exactly_once(crawl):
    ids = Counter((p.source, p.external_id) for p in crawl.items)
    assert max(ids.values()) == 1
    drug = {k for k, l in crawl.truth.items() if l.is_drug}
    assert drug <= ids.keys()
    assert ids.keys() == crawl.truth.keys()  # nothing missing, nothing extra (traps included)
    assert crawl.stats["items"] == len(crawl.truth)


def test_robots_txt_is_honoured(crawl):
    assert not [p for p in crawl.requests if "/private/" in p]
    assert "/robots.txt" in crawl.requests
    for site in SOURCE.values():
        assert crawl.stats["sites"][site]["robots_forbidden"] >= 1  # each layout links to its trap


def test_no_url_is_fetched_twice(crawl):
    counts = Counter(crawl.requests)
    # robots.txt is fetched once per site: each site is its own crawler with its own robots cache.
    assert counts.pop("/robots.txt") <= len(SOURCE)
    assert max(counts.values()) == 1
    assert "/shop/item/100001" not in counts  # card permalinks are not fetched: the cards have it all


def test_requests_carry_the_honest_user_agent(crawl):
    assert {e.user_agent for e in crawl.log} == {crawl_settings.USER_AGENT}


def test_posted_dates_match_the_ground_truth_including_relative_ones(crawl):
    for post in crawl.items:
        assert post.posted_at == crawl.truth[(post.source, post.external_id)].posted_at, post.external_id
    assert any("назад" in l.shown_date or "вчера" in l.shown_date for l in crawl.truth.values())


def test_shop_cards_become_posts_with_price_weight_city_and_stock(crawl):
    shop = [p for p in crawl.items if p.source == "fixture-shop"]
    for post in shop:
        truth = crawl.truth[(post.source, post.external_id)]
        assert post.url == crawl.base_url + truth.path
        assert post.extra["stock"] == truth.stock
        assert post.extra["title"] == truth.title
        # Title and description both reach the text; a title the description repeats is not doubled.
        assert all(line.casefold() in post.text.casefold() for line in truth.text.split("\n"))
        assert post.extra["city"] in post.text and post.extra["price"] in post.text
        assert (post.hints.country, post.hints.currency, post.hints.language) == ("RU", "RUB", "ru")
        assert post.author is None
    offer = next(p for p in shop if p.extra.get("quantity"))
    assert f"{offer.extra['quantity']} — {offer.extra['price']}" in offer.text


def test_forum_posts_keep_author_permalink_and_line_breaks(crawl):
    forum = [p for p in crawl.items if p.source == "fixture-forum"]
    for post in forum:
        truth = crawl.truth[(post.source, post.external_id)]
        assert post.author == truth.vendor
        assert post.url == crawl.base_url + truth.path
        assert post.text == truth.text  # zero-width chars and look-alike letters survive
    assert any("\n" in p.text for p in forum)


def test_board_posts_combine_list_and_detail_fields(crawl):
    board = [p for p in crawl.items if p.source == "fixture-board"]
    for post in board:
        truth = crawl.truth[(post.source, post.external_id)]
        assert post.author == truth.vendor
        assert post.url == crawl.base_url + truth.path
        assert truth.title.casefold() in post.text.casefold()
        assert truth.text.split("\n", 1)[1] in post.text  # the detail page's full text
        assert post.extra["price"] and post.extra["city"]
        assert post.extra["page"].startswith(crawl.base_url + "/board/")


def test_items_arrive_in_batches_with_progress(crawl):
    assert sum(crawl.batches) == len(crawl.items)
    assert max(crawl.batches) == BATCH and all(0 < b <= BATCH for b in crawl.batches)
    last = {}
    for event in crawl.progress:
        last[event["site"]] = event
    assert {s: e["items"] for s, e in last.items()} == dict(Counter(p.source for p in crawl.items))
    assert crawl.stats["errors"] == 0
    assert crawl.stats["written"] == len(crawl.items)


FAILING_WRITER = textwrap.dedent("""
    import sys
    from datetime import datetime
    from npswatch.crawlers.webcrawl import CrawlError, crawl_sites

    def on_batch(batch):
        raise OSError("disk full (synthetic)")
    try:
        crawl_sites(["crawlers/sites/fixture_forum.toml"], base_url=sys.argv[1], on_batch=on_batch, batch_size=5,
                    now=datetime.fromisoformat(sys.argv[2]), settings_overrides={"LOG_LEVEL": "CRITICAL"})
    except CrawlError as exc:
        site = exc.stats.sites["fixture-forum"]
        print(type(exc.causes["fixture-forum"]).__name__, site.finish_reason, site.written)
""")


def test_a_failing_batch_writer_stops_the_site_and_raises():
    market = build_market(scale=3)  # 9 threads: enough pages that stopping early shows
    with serve(market) as srv:
        proc = subprocess.run([sys.executable, "-c", FAILING_WRITER, srv.base_url, market.now.isoformat()],
                              cwd=ROOT, capture_output=True, text=True, timeout=120)
        fetched = len(srv.requests)
    assert proc.stdout.split() == ["OSError", "batch_write_failed", "0"], proc.stderr[-2000:]
    assert fetched < len([p for p in market if p.startswith("/forum/thread/")])


# --- site definitions --------------------------------------------------------------------------------


def test_fixture_definitions_load():
    sites = {s.name: s for s in load_sites(SITES)}
    assert {"fixture-shop", "fixture-forum", "fixture-board"} <= sites.keys()
    assert sites["fixture-forum"].listing.startswith("xpath:")
    assert sites["fixture-board"].follow_detail is not None
    assert all(s.politeness.obey_robots for s in sites.values())


GOOD = """\
name = "t"
start_urls = ["/list"]
listing = "div.item"
[fields]
text = "p"
"""


@pytest.mark.parametrize("edit, field", [
    (GOOD.replace('text = "p"', 'text = "p"\nprise = ".price"'), "fields.prise"),
    (GOOD.replace('text = "p"', 'text = "p"\nprice = "li..price"'), "fields.price"),
    (GOOD.replace('text = "p"', "text = \"p\"\nposted = 'xpath://span[@class=\"d\"'"), "fields.posted"),
    (GOOD.replace('text = "p"', 'title = "h3"'), "text"),
    (GOOD + '[politeness]\nconcurrency = "many"\n', "politeness.concurrency"),
    (GOOD + '[hints]\ncurrency = "rubles"\n', "hints.currency"),
    (GOOD.replace('["/list"]', '["list"]'), "start_urls"),
    (GOOD + '[follow_detail]\nfields = {text = "p"}\n', "follow_detail.link"),
])
def test_bad_definition_names_file_and_field(tmp_path, edit, field):
    path = tmp_path / "broken_site.toml"
    path.write_text(edit, encoding="utf-8")
    with pytest.raises(SiteDefError) as err:
        load_site(path)
    message = str(err.value)
    assert str(path) in message and field in message


def test_toml_syntax_error_names_the_file(tmp_path):
    path = tmp_path / "syntax.toml"
    path.write_text('name = "x\n', encoding="utf-8")
    with pytest.raises(SiteDefError, match="syntax.toml: TOML syntax error"):
        load_site(path)


def test_relative_start_urls_need_a_base_url():
    site = parse_site(GOOD)
    with pytest.raises(SiteDefError, match="start_urls"):
        site.resolve_start_urls(None)
    assert site.resolve_start_urls("http://127.0.0.1:9/sub/") == ["http://127.0.0.1:9/sub/list"]
    assert parse_site(GOOD.replace('"/list"', '"https://example.test/a"')).resolve_start_urls() == [
        "https://example.test/a"]


def test_name_defaults_to_file_stem(tmp_path):
    path = tmp_path / "my_site.toml"
    path.write_text(GOOD.replace('name = "t"\n', ""), encoding="utf-8")
    assert load_site(path).name == "my-site"


def spider_for(site, market):
    from scrapy.utils.test import get_crawler

    from npswatch.crawlers.spiders.listing import ListingSpider

    return ListingSpider.from_crawler(get_crawler(ListingSpider), site=site, base_url="http://fixture.test",
                                      now=market.now)


def response_for(market, path):
    from scrapy.http import HtmlResponse, Request

    url = "http://fixture.test" + path
    return HtmlResponse(url, body=market[path].body, request=Request(url))


def test_max_pages_stops_following_listing_pages():
    # Calls the spider's callbacks directly on fixture pages: no reactor, no network.
    market = build_market()
    site = load_site(SITES / "fixture_shop.toml")
    site = site.model_copy(update={"politeness": site.politeness.model_copy(update={"max_pages": 2})})
    spider = spider_for(site, market)

    async def start():
        return [r.url async for r in spider.start()]

    assert asyncio.run(start()) == ["http://fixture.test/shop/catalog"]
    out = list(spider.parse_listing(response_for(market, "/shop/catalog")))
    assert len([o for o in out if isinstance(o, RawPost)]) == 12
    # Page 2 is the second and last page allowed; the section links are not followed any more.
    assert [o.url for o in out if not isinstance(o, RawPost)] == ["http://fixture.test/shop/catalog?page=2"]
    out = list(spider.parse_listing(response_for(market, "/shop/catalog?page=2")))
    assert out and all(isinstance(o, RawPost) for o in out)


def test_sites_needing_javascript_or_disabled_are_skipped_without_crawling():
    from npswatch.crawlers.spiders.listing import ListingSpider
    from npswatch.crawlers.webcrawl import crawl_sites

    js_site = parse_site(GOOD.replace('name = "t"', 'name = "t"\njs = true'))
    off_site = parse_site(GOOD.replace('name = "t"', 'name = "u"\nenabled = false'))
    with pytest.raises(SiteDefError, match="js"):
        ListingSpider(js_site, base_url="http://fixture.test")
    stats = crawl_sites([js_site, off_site], base_url="http://fixture.test")  # returns before any reactor starts
    assert set(stats.skipped) == {"t", "u"} and stats.items == 0


def test_stock_labels_and_composed_text():
    assert [parse_stock(s) for s in ("в наличии 5", "в наличии: 12 шт", "нет в наличии", "Out of stock", None)] == [
        5, 12, 0, 0, None]
    text = compose_text(title="Соль", text="Соль крупная", price="2 500 ₽", quantity="1 г", city="Москва")
    assert text == "Соль крупная\n1 г — 2 500 ₽\nМосква"
    assert compose_text(title="T", text="Цена 900 сом, Ош", price="900 сом", city="Ош") == "T\nЦена 900 сом, Ош"
