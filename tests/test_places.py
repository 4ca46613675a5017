"""Places as listings use them: ships-from conventions give the offer's country; ships-to lists, place words inside
product names and origin claims are no regions; an origin claim is kept as the substance's `origins`.

Made-up listings of the kind real shops write (pipelines/places.py).
"""
from __future__ import annotations

import pytest

from npswatch.pipelines.extract import Extractor


@pytest.fixture(scope="module")
def x() -> Extractor:
    return Extractor.default()


def countries(x: Extractor, text: str) -> list[tuple[str, str]]:
    return [(r.level, r.country) for r in x.extract(text).regions]


# --- ships-from conventions ---------------------------------------------------------------------------------


@pytest.mark.parametrize("text, country", [
    ("[US✈US] 3.5g Test Kush 45$", "US"),
    ("UK to UK 2g speedtest amphetamine £20", "GB"),
    ("NL -> EU 10x MDMA 150mg 30 EUR", "NL"),
    ("US domestic: 1g cocaine 80 USD", "US"),
    ("Ships from: DE\n1g amphetamine 10 EUR", "DE"),
    ("Ships from: 🇨🇿\n1g amphetamine 10 EUR", "CZ"),
    ("🇵🇱 ✈ 🇪🇺 1g amphetamine 10 EUR", "PL"),
    ("1 GR U.K TO U.K test speed 20$", "GB"),
    ("TEST WEED ONLINE FROM USA - WORLDWIDE 1g 10$", "US"),
    ("10 x test pills NL ONLY 30 EUR", "NL"),
    ("[ONLY UK Ship] 1g amphetamine 10$", "GB"),
    ("★ 🇬🇧 🇪🇺 1g amphetamine fast delivery 10$", "GB"),
    # (the English and the Russian ships-from labels are two patterns since the speed work of issue 11)
    ("Shipped out from: NL\n1g amphetamine 10 EUR", "NL"),
    ("Отправка из DE\n1г амфетамин 10 EUR", "DE"),
    ("высылаем с 🇨🇿, 1г амфетамин 10 EUR", "CZ"),
])
def test_ships_from_codes_and_flags_give_the_country(x, text, country):
    assert countries(x, text) == [("country", country)]


def test_ships_to_lists_are_no_regions(x):
    text = "Sample Skunk 7g\nEUR 50\nShips from: Belgium\nShips to: France, Italy, Spain, Portugal"
    assert countries(x, text) == [("country", "BE")]


def test_a_listing_shipping_from_no_country_keeps_the_countries_of_its_title_out(x):
    # the country of a document or a product is no region of the offer
    text = "Testland (Mexico) ID Card Template\nUSD 10\nShips from: Digital / Service\nShips to: Digital / Service"
    assert countries(x, text) == []


def test_the_destination_of_a_route_is_no_region(x):
    assert countries(x, "5g amphetamine 30 EUR - Belgium to Austria") == [("country", "BE")]


# --- place words inside product names ------------------------------------------------------------------------


@pytest.mark.parametrize("text", [
    "Durban Poison 5g 60$",
    "Cherry Kola 3.5g 40$",
    "Hybrid Gagarin 2g 40$",
    "Auto Jamaica Feminized 1g 20$",
])
def test_place_words_in_strain_names_are_no_places(x, text):
    assert countries(x, text) == []


def test_a_place_word_after_an_adjective_of_origin_names_a_product(x):
    # "Iranian Sirec": a product, not the town Syrets
    assert countries(x, "Iranian Sirec 0.25g 60$") == []


def test_a_listing_that_states_its_city_keeps_foreign_places_of_its_title_out(x):
    text = "Testblend Gagarin Express 2g (Jamaica) smoke blend\nВес: 2 гр\nЦена: 90 $\nГород: Тбилиси"
    assert countries(x, text) == [("city", "GE")]
    # a line that is no title and names no substance still counts
    text = "Город: Бишкек\nмеф 1г 3000 сом\nТакже работаем в Алматы"
    assert countries(x, text) == [("city", "KG"), ("city", "KZ")]


# --- origin claims ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("text, canonical, origin", [
    ("Afghan hash 5g 50$", None, "AF"),
    ("Colombian cocaine 1g 90$", "cocaine", "CO"),
    ("Peruvian flake cocaine 1g 90$", "cocaine", "PE"),
    ("Iranian heroin 1g 60$", "heroin", "IR"),
    ("Марокканский гашиш 5г 5000р", None, "MA"),
    ("Morocco hash 5g 50$", None, "MA"),
    ("HEROIN IRAN 10g 500$", "heroin", "IR"),
    ("Ketamine IMPORT (NETHERLANDS) 1g 30$", "ketamine", "NL"),
    ("метадон прямиком с ленинграда 1г 300$", "methadone", "RU"),
])
def test_origin_claims_are_origins_not_regions(x, text, canonical, origin):
    f = x.extract(text)
    assert f.regions == ()
    [s] = f.substances
    assert (s.canonical, s.origins) == (canonical, (origin,))
    out = f.to_json()
    assert out["substances"][0]["origins"] == [origin]
    assert [o["origins"] for o in out["offers"]] == [[origin]]


def test_an_origin_claim_beside_a_ships_from_line(x):
    f = x.extract("10g Afghan Heroin #3\nEUR 250\nShips from: Netherlands\nShips to: Worldwide")
    assert [(r.level, r.country) for r in f.regions] == [("country", "NL")]
    assert [s.origins for s in f.substances] == [("AF",)]


def test_origins_only_where_claimed_and_a_city_next_to_a_drug_word_stays_the_offer_city(x):
    out = x.extract("Алматы меф 1г 12000 тг, афганский гашиш 5г 30000 тг").to_json()
    assert [(s["canonical"], s.get("origins")) for s in out["substances"]] == [("mephedrone", None), (None, ["AF"])]
    assert [o.get("origins") for o in out["offers"]] == [None, ["AF"]]
    assert [r["name"] for r in out["regions"]] == ["Almaty"]
    assert countries(x, "Доставка по Кыргызстану. Альфа 1г 2700 сом") == [("country", "KG")]
