"""Offers from a listing's structured fields: the price (and currency, quantity, unit) a site shows apart.

A web listing often shows its price in an element of its own ("USD 105", "500 $") and says how much in the
title ("28gr 4MMC", "25x XTC Pills"). When the site definition maps those fields, they make the offer
directly; the text only says what is sold (the substance), where from, and whatever is not mapped:

- price and currency: the price field as shown, its currency written in it ("$", "USD", "руб.") or given by
  the currency field, else the source's currency, else that of the listing's only region;
- quantity: the quantity field (with the unit field, or a unit written in it); else the one quantity the text
  states (`pipelines.offers.find_quantities`: a mass or volume before a count of pieces, the first of each);
- substance: the substance of a text offer for that quantity or price, else the text's first substance.

One listing never yields the same offer twice: a text offer for the same quantity or at the same price is
that offer (the fields win). A title that prices its own quantity at another price, with a currency ("1LB
$1000" on a card showing "From: 500 $"), keeps its offer and the displayed price makes none, unless the quantity is a field of
its own. Without a price field, or without a substance, the text's facts stand as they are.

>>> from npswatch.pipelines.extract import Extractor
>>> from npswatch.pipelines.rawpost import Structured
>>> x = Extractor.default()
>>> f = x.extract_listing("28gr 4MMC / Mephedrone\\nIn stock\\nEUR 280", Structured(price="EUR 280"))
>>> [(o.substance.canonical, o.quantity, o.unit, o.price, o.currency) for o in f.offers]
[('mephedrone', 28.0, 'g', 280.0, 'EUR')]
>>> parse_price("USD 1,155.50"), parse_price("500 $"), parse_price("4 500", "руб."), parse_price("n/a")
((1155.5, 'USD'), (500.0, 'USD'), (4500.0, 'RUB'), None)
>>> parse_quantity("3.5g"), parse_quantity("10", "pills"), parse_quantity("2 kg")
((3.5, 'g'), (10.0, 'piece'), (2000.0, 'g'))
"""
from __future__ import annotations

import re
from dataclasses import replace
from datetime import date, datetime

from .facts import Facts, OfferFact
from .fx import RateBook
from .money import currency_of, find_money, parse_number
from .offers import find_quantities
from .quantities import DOSE, unit_of
from .rawpost import SourceHints, Structured
from .regions import country_currency

__all__ = ["parse_price", "parse_currency", "parse_quantity", "structured_offers", "pick_quantity"]

_CODE = re.compile(r"(?<![A-Za-z])([A-Z]{3}|USDT)(?![A-Za-z])")
_NUMBER = re.compile(r"\d[\d\s.,]*\d|\d")
_QTY = re.compile(r"(?P<num>\d+(?:[.,]\d+)?|[.,]\d+)\s*(?P<unit>[^\W\d_][^\W\d_.']*\.?)?")


def parse_currency(raw: str | None) -> str | None:
    """ISO code of a currency field: a symbol or word ("$", "руб."), or an ISO-shaped code ("GBP")."""
    if not raw:
        return None
    raw = raw.strip()
    code = currency_of(raw.lower())
    if code:
        return code
    m = _CODE.search(raw)
    return m.group(1) if m else None


def parse_price(raw: str | None, currency: str | None = None) -> tuple[float, str | None] | None:
    """(amount, ISO code or None) of a price field as displayed; None when it shows no amount."""
    if not raw:
        return None
    money = find_money(raw)
    if money:
        m = money[0]
        return m.amount, m.currency or parse_currency(currency)
    num = _NUMBER.search(raw)
    if num is None:
        return None
    amount = parse_number(" ".join(num.group().split()))
    if not amount > 0:
        return None
    return amount, parse_currency(currency) or parse_currency(raw)


def parse_quantity(raw: str | None, unit: str | None = None) -> tuple[float, str] | None:
    """(quantity, unit of the contract) of a quantity field: "3.5g", "1 oz", or a number with the unit field."""
    if not raw:
        return None
    text = f"{raw} {unit}" if unit and not any(c.isalpha() for c in raw) else raw
    m = _QTY.search(text)
    if m is None:
        return None
    value = parse_number(m.group("num"), price=False)
    word = m.group("unit") or unit
    if not word:
        return (value, "piece") if value > 0 else None  # a bare count
    uf = unit_of(word.lower()) or unit_of(word.lower().rstrip("s."))
    if uf is None or uf is DOSE or not value > 0:
        return None
    return value * uf[1], uf[0]


def pick_quantity(cleaned: str) -> tuple[float, str] | None:
    """The quantity a listing's text states: a mass or volume before a count of pieces, the first of each."""
    found = find_quantities(cleaned)
    if not found:
        return None
    measured = [q for q in found if q[3] != "piece"]
    _, _, qty, unit = (measured or found)[0]
    return qty, unit


def _same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-6 * max(1.0, abs(a), abs(b))


def structured_offers(facts: Facts, fields: Structured, cleaned: str, hints: SourceHints,
                      posted_at: datetime | date | None, rates: RateBook) -> Facts:
    """`facts` of the listing's text with the offer its structured fields make (see the module docstring)."""
    price = parse_price(fields.price, fields.currency)
    if price is None or not facts.substances:
        return facts
    amount, currency = price
    mapped_qty = parse_quantity(fields.quantity, fields.unit)
    qty = mapped_qty or pick_quantity(cleaned)
    if qty is None:
        return facts
    quantity, unit = qty
    text_offers = list(facts.offers)
    same_qty = [o for o in text_offers if o.unit == unit and _same(o.quantity, quantity)]
    if mapped_qty is None and same_qty:
        written = [m.amount for m in find_money(cleaned) if not _same(m.amount, amount)]
        if any(_same(o.price, w) for o in same_qty for w in written):
            return facts  # the title prices its own quantity with a currency ("1LB $1000"): that pair is the offer
    same_price = [o for o in text_offers if _same(o.price, amount)]
    model = (same_qty or same_price or [None])[0]
    region = model.region if model is not None else (facts.regions[0] if len(facts.regions) == 1 else None)
    substance = model.substance if model is not None else facts.substances[0]
    currency = (currency or hints.currency or (region and country_currency(region.country))
                or (model.currency if model is not None else None))
    grams = quantity if unit == "g" else None
    per_gram = round(amount / grams, 4) if grams else None
    day = posted_at.date() if isinstance(posted_at, datetime) else posted_at
    usd = None
    if per_gram is not None and currency and day is not None:
        v = rates.to_usd(per_gram, currency, day)
        usd = round(v, 4) if v is not None else None
    offer = OfferFact(substance, quantity, unit, grams, amount, currency, per_gram, usd, region)
    rest = [o for o in text_offers if o not in same_qty and o not in same_price]
    offers: list[OfferFact] = []
    seen: set[tuple] = set()
    for o in [offer, *rest]:
        key = (o.substance.key, o.quantity, o.unit, o.price, o.currency)
        if key not in seen:
            seen.add(key)
            offers.append(o)
    return replace(facts, offers=tuple(offers))
