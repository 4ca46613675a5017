"""Poison rate files: inf, NaN, zero and a tiny Nominal are refused row by row, the good rows are stored, a
summary names what was skipped, and no extraction ever divides by a bad rate."""
from __future__ import annotations

import math
from datetime import date

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import insert
from typer.testing import CliRunner

from npswatch.pipelines.extract import default_extractor
from npswatch.pipelines.fx import Rate, RateBook, RateFormatError, parse_cbr_xml, parse_rates_csv, usable_rate
from npswatch.pipelines.rawpost import SourceHints
from npswatch.cli.app import app
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.fxstore import load_rates
from npswatch.storage.tables import T_FX

DAILY = """<?xml version="1.0" encoding="windows-1251"?>
<ValCurs Date="01.03.2024" name="Foreign Currency Market">
<Valute ID="R01235"><NumCode>840</NumCode><CharCode>USD</CharCode><Nominal>1</Nominal><Name>x</Name><Value>91,00</Value></Valute>
<Valute ID="R01335"><NumCode>398</NumCode><CharCode>KZT</CharCode><Nominal>{nominal}</Nominal><Name>x</Name><Value>{value}</Value></Valute>
<Valute ID="R01370"><NumCode>417</NumCode><CharCode>KGS</CharCode><Nominal>10</Nominal><Name>x</Name><Value>10,15</Value></Valute>
</ValCurs>"""

HOSTILE = ["inf", "-inf", "nan", "NaN", "0", "-1", "1e-320", "1e309", "", "abc", "0x10", "١٢٣"]


def test_bad_csv_rows_are_skipped_with_reasons_and_the_rest_is_read():
    data = "date,currency,units_per_usd\n2024-03-01,KZT,450\n2024-03-02,KZT,inf\n2024-03-03,KZT,NaN\n" \
           "2024-03-04,KZT,1e-320\n2024-03-05,KZT,0\n2024-03-06,KZT,452\n"
    skipped: list[str] = []
    rates = parse_rates_csv(data, skipped=skipped)
    assert [(r.day.day, r.units_per_usd) for r in rates] == [(1, 450.0), (6, 452.0)]
    assert len(skipped) == 4 and all("units_per_usd" in s for s in skipped)
    assert "line 3" in skipped[0]


def test_a_tiny_nominal_or_a_nan_value_in_cbr_xml_is_refused_per_currency():
    for nominal, value in (("1E-320", "450,0"), ("100", "NaN"), ("100", "inf"), ("0", "5")):
        skipped: list[str] = []
        rates = parse_cbr_xml(DAILY.format(nominal=nominal, value=value).encode(), skipped=skipped)
        assert {r.currency for r in rates} == {"RUB", "KGS"}, (nominal, value)
        assert len(skipped) == 1 and "KZT" in skipped[0]
        assert all(usable_rate(r.units_per_usd) for r in rates)


@settings(max_examples=60, deadline=None)
@given(rate=st.one_of(st.sampled_from(HOSTILE), st.floats(allow_nan=True, allow_infinity=True).map(repr),
                      st.text(max_size=12)))
def test_csv_reader_never_returns_an_unusable_rate(rate):
    skipped: list[str] = []
    rates = parse_rates_csv(f"date,currency,units_per_usd\n2024-03-01,KZT,{rate}\n", skipped=skipped)
    assert all(usable_rate(r.units_per_usd) for r in rates)


@settings(max_examples=60, deadline=None)
@given(nominal=st.one_of(st.sampled_from(HOSTILE), st.floats().map(repr)),
       value=st.one_of(st.sampled_from(HOSTILE), st.floats().map(repr)))
def test_cbr_reader_never_returns_an_unusable_rate(nominal, value):
    skipped: list[str] = []
    try:
        rates = parse_cbr_xml(DAILY.format(nominal=nominal, value=value).encode(), skipped=skipped)
    except RateFormatError:
        return  # a file-level problem: one clear error
    assert all(usable_rate(r.units_per_usd) for r in rates)


def test_a_bad_rate_already_in_the_database_never_reaches_a_division(tmp_path):
    """Rows an older version stored (0, inf, NaN) are ignored when read back; extraction falls back to ECB."""
    engine = make_engine(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(engine)
    with engine.begin() as c:
        for i, v in enumerate((0.0, math.inf, 1e-320)):
            c.execute(insert(T_FX).values(day=date(2024, 3, 1 + i), currency="KZT", units_per_usd=v, origin="csv"))
    rates = load_rates(engine)
    assert rates == []
    book = RateBook([Rate(date(2024, 3, 1), "KZT", 0.0, "csv"), Rate(date(2024, 3, 2), "KZT", math.nan, "csv")],
                    use_ecb=False)
    assert book.to_usd(4500, "KZT", date(2024, 3, 1)) is None
    x = default_extractor().with_rates(book)
    facts = x.extract("мефедрон 1г 45000 тг Алматы", posted_at=date(2024, 3, 1), hints=SourceHints(country="KZ"))
    assert facts.offers and all(o.price_per_gram_usd is None for o in facts.offers)


def test_fx_import_stores_the_good_rows_and_summarises_the_skipped(tmp_path, monkeypatch):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "{"k" * 32}"\n', encoding="utf-8")
    monkeypatch.setenv("NPSWATCH_CONFIG", str(cfg))
    CliRunner().invoke(app, ["db", "upgrade"])
    f = tmp_path / "rates.csv"
    f.write_text("date,currency,units_per_usd\n2024-03-01,KZT,450\n2024-03-02,KZT,inf\n2024-03-03,KZT,451\n")
    for _ in range(2):  # a rerun does not fail on the same row either
        r = CliRunner().invoke(app, ["fx", "import", str(f)])
        assert r.exit_code == 0, r.output + r.stderr
        stdout, stderr = " ".join(r.stdout.split()), " ".join(r.stderr.split())
        assert "2 rates" in stdout and "1 rows skipped" in stderr and "line 3" in stderr
    assert len(load_rates(make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}"))) == 2
