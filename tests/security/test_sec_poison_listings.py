"""Poison page listings: one card of a catalogue page with hostile field values (control characters, NUL,
invalid UTF-8, numbers far beyond any price or stock, impossible dates, broken links) never aborts the page or
its batch. The spider turns the page into posts, the writer stores them with their extraction, the listing
tracker observes them: the other cards are stored and observed, the hostile one is stored made safe or
skipped and counted. Hypothesis feeds the hostile values, on SQLite."""
from __future__ import annotations

import html

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from scrapy.http import HtmlResponse
from sqlalchemy import text

from npswatch.crawlers.sitedef import parse_site
from npswatch.crawlers.spiders.listing import ListingSpider
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.db import upgrade
from npswatch.storage.listings import ListingTracker
from npswatch.storage.runs import run_record
from npswatch.watch import Watch

BASE = "http://synthetic-poison-shop.invalid"
SITE = parse_site("""
name = "synthetic-poison-shop"
start_urls = ["/catalog"]
listing = "article.card"
[fields]
id = "xpath:@data-id"
title = "h3"
text = "p.desc"
price = "li.price"
quantity = "li.weight"
city = "li.city"
stock = "li.stock"
posted = "span.date::text"
vendor = "span.vendor"
link = "a.more::attr(href)"
[hints]
country = "RU"
currency = "RUB"
language = "ru"
timezone = "UTC"
""")
FIELDS = ["id", "title", "text", "price", "quantity", "city", "stock", "posted", "vendor", "link"]
GOOD = {"title": "Синтетический товар", "text": "меф 1г 4500 руб", "price": "4500 ₽", "quantity": "1 г",
        "city": "Москва", "stock": "7 шт", "posted": "01.03.2026", "vendor": "synthetic-vendor"}


def _card(values: dict[str, str]) -> str:
    e = html.escape
    return (f'<article class="card" data-id="{e(values["id"])}"><h3>{e(values["title"])}</h3>'
            f'<p class="desc">{e(values["text"])}</p><ul><li class="price">{e(values["price"])}</li>'
            f'<li class="weight">{e(values["quantity"])}</li><li class="city">{e(values["city"])}</li>'
            f'<li class="stock">{e(values["stock"])}</li></ul><span class="date">{e(values["posted"])}</span>'
            f'<span class="vendor">{e(values["vendor"])}</span><a class="more" href="{e(values["link"])}">…</a>'
            "</article>")


def _page(hostile: dict[str, str]) -> bytes:
    cards = [{**GOOD, "id": "synth-1", "link": "/item/1"}, {**GOOD, "id": "synth-2", "link": "/item/2", **hostile},
             {**GOOD, "id": "synth-3", "link": "/item/3"}]
    page = "<html><head><meta charset='utf-8'></head><body>" + "".join(map(_card, cards)) + "</body></html>"
    return page.encode("utf-8", errors="surrogatepass")  # a lone surrogate becomes bytes that are not UTF-8


@pytest.fixture
def world(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "{"k" * 32}"\n', encoding="utf-8")
    watch = Watch(str(cfg))
    upgrade(watch.engine)
    yield watch
    watch.engine.dispose()


NUMBERISH = st.one_of(st.integers(min_value=-(10**400), max_value=10**400).map(str),
                      st.floats(allow_nan=True, allow_infinity=True).map(lambda f: f"{f} ₽"),
                      st.sampled_from(["NaN", "inf", "1e309 руб", "0", "-1 шт", "0,0000000001 г", "٣٤٥٦", "１２３"]))
HOSTILE_TEXT = st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=60)
HOSTILE = st.one_of(HOSTILE_TEXT, NUMBERISH, st.sampled_from([
    "http://[::1", "javascript:alert(1)", "//", "\x00", "31.02.2026", "9999-99-99", "01.01.0001", "вчера в 25:61",
    "x" * 5000]))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(hostile=st.dictionaries(st.sampled_from(FIELDS), HOSTILE, max_size=5))
@example(hostile={"link": "http://[::1"})  # urljoin: "Invalid IPv6 URL"
@example(hostile={"id": "\x00", "text": "нуль\x00 меф 1г 4500"})
@example(hostile={"price": "1e309 руб", "stock": "9" * 40, "quantity": "0,0000000001 г"})  # stock beyond 64 bits
@example(hostile={"stock": "9" * 5000, "price": "9" * 5000, "text": "меф " + "9" * 5000 + " г"})  # int() refuses
@example(hostile={"posted": "01.01.0001", "title": "\ud800"})
def test_a_hostile_listing_never_aborts_its_page_or_batch(world, hostile):
    spider = ListingSpider(SITE, base_url=BASE)
    response = HtmlResponse(url=BASE + "/catalog", body=_page(hostile), encoding="utf-8")
    posts = [p for p in spider.parse_listing(response) if isinstance(p, RawPost)]  # never raises
    ids = {p.external_id for p in posts}
    assert {"synth-1", "synth-3"} <= ids, ids
    assert len(posts) == 3 or spider.stat("npswatch/invalid_items") == 1  # the hostile card: kept, or counted
    writer = world.writer(extract=True)
    with run_record(world.engine, "crawl", SITE.name) as run:
        writer.write(posts)  # never raises
        ListingTracker(world.engine, world.pseudonymiser).observe(run.id, posts)  # never raises
    with world.engine.connect() as c:
        stored = set(c.execute(text("SELECT p.external_id FROM post p JOIN listing l ON l.post_id = p.id")).scalars())
        offers = c.execute(text("SELECT count(*) FROM offer o JOIN post p ON p.id = o.post_id "
                                "WHERE p.external_id IN ('synth-1', 'synth-3')")).scalar()
    assert {"synth-1", "synth-3"} <= stored
    assert offers >= 2  # the good cards were extracted too
