"""The fixture market: a deterministic synthetic web market that tests and benchmarks crawl."""
from __future__ import annotations

import hashlib
import http.client
import re
import subprocess
import sys
from collections import Counter
from datetime import timedelta

import pytest
from parsel import Selector

from npswatch.crawlers.fixture_market import BOMB_INFLATED_SIZE, build_market, gzip_inflated_size, serve

FOCUS_COUNTRIES = {"RU", "KZ", "KG", "UZ", "TJ", "BY", "GE", "MD", "RS", "CN"}


@pytest.fixture(scope="module")
def market():
    return build_market()


@pytest.fixture(scope="module")
def changed(market):
    return build_market(changes=1)


def digest(m) -> str:
    h = hashlib.sha256()
    for path in sorted(m):
        h.update(path.encode() + b"\0" + m[path].body)
    return h.hexdigest()


def html(m, path: str) -> Selector:
    return Selector(text=m[path].body.decode("utf-8"))


# --- content ---------------------------------------------------------------------------------------


def test_market_is_large_and_varied_enough(market):
    ls = market.listings
    assert len(ls) >= 150
    assert Counter(l.site for l in ls) == {"shop": 70, "forum": 90, "board": 50}
    assert sum(l.is_drug for l in ls) >= 120
    assert len({l.city for l in ls}) >= 8
    countries = {l.country for l in ls}
    assert len(countries & FOCUS_COUNTRIES) >= 4
    currencies = {l.currency for l in ls if l.currency}
    assert len(currencies) >= 4 and {"RUB", "KZT", "KGS", "UZS", "USD"} <= currencies
    languages = Counter(l.language for l in ls)
    assert languages.most_common(1)[0][0] == "ru"
    assert len(set(languages) - {"ru"}) >= 2


def test_dates_span_about_six_months_before_now(market):
    dates = [l.posted_at for l in market.listings]
    assert max(dates) <= market.now
    span = max(dates) - min(dates)
    assert timedelta(days=150) <= span <= timedelta(days=190)
    assert len({(d.year, d.month) for d in dates}) >= 6


def test_ids_are_unique_per_site(market):
    keys = [(l.site, l.external_id) for l in market.listings]
    assert len(keys) == len(set(keys))


def test_every_required_substance_is_offered(market):
    offered = {l.substance for l in market.listings if l.is_drug}
    assert {"mephedrone", "alpha-PVP", "salt", "spice", "hashish", "cocaine", "amphetamine", "MDMA",
            "heroin", "MDMB-4en-PINACA", "ADB-BUTINACA"} <= offered


def test_obfuscated_spellings_and_drug_emoji_appear(market):
    texts = [l.text for l in market.listings if l.is_drug]
    joined = "\n".join(texts)
    assert "\u200b" in joined  # zero-width space inside a word
    assert re.search(r"[а-яё][a-z]|[a-z][а-яё]", joined)  # Cyrillic word with a Latin look-alike
    assert re.search(r"[а-яё]0[а-яё]", joined, re.IGNORECASE)  # digit zero for "о"
    assert re.search(r"(?<!\w)[а-яё] [а-яё] [а-яё](?!\w)", joined, re.IGNORECASE)  # spaced letters
    assert re.search(r"[А-ЯЁ]\.[А-ЯЁ]\.[А-ЯЁ]\.", joined)  # dotted capitals
    for emoji in ("🧂", "❄️", "🍫", "🌿", "💊"):
        assert emoji in joined, emoji


def test_look_alike_ordinary_goods_are_present_and_not_drugs(market):
    negatives = {l.substance: l for l in market.listings if l.kind == "negative"}
    assert {"table_salt", "bath_salt", "hair_dryer", "pine_cones", "internet"} <= set(negatives)
    assert all(not l.is_drug for l in negatives.values())
    assert "Breezona" in negatives["hair_dryer"].text  # invented brand
    assert re.search(r"шишки|cones|qubba", negatives["pine_cones"].text, re.IGNORECASE)


def test_names_and_phones_are_obviously_synthetic(market):
    body = b"".join(r.body for r in market.pages.values()).decode()
    handles = set(re.findall(r"@\w+", body))
    assert handles and all(re.fullmatch(r"@(synthetic_vendor|test_user)_\d\d|@test_moderator", h) for h in handles)
    phones = re.findall(r"\+\d[\d\s-]{9,}\d", body)
    assert phones and all(re.fullmatch(r"\+7 000 000-00-\d\d", p) for p in phones)


def test_forum_shows_relative_dates_resolved_against_now(market):
    forum = market.site_listings("forum")
    yesterday = [l for l in forum if l.shown_date.startswith("вчера в")]
    days_ago = [l for l in forum if re.fullmatch(r"\d+ (дня|дней|день) назад", l.shown_date)]
    assert yesterday or days_ago
    for l in yesterday:
        assert l.posted_at.date() == (market.now - timedelta(days=1)).date()
        assert l.shown_date.endswith(l.posted_at.strftime("%H:%M"))
    for l in days_ago:
        assert l.posted_at == market.now - timedelta(days=int(l.shown_date.split()[0]))


# --- layouts -----------------------------------------------------------------------------------------


def test_shop_catalogue_paginates_with_10_to_12_cards(market):
    path, seen = "/shop/catalog", []
    while path:
        page = html(market, path)
        cards = page.css("div.catalog > article.card")
        seen.extend(cards.xpath("@data-id").getall())
        nxt = page.css("nav.pager a[rel=next]::attr(href)").get()
        assert 10 <= len(cards) <= 12 or nxt is None
        for card in cards:  # every card shows all its fields
            for cls in ("h3.card-title", "p.card-desc", "li.price", "li.weight", "li.city", "li.stock", "span.date"):
                assert card.css(cls), cls
        path = nxt
    assert sorted(seen) == sorted(l.external_id for l in market.site_listings("shop"))
    assert any(re.fullmatch(r"в наличии \d+", s) for s in html(market, "/shop/catalog").css("li.stock::text").getall())


def test_forum_threads_have_pages_with_author_date_and_body(market):
    index = html(market, "/forum/")
    threads = index.css("a.thread-link::attr(href)").getall()
    assert len([t for t in threads if "/private/" not in t]) == 3
    page = html(market, "/forum/thread/1?page=2")
    posts = page.xpath('//tr[@class="post"]')
    assert len(posts) == 10
    assert posts[0].xpath('.//b[@class="nick"]/text()').get().startswith("@")
    assert posts[0].xpath('.//span[@class="post-date"]/text()').get()
    assert page.xpath('//div[@class="pages"]/a[@class="nav-next"]/@href').get() == "/forum/thread/1?page=3"


def test_board_list_links_to_detail_pages_with_all_fields(market):
    listing = html(market, "/board/")
    links = listing.css("ul.ads a.ad-title::attr(href)").getall()
    assert len([h for h in links if "/private/" not in h]) == 12
    truth = {l.path: l for l in market.site_listings("board")}
    detail = html(market, links[1])
    props = dict(zip(detail.css("dl.ad-props dt::text").getall(), detail.css("dl.ad-props dd::text").getall()))
    assert set(props) == {"Цена", "Город", "Размещено", "Продавец"}
    assert props["Продавец"] == truth[links[1]].vendor
    assert props["Размещено"] == truth[links[1]].shown_date


def test_robots_txt_disallows_traps_that_pages_link_to(market):
    robots = market["/robots.txt"]
    assert robots.headers["Content-Type"].startswith("text/plain")
    rules = robots.body.decode()
    assert "Disallow: /shop/private/" in rules
    assert "/shop/private/wholesale" in html(market, "/shop/catalog").css("nav.sections a::attr(href)").getall()
    assert market["/shop/private/wholesale"].status == 200  # reachable if a crawler ignores robots.txt
    assert "Disallow: /board/private/" in rules
    assert any("/board/private/" in h for h in html(market, "/board/").css("a.ad-title::attr(href)").getall())


def test_market_maps_paths_to_responses(market):
    assert "/shop/catalog?page=2" in market
    assert market["/shop/catalog?page=1"] == market["/shop/catalog"]
    assert market["/board/ad/300001#x"].status == 200  # fragments are not sent, but tolerated
    with pytest.raises(KeyError):
        market["/shop/catalog?page=99"]
    assert market.response("/nope").status == 404
    assert "/big/" not in set(market) and "/bomb/" not in set(market)
    assert market["/big/"].status == 200


# --- parameters --------------------------------------------------------------------------------------


def test_same_arguments_give_the_same_bytes_even_in_another_process(market):
    assert digest(build_market()) == digest(market)
    assert digest(build_market(seed=1)) != digest(market)
    code = ("import hashlib; from crawlers.fixture_market import build_market; m = build_market(); h = hashlib.sha256()\n"
            "for p in sorted(m): h.update(p.encode() + b'\\0' + m[p].body)\nprint(h.hexdigest())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}, cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert out.stdout.strip() == digest(market)


def test_scale_multiplies_listings(market):
    big = build_market(scale=3)
    assert Counter(l.site for l in big.listings) == {s: 3 * n for s, n in Counter(l.site for l in market.listings).items()}
    assert len({(l.site, l.external_id) for l in big.listings}) == len(big.listings)


def test_changed_variant_differs_as_documented(market, changed):
    log = changed.changelog
    assert all(log[k] for k in ("removed", "added", "price_changed", "stock_dropped"))
    assert not any(market.changelog.values())
    before = {(l.site, l.external_id): l for l in market.listings}
    after = {(l.site, l.external_id): l for l in changed.listings}
    assert log["removed"] == before.keys() - after.keys()
    assert log["added"] == after.keys() - before.keys()
    assert {s for s, _ in log["removed"]} == {"shop", "forum", "board"}
    for key in log["removed"]:
        if key[0] != "forum":
            assert changed.response(before[key].path).status == 404
    for key in log["added"]:
        assert market.now - timedelta(days=3) <= after[key].posted_at <= market.now
    for key in log["price_changed"]:
        assert after[key].price != before[key].price
        if key[0] == "board":
            assert after[key].text != before[key].text  # the ad's text quotes the new price
    for key in log["stock_dropped"]:
        assert after[key].stock < before[key].stock
    untouched = (before.keys() & after.keys()) - log["price_changed"] - log["stock_dropped"]
    assert all(before[k].text == after[k].text and before[k].price == after[k].price for k in untouched)
    assert build_market(changes=2).changelog != log


# --- server ------------------------------------------------------------------------------------------


def get(srv, path: str, headers: dict | None = None):
    conn = http.client.HTTPConnection(srv.host, srv.port, timeout=10)
    conn.request("GET", path, headers=headers or {})
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return resp, body


def test_server_serves_pages_404s_and_logs_requests(market):
    with serve(market) as srv:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", srv.base_url)
        resp, body = get(srv, "/shop/catalog?page=2", {"User-Agent": "test-agent/1"})
        assert resp.status == 200
        assert resp.getheader("Content-Type") == "text/html; charset=utf-8"
        assert body == market["/shop/catalog?page=2"].body
        resp, _ = get(srv, "/no/such/page")
        assert resp.status == 404
        resp, body = get(srv, "/robots.txt")
        assert resp.getheader("Content-Type") == "text/plain; charset=utf-8" and b"Disallow" in body
        assert srv.requests == ["/shop/catalog?page=2", "/no/such/page", "/robots.txt"]
        assert srv.log[0].user_agent == "test-agent/1" and srv.log[1].status == 404
        srv.market = build_market(changes=1)  # swapping the market serves the changed variant
        resp, _ = get(srv, "/board/")
        assert resp.status == 200


def test_server_has_oversized_page_and_gzip_bomb(market):
    with serve(market) as srv:
        resp, body = get(srv, "/big/")
        assert resp.status == 200 and len(body) >= 5 * 1024 * 1024
        resp, body = get(srv, "/bomb/")
        assert resp.getheader("Content-Encoding") == "gzip"
        assert len(body) < 200 * 1024
        assert gzip_inflated_size(body) >= BOMB_INFLATED_SIZE
        links = b"".join(r.body for r in market.pages.values())
        assert b'href="/big/' not in links and b'href="/bomb/' not in links
