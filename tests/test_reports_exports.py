"""Exports: rows in CSV, JSON Lines and Parquet without raw handles; aggregated cells with a minimum size."""
from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta, timezone

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from npswatch.pipelines.facts import Facts, OfferFact, RegionFact, SubstanceFact
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.reports.exports import ExportError, export, to_text
from npswatch.reports.scope import Filters
from npswatch.cli.app import app
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

MEPH = SubstanceFact("mephedrone", "mephedrone", "synthetic_cathinone", "меф")
CITIES = {"Алматы": RegionFact("city", 1526384, "Almaty", "KZ"), "Бишкек": RegionFact("city", 1528675, "Bishkek", "KG")}
RAW = ["synthetic_vendor_77", "synthetic_shop_77", "synthetic_channel_77", "+7 700 000 00 77"]
T0 = datetime(2026, 3, 2, 9, tzinfo=timezone.utc)


def extractor(text, hints, posted_at):
    city = next((r for w, r in CITIES.items() if w in text), None)
    price = float(text.split("цена ")[1].split()[0])
    offer = OfferFact(MEPH, 1.0, "g", 1.0, price, "KZT" if city and city.country == "KZ" else "KGS", price, None, city)
    return Facts(substances=(MEPH,), offers=(offer,), regions=(city,) if city else (),
                 mention_regions={MEPH.key: (city,) if city else ()})


def posts():
    """Six posts in Almaty (one week), two in Bishkek; handles in author, text and URL; one Telegram source."""
    out = []
    for i in range(8):
        city = "Алматы" if i < 6 else "Бишкек"
        tg = i % 2 == 0
        out.append(RawPost(
            source="synthetic_channel_77" if tg else "fixture-shop.test", external_id=str(i),
            url=f"https://t.me/synthetic_shop_77/{i}" if tg else f"https://fixture-shop.test/item/{i}",
            author="@synthetic_vendor_77", posted_at=T0 + timedelta(hours=i),
            text=f"меф 1г цена {4000 + 100 * i} {city} пишите @synthetic_vendor_77 или +7 700 000 00 77",
            hints=SourceHints(country="KZ")))
    return out


def fill(engine, pseudonymiser):
    w = PostWriter(engine, pseudonymiser, extractor)
    w.write([p for p in posts() if p.source.startswith("synthetic_channel")], source_kind="telegram")
    w.write([p for p in posts() if not p.source.startswith("synthetic_channel")])
    return engine


@pytest.fixture
def filled(engine, pseudonymiser):
    return fill(engine, pseudonymiser)


def assert_no_raw_handles(text: str) -> None:
    low = text.casefold()
    for raw in RAW:
        assert raw.casefold() not in low, raw
    assert "700 000" not in text


@pytest.mark.parametrize("what", ["offers", "mentions", "posts"])
def test_row_exports_carry_no_raw_handles(filled, pseudonymiser, what, tmp_path):
    for fmt in ("csv", "jsonl"):
        text = to_text(filled, what, fmt, pseudonymiser=pseudonymiser)
        assert_no_raw_handles(text)
        assert "u_" in text  # pseudonyms instead
    n = export(filled, what, "parquet", tmp_path / "x.parquet", pseudonymiser=pseudonymiser)
    table = pq.read_table(tmp_path / "x.parquet")
    assert n == table.num_rows == 8
    assert_no_raw_handles(json.dumps(table.to_pylist(), default=str, ensure_ascii=False))


def test_rows_and_filters(filled, pseudonymiser):
    rows = list(csv.DictReader(io.StringIO(to_text(filled, "offers", "csv", Filters(city="Bishkek"),
                                                   pseudonymiser=pseudonymiser))))
    assert [(r["city"], r["country"], r["price_per_gram"], r["currency"]) for r in rows] == [
        ("Bishkek", "KG", "4600.0", "KGS"), ("Bishkek", "KG", "4700.0", "KGS")]
    assert rows[0]["observed_at"].startswith("2026-03-02T15:00:00")
    posts_ = [json.loads(x) for x in to_text(filled, "posts", "jsonl", Filters(country="KG"),
                                               pseudonymiser=pseudonymiser).splitlines()]
    assert len(posts_) == 2 and all(p["author"].startswith("u_") for p in posts_)


def test_aggregate_keeps_only_cells_with_enough_observations(filled, pseudonymiser):
    cells = [json.loads(x) for x in to_text(filled, "offers", "jsonl", pseudonymiser=pseudonymiser,
                                              aggregate=True, min_cell=3).splitlines()]
    assert len(cells) == 1  # Almaty has 6 offers that week, Bishkek 2
    c = cells[0]
    assert (c["period"], c["city"], c["country"], c["substance"], c["observations"]) == (
        "2026-03-02", "Almaty", "KZ", "mephedrone", 6)
    assert (c["currency"], c["median_price_per_gram"]) == ("KZT", 4250.0)
    assert not {"url", "text", "author", "source", "post_id"} & set(c)  # nothing points at a post
    both = to_text(filled, "mentions", "csv", pseudonymiser=pseudonymiser, aggregate=True, min_cell=1)
    assert len(both.splitlines()) == 3  # header + two cells
    with pytest.raises(ExportError):
        to_text(filled, "posts", "csv", pseudonymiser=pseudonymiser, aggregate=True)


def test_cli_export(tmp_path, pseudonymiser):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    fill(eng, pseudonymiser)
    runner = CliRunner()
    out = tmp_path / "cells.parquet"
    r = runner.invoke(app, ["--config", str(cfg), "export", "offers", "--format", "parquet", "--out", str(out),
                            "--aggregate", "--min-cell", "2", "--by", "month"])
    assert r.exit_code == 0, r.output
    cells = pq.read_table(out).to_pylist()
    assert sorted((c["city"], c["observations"]) for c in cells) == [("Almaty", 6), ("Bishkek", 2)]
    assert str(cells[0]["period"]) == "2026-03-01"
    r = runner.invoke(app, ["--config", str(cfg), "export", "posts", "--format", "jsonl"])
    assert r.exit_code == 0 and len(r.stdout.splitlines()) == 8
    assert_no_raw_handles(r.stdout)
    assert all(json.loads(x)["url"].startswith("https://") for x in r.stdout.splitlines())  # links still work
    r = runner.invoke(app, ["--config", str(cfg), "export", "offers", "--format", "parquet"])
    assert r.exit_code == 2 and "--out" in r.output
