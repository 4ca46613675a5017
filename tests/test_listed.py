"""Offers from a listing's structured fields (`pipelines.listed`, issue 14 item 1), on synthetic listings."""
from __future__ import annotations

from datetime import date

import pytest
from parsel import Selector

from npswatch.crawlers.sitedef import parse_site
from npswatch.crawlers.spiders.listing import ListingSpider
from npswatch.pipelines.extract import Extractor
from npswatch.pipelines.rawpost import RawPost, SourceHints, Structured


@pytest.fixture(scope="module")
def x():
    return Extractor.default()


def offers(f):
    return [(o.substance.canonical, o.quantity, o.unit, o.price, o.currency) for o in f.offers]


def test_displayed_price_pairs_with_the_quantity_of_the_title(x):
    f = x.extract_listing("Synthetic test: 25x MDMA pills 120mg\nIn stock\nGBP 40\nShips from: Germany",
                          Structured(price="GBP 40"))
    assert offers(f) == [("MDMA", 25.0, "piece", 40.0, "GBP")]
    assert f.offers[0].region is not None and f.offers[0].region.country == "DE"


def test_mapped_quantity_unit_and_currency_make_the_offer(x):
    f = x.extract_listing("Мефедрон кристалл", Structured(price="4 500", currency="₽", quantity="2", unit="г"))
    assert offers(f) == [("mephedrone", 2.0, "g", 4500.0, "RUB")]


def test_a_price_the_text_pairs_too_is_one_offer_not_two(x):
    text = "Мефедрон 1г 4500₽\n4500 ₽"
    assert len(x.extract(text).offers) >= 1
    f = x.extract_listing(text, Structured(price="4500 ₽", quantity="1 г"))
    assert offers(f) == [("mephedrone", 1.0, "g", 4500.0, "RUB")]


def test_a_title_pricing_its_own_quantity_keeps_its_offer(x):
    f = x.extract_listing("Synthetic: cocaine 10 grams for $250\n150 $", Structured(price="150 $"))
    assert [o[3] for o in offers(f)] == [250.0]


def test_currency_from_the_source_and_usd_per_gram(x):
    f = x.extract_listing("Synthetic: 5g amphetamine\n60", Structured(price="60"), posted_at=date(2026, 1, 5),
                          hints=SourceHints(currency="EUR"))
    (o,) = f.offers
    assert (o.price, o.currency, o.grams, o.price_per_gram) == (60.0, "EUR", 5.0, 12.0)
    assert o.price_per_gram_usd is not None


def test_without_price_field_or_substance_the_text_decides(x):
    text = "Мефедрон 1г - 4500₽"
    assert offers(x.for_storage(text, SourceHints(), None, Structured())) == offers(x.extract(text))
    assert x.extract_listing("Synthetic: 10g of garden soil\nUSD 20", Structured(price="USD 20")).offers == ()


def test_the_stored_text_is_each_field_on_its_own_line_in_page_order():
    site = parse_site('name = "s"\nstart_urls = ["/"]\nlisting = "div.c"\n[fields]\ntitle = "h3"\n'
                      'price = "b.p"\nquantity = "i.q"\ncity = "span.city"\nships_to = "em"\n')
    page = ('<div class="c"><h3>Synthetic mephedrone</h3><span class="city">Москва</span><i class="q">1 г</i>'
            '<b class="p">4 500 ₽</b><em>Worldwide</em></div>')
    from scrapy.http import HtmlResponse

    resp = HtmlResponse(url="http://127.0.0.1/", body=page.encode(), encoding="utf-8")
    (post,) = [p for p in ListingSpider(site, base_url="http://127.0.0.1/").parse_listing(resp) if isinstance(p, RawPost)]
    assert post.text == "Synthetic mephedrone\nМосква\n1 г\n4 500 ₽\nShips to: Worldwide"
    assert (post.structured.price, post.structured.quantity) == ("4 500 ₽", "1 г")
    assert Selector(text=page).css("b.p::text").get() in post.text


PAGE = """<html><body>
<nav><ol class="crumbs"><li>Shop</li><li>Stimulants</li><li class="here">Mephedrone</li></ol>
<select id="city"><option>Астана</option><option selected>Алматы</option></select></nav>
<div class="c"><h3>Synthetic crystal 1 г</h3><b class="p">20 000</b></div>
<div class="c"><h3>Synthetic crystal 2 г</h3><b class="p">38 000</b><span class="city">Шымкент</span></div>
</body></html>"""

PAGE_SITE = """name = "s"
start_urls = ["/"]
listing = "div.c"
[fields]
title = "h3"
price = "b.p"
city = "span.city"
[page]
category = "ol.crumbs li.here"
city = "xpath://select[@id='city']/option[@selected]"
"""


def test_page_level_fields_reach_every_listing_without_its_own(x):
    from scrapy.http import HtmlResponse

    site = parse_site(PAGE_SITE)
    resp = HtmlResponse(url="http://127.0.0.1/", body=PAGE.encode(), encoding="utf-8")
    first, second = [p for p in ListingSpider(site, base_url="http://127.0.0.1/").parse_listing(resp)
                     if isinstance(p, RawPost)]
    assert first.text == "Mephedrone\nАлматы\nSynthetic crystal 1 г\n20 000"
    assert second.text == "Mephedrone\nSynthetic crystal 2 г\n38 000\nШымкент"  # its own city wins
    facts = [x.for_storage(p.text, p.hints, None, p.structured) for p in (first, second)]
    assert [[(o.substance.canonical, o.quantity, o.price, o.currency) for o in f.offers] for f in facts] == [
        [("mephedrone", 1.0, 20000.0, "KZT")], [("mephedrone", 2.0, 38000.0, "KZT")]]
    assert [[r.name for r in f.regions] for f in facts] == [["Almaty"], ["Shymkent"]]


def test_page_fields_are_checked_like_listing_fields():
    from npswatch.crawlers.sitedef import SiteDefError

    with pytest.raises(SiteDefError, match=r"page\.citty: unknown key"):
        parse_site(PAGE_SITE.replace("\ncity = \"xpath", "\ncitty = \"xpath"), source="x.toml")


def test_the_readmes_worked_example_stores_and_prices_as_it_says(x):
    """README, "A real-style layout, worked through": the definition and page shown there, as documented."""
    import re
    from pathlib import Path

    from scrapy.http import HtmlResponse

    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text(encoding="utf-8")
    part = readme[readme.index("#### A real-style layout"):]
    html = re.search(r"```html\n(.*?)```", part, re.S).group(1)
    site = parse_site(re.search(r"```toml\n(.*?)```", part, re.S).group(1))
    resp = HtmlResponse(url="http://127.0.0.1/market?page=1", body=html.encode(), encoding="utf-8")
    out = list(ListingSpider(site, base_url="http://127.0.0.1/").parse_listing(resp))
    (post,) = [o for o in out if isinstance(o, RawPost)]
    assert post.text == "28gr 4MMC / Mephedrone\nIn stock\nUSD 280\nShips from: Netherlands\nShips to: Worldwide"
    assert [o.url for o in out if hasattr(o, "callback")] == ["http://127.0.0.1/market?page=2",
                                                              "http://127.0.0.1/market?page=3"]
    f = x.for_storage(post.text, post.hints, None, post.structured)
    assert offers(f) == [("mephedrone", 28.0, "g", 280.0, "USD")] and [r.country for r in f.regions] == ["NL"]


def test_same_text_with_new_structured_fields_re_extracts_without_a_new_version(x, tmp_path):
    """A definition edited to map `price` (then `reparse`): the same stored text, now with an offer."""
    from sqlalchemy import text as sql

    from npswatch.pipelines.privacy import Pseudonymiser
    from npswatch.storage.db import make_engine, upgrade
    from npswatch.storage.writer import PostWriter

    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    w = PostWriter(engine, Pseudonymiser(b"synthetic-test-key-0123456789abcdef0123"), x.for_storage)
    body, eur = "Synthetic 3.5g amphetamine sulphate\n30", SourceHints(currency="EUR")
    assert w.write([RawPost(source="s", external_id="1", text=body, hints=eur)]).offers == 0  # a bare number
    r = w.write([RawPost(source="s", external_id="1", text=body, hints=eur, structured=Structured(price="30"))])
    with engine.connect() as c:
        offers = c.execute(sql("select quantity, price, currency from offer")).all()
        versions = c.execute(sql("select count(*) from post_version")).scalar()
    assert offers == [(3.5, 30.0, "EUR")] and versions == 0 and r.unchanged == 1
