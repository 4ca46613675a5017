"""FX: Bank of Russia XML and CSV rates, and the windowed, never-guessing RateBook."""
from __future__ import annotations

from datetime import date, datetime
from pathlib import Path

import pytest

import npswatch.pipelines.fx as fx
from npswatch.pipelines.fx import Rate, RateBook, RateFormatError, parse_cbr_xml, parse_rates_csv

FIXTURES = Path(__file__).parent / "fixtures" / "fx"
FRI, SAT, SUN, MON = date(2024, 3, 1), date(2024, 3, 2), date(2024, 3, 3), date(2024, 3, 4)


def read(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@pytest.fixture(scope="module")
def daily() -> list[Rate]:
    return parse_cbr_xml(read("cbr_daily_2024-03-01.xml"))


def by_currency(rates: list[Rate]) -> dict[str, float]:
    return {r.currency: r.units_per_usd for r in rates}


# --- CBR XML_daily ---------------------------------------------------------------------------------

def test_daily_fixture_is_windows_1251_like_the_real_files():
    raw = read("cbr_daily_2024-03-01.xml")
    assert b'encoding="windows-1251"' in raw
    assert "Доллар США".encode("cp1251") in raw


def test_daily_converts_every_currency_to_units_per_dollar(daily):
    rates = by_currency(daily)
    assert {r.day for r in daily} == {FRI}
    assert {r.source for r in daily} == {"cbr"}
    assert rates["RUB"] == pytest.approx(90.0)  # roubles per dollar
    assert rates["KZT"] == pytest.approx(450.0)  # 20 RUB per 100 KZT
    assert rates["KGS"] == pytest.approx(90.0)  # 10 RUB per 10 KGS
    assert rates["UZS"] == pytest.approx(12_500.0)  # 72 RUB per 10,000 UZS
    assert rates["EUR"] == pytest.approx(90 / 97.2)
    assert rates["CNY"] == pytest.approx(7.2)
    assert rates["BYN"] == pytest.approx(3.0)
    assert "USD" not in rates


def test_daily_without_a_dollar_rate_is_an_error():
    xml = ('<?xml version="1.0" encoding="windows-1251"?><ValCurs Date="01.03.2024" name="x">'
           '<Valute ID="R01335"><CharCode>KZT</CharCode><Nominal>100</Nominal><Value>20,0</Value></Valute>'
           '</ValCurs>').encode("cp1251")
    with pytest.raises(RateFormatError, match="no USD rate"):
        parse_cbr_xml(xml)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"<ValCurs", "not well-formed"),
        (b"<Rates/>", "expected <ValCurs>"),
        (b'<ValCurs Date="2024-03-01"><Valute><CharCode>USD</CharCode></Valute></ValCurs>', "dd.mm.yyyy"),
        (b'<ValCurs Date="01.03.2024"><Valute><CharCode>USD</CharCode><Nominal>1</Nominal>'
         b'<Value>abc</Value></Valute></ValCurs>', "USD 2024-03-01 Value is not a number"),
    ],
)
def test_broken_cbr_files_say_what_is_wrong(body, message):
    with pytest.raises(RateFormatError, match=message):
        parse_cbr_xml(body)


# --- CBR XML_dynamic -------------------------------------------------------------------------------

def test_dynamic_usd_series_gives_rouble_rates():
    usd = parse_cbr_xml(read("cbr_dynamic_usd.xml"))
    assert [(r.day, r.currency, r.units_per_usd) for r in usd] == [
        (date(2024, 2, 27), "RUB", 90.0), (date(2024, 2, 28), "RUB", 90.5),
        (date(2024, 2, 29), "RUB", 91.0), (FRI, "RUB", 90.0)]


def test_dynamic_series_of_another_currency_uses_that_days_dollar_rate():
    usd = parse_cbr_xml(read("cbr_dynamic_usd.xml"))
    kzt = parse_cbr_xml(read("cbr_dynamic_kzt.xml"), usd_rub=usd)
    assert [r.currency for r in kzt] == ["KZT"] * 4
    assert [round(r.units_per_usd, 2) for r in kzt] == [450.0, 449.97, 450.0, 500.0]
    as_mapping = parse_cbr_xml(read("cbr_dynamic_kzt.xml"), usd_rub={r.day: r.units_per_usd for r in usd})
    assert as_mapping == kzt


def test_dynamic_series_needs_dollar_rates_and_a_known_currency():
    with pytest.raises(RateFormatError, match="needs dollar rates"):
        parse_cbr_xml(read("cbr_dynamic_kzt.xml"))
    unknown = read("cbr_dynamic_kzt.xml").replace(b'ID="R01335"', b'ID="R09999"', 1)
    with pytest.raises(RateFormatError, match="unknown currency id 'R09999'"):
        parse_cbr_xml(unknown, usd_rub={FRI: 90.0})
    named = parse_cbr_xml(unknown, currency="kgs", usd_rub={FRI: 90.0})
    assert [(r.day, r.currency) for r in named] == [(FRI, "KGS")]  # only the day with a dollar rate nearby


def test_cbr_ids_cover_the_focus_currencies():
    assert {"KZT", "KGS", "UZS", "TJS", "BYN", "USD", "EUR", "CNY", "UAH", "MDL", "GEL", "AMD", "AZN", "TMT",
            "RSD"} <= set(fx.CBR_IDS.values())
    assert fx.CBR_IDS["R01335"] == "KZT"


# --- CSV --------------------------------------------------------------------------------------------

def test_csv_rates():
    rates = parse_rates_csv((FIXTURES / "rates.csv").read_text(encoding="utf-8"))
    assert [(r.day, r.currency, r.units_per_usd, r.source) for r in rates][:3] == [
        (FRI, "BTC", 0.000016, "csv"), (MON, "BTC", 0.000015, "csv"), (FRI, "TJS", 10.5, "csv")]
    assert len(rates) == 5  # the blank line is skipped


def test_csv_bad_row_names_its_line():
    with pytest.raises(RateFormatError, match=r"line 4: date '2024-13-40' is not YYYY-MM-DD"):
        parse_rates_csv((FIXTURES / "rates_bad.csv").read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    "text, message",
    [
        ("day,currency,rate\n", "line 1: header lacks date, units_per_usd"),
        ("date,currency,units_per_usd\n2024-03-01,KZT\n", "line 2: 2 fields"),
        ("date,currency,units_per_usd\n2024-03-01,K1,450\n", "line 2: currency 'K1'"),
        ("date,currency,units_per_usd\n2024-03-01,KZT,-450\n", "line 2: units_per_usd '-450'"),
        ("date,currency,units_per_usd\n2024-03-01,KZT,450\n2024-03-02,KZT,nan\n", "line 3: units_per_usd 'nan'"),
    ],
)
def test_csv_errors(text, message):
    with pytest.raises(RateFormatError, match=message):
        parse_rates_csv(text)


def test_csv_accepts_a_bom_and_extra_columns():
    rates = parse_rates_csv("\ufeffdate,currency,units_per_usd,note\n2024-03-01,KZT,450,synthetic\n")
    assert rates == [Rate(FRI, "KZT", 450.0, "csv")]


# --- RateBook ---------------------------------------------------------------------------------------

def test_exact_day_and_weekend_fallback(daily):
    book = RateBook(daily, use_ecb=False)
    assert book.units_per_usd("KZT", FRI) == pytest.approx(450.0)
    assert book.units_per_usd("KZT", SUN) == pytest.approx(450.0)  # Friday's rate
    assert book.units_per_usd("kzt", date(2024, 3, 8)) == pytest.approx(450.0)  # 7 days: still in the window
    assert book.units_per_usd("KZT", date(2024, 3, 9)) is None  # 8 days: no guess
    assert book.units_per_usd("KZT", date(2024, 2, 29)) is None  # a later rate is never used for an earlier day
    assert book.to_usd(4500, "RUB", MON) == pytest.approx(50.0)
    assert book.units_per_usd("KZT", datetime(2024, 3, 3, 23, 59)) == pytest.approx(450.0)


def test_the_most_recent_rate_wins():
    usd = parse_cbr_xml(read("cbr_dynamic_usd.xml"))
    book = RateBook(usd + parse_cbr_xml(read("cbr_dynamic_kzt.xml"), usd_rub=usd), use_ecb=False)
    assert book.units_per_usd("RUB", date(2024, 2, 29)) == 91.0
    assert book.units_per_usd("KZT", SAT) == pytest.approx(500.0)


def test_no_rate_is_none_never_a_guess(daily):
    book = RateBook(daily, use_ecb=False)
    assert book.units_per_usd("TJS", FRI) is None
    assert book.to_usd(100, "TJS", FRI) is None
    assert book.units_per_usd("XYZ", FRI) is None
    assert book.units_per_usd("", FRI) is None


def test_dollar_and_tether_are_one():
    book = RateBook(use_ecb=False)
    assert book.units_per_usd("USD", date(2001, 1, 1)) == 1.0
    assert book.units_per_usd("usdt", date(2030, 1, 1)) == 1.0
    assert book.to_usd(250, "USDT", FRI) == 250.0


def test_bitcoin_only_from_imported_rates():
    assert RateBook(use_ecb=True).units_per_usd("BTC", FRI) is None
    book = RateBook(parse_rates_csv((FIXTURES / "rates.csv").read_text(encoding="utf-8")), use_ecb=True)
    assert book.to_usd(0.001, "BTC", date(2024, 3, 5)) == pytest.approx(0.001 / 0.000015)


def test_ecb_rates_offline():
    book = RateBook()
    # ECB reference rate of Friday 2024-03-15: 1 EUR = 1.0892 USD
    assert book.units_per_usd("EUR", date(2024, 3, 15)) == pytest.approx(1 / 1.0892, rel=1e-4)
    assert book.units_per_usd("EUR", date(2024, 3, 17)) == book.units_per_usd("EUR", date(2024, 3, 15))
    assert book.units_per_usd("CNY", date(2024, 3, 15)) == pytest.approx(7.19, abs=0.02)
    # the ECB stopped publishing RUB in March 2022: older days have it, later ones get None, not the last rate
    assert 60 < book.units_per_usd("RUB", date(2021, 6, 1)) < 90
    assert book.units_per_usd("RUB", date(2024, 3, 15)) is None
    assert book.units_per_usd("KZT", date(2024, 3, 15)) is None  # ECB has no tenge
    assert book.units_per_usd("EUR", date(1990, 1, 1)) is None  # before the file


def test_imported_rates_come_before_ecb(daily):
    book = RateBook(daily)
    assert book.units_per_usd("EUR", FRI) == pytest.approx(90 / 97.2)  # CBR's cross rate, not the ECB's
    assert book.units_per_usd("EUR", date(2024, 3, 15)) == pytest.approx(1 / 1.0892, rel=1e-4)  # window passed


def test_ecb_data_loads_lazily_and_once(monkeypatch):
    monkeypatch.setattr(fx, "_ECB", None)
    book = RateBook([Rate(FRI, "KZT", 450.0, "csv")])
    book.units_per_usd("KZT", FRI)
    book.units_per_usd("USDT", FRI)
    assert fx._ECB is None  # nothing needed the ECB yet
    book.units_per_usd("EUR", FRI)
    first = fx._ECB
    assert first is not None
    RateBook().units_per_usd("GBP", FRI)
    assert fx._ECB is first
