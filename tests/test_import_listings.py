"""`npswatch import-listings`: historic snapshots of other scrapers, tracked and counted as crawls are.

The history is generated (`crawlers/fixture_market/history.py`, parameters fixed here) with its truth: every
sale, every listing off the market at the end and every return. The sales report, the disappeared flags and
the "reappeared" observations must equal it, on SQLite and PostgreSQL.
"""
from __future__ import annotations

import json
import random
from collections import defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch import Watch, WatchError
from npswatch.cli.app import app
from npswatch.crawlers.fixture_market.history import COLUMNS, History, HistorySpec
from npswatch.crawlers.listing_history import listing_row, load_mapping, to_post
from npswatch.pipelines.rawpost import InvalidPost
from npswatch.storage.tables import T_LISTING, T_OBS, T_POST, T_RUN

ROOT = Path(__file__).resolve().parent.parent
SPEC = HistorySpec(listings=200, snapshots=1000, seed=16, start=datetime(2026, 1, 5, 8, tzinfo=timezone.utc),
                   step_hours=4.0, gaps=6, p_sale=0.2, p_restock=0.05, p_price=0.01, vanished=12, returning=20,
                   late=20, description_chars=200)
SMALL = HistorySpec(listings=30, snapshots=60, seed=3, gaps=2, vanished=3, returning=4, late=3)


def _watch(tmp_path: Path, db_url: str | None = None) -> Watch:
    settings = {"data_dir": str(tmp_path / "data")}
    if db_url:
        settings["database"] = {"url": db_url}
    w = Watch(settings=settings)
    w.upgrade()
    return w


def _expected_sales(history: History, by: str) -> dict:
    out: dict = defaultdict(lambda: [0, 0.0])
    for s in history.truth.sales:
        key = (s.substance if by == "substance" else f"{s.day:%Y-%m}", s.currency)
        out[key][0] += s.units
        out[key][1] += s.units * s.price
    return {k: (u, pytest.approx(m)) for k, (u, m) in out.items()}


def _sales(w: Watch, by: str) -> dict:
    return {(r.key, r.currency): (r.units, r.money) for r in w.sales("2025-12-01", "2027-01-01", by=by)}


def _utc(at):
    return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at


def _state(w: Watch):
    """(listing id -> disappeared_at, {(listing id, time) of each reappeared observation})."""
    with w.engine.connect() as c:
        gone = {ext: _utc(at) for ext, at in c.execute(
            select(T_POST.c.external_id, T_LISTING.c.disappeared_at).join(T_LISTING, T_LISTING.c.post_id == T_POST.c.id)
            .where(T_LISTING.c.disappeared_at.is_not(None)))}
        back = {(ext, _utc(at)) for ext, at in c.execute(
            select(T_POST.c.external_id, T_OBS.c.observed_at).join(T_OBS, T_OBS.c.post_id == T_POST.c.id)
            .where(T_OBS.c.status == "reappeared"))}
    return gone, back


def _counts(w: Watch) -> tuple[int, int, int]:
    with w.engine.connect() as c:
        return tuple(c.execute(select(func.count()).select_from(t)).scalar_one() for t in (T_POST, T_LISTING, T_OBS))


def test_generated_history_sales_and_life_cycle(tmp_path, db_url):
    history = History(SPEC)
    times = history.times()
    assert max(b - a for a, b in zip(times, times[1:])) >= timedelta(days=1)  # the history has gaps of days
    # CSV on SQLite, JSON Lines on PostgreSQL: both readers, both databases
    jsonl = db_url.startswith("postgresql")
    data = history.write_jsonl(tmp_path / "h.jsonl") if jsonl else history.write_csv(tmp_path / "h.csv")
    mapping = tmp_path / "map.toml"
    mapping.write_text(history.mapping())
    w = _watch(tmp_path, db_url)

    r = w.import_listings(data, mapping)
    truth = history.truth
    assert (r.rows, r.snapshots, r.bad_rows, r.observed.observed) == (truth.rows, 1000, 0, truth.rows)
    assert r.written.inserted == 200 and r.first == times[0] and r.last == times[-1]
    assert _sales(w, "substance") == _expected_sales(history, "substance")
    assert _sales(w, "month") == _expected_sales(history, "month")  # a drop after a gap counts on the later day
    gone, back = _state(w)
    assert gone == truth.disappeared and len(gone) == SPEC.vanished
    assert back == set(truth.returns) and len(back) >= SPEC.returning
    with w.engine.connect() as c:
        kinds = dict(c.execute(select(T_RUN.c.kind, func.count()).group_by(T_RUN.c.kind)).all())
        texts = [t for (t,) in c.execute(select(T_POST.c.text))]
    assert kinds == {"import-listings": 1, "listing-snapshot": 1000}
    assert texts and not any("synthetic_op" in t for t in texts)  # handles pseudonymised like everything else

    counts = _counts(w)
    again = w.import_listings(data, mapping)  # the same file again: nothing stored twice
    assert again.observed.observed == 0 and again.skipped_snapshots == 999 and _counts(w) == counts
    assert _sales(w, "substance") == _expected_sales(history, "substance")


def test_unsorted_split_files_and_incomplete_snapshots(tmp_path):
    """Rows of one snapshot spread over two shuffled files are still one snapshot; with `complete = false`
    nothing is marked disappeared, and sales are the same."""
    history = History(SMALL)
    rows = list(history.rows())
    random.Random(5).shuffle(rows)
    files = []
    for i, part in enumerate((rows[: len(rows) // 2], rows[len(rows) // 2:])):
        path = tmp_path / f"part{i}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in part), encoding="utf-8")
        files.append(path)
    mapping = tmp_path / "map.toml"
    mapping.write_text(history.mapping(complete=False))
    w = _watch(tmp_path)
    r = w.import_listings(files, mapping)
    assert r.snapshots == SMALL.snapshots and r.observed.observed == history.truth.rows
    assert _sales(w, "substance") == _expected_sales(history, "substance")
    assert _state(w) == ({}, set()) and r.disappeared == 0
    assert "none marked disappeared" in r.summary()


def test_documented_mapping_reads_the_generated_csv(tmp_path):
    """docs/listings-map.toml fits files shaped like the generator's (its columns are the doc's example)."""
    history = History(SMALL)
    data = history.write_csv(tmp_path / "scrape.csv")
    w = _watch(tmp_path)
    r = w.import_listings([data], ROOT / "docs" / "listings-map.toml")
    assert r.source == "old-market.example" and r.snapshots == SMALL.snapshots and r.bad_rows == 0
    assert _sales(w, "substance") == _expected_sales(history, "substance")
    assert _state(w)[0] == history.truth.disappeared


def test_bad_rows_are_reported_and_skipped(tmp_path):
    history = History(HistorySpec(listings=5, snapshots=4, seed=9, gaps=0, vanished=0, returning=0, late=0))
    rows = list(history.rows())
    lines = [json.dumps(r, ensure_ascii=False) for r in rows]
    bad = {"not json {": "is not JSON", json.dumps([1, 2]): "is not a JSON object",
           json.dumps({**rows[0], "listing": ""}): "listing id",
           json.dumps({**rows[0], "scraped_at": "yesterday"}): "'yesterday' is not a time",
           json.dumps({**rows[0], "listing": "L09999", "title": "", "description": " "}): "text",
           json.dumps(rows[1]): "again"}  # the same listing twice in one snapshot
    data = tmp_path / "h.jsonl"
    data.write_text("\n".join(lines[:2] + list(bad) + lines[2:]) + "\n", encoding="utf-8")
    mapping = tmp_path / "map.toml"
    mapping.write_text(history.mapping())
    w = _watch(tmp_path)
    r = w.import_listings(data, mapping)
    assert r.bad_rows == len(bad) and r.observed.observed == len(rows)
    for why, reported in zip(bad.values(), r.bad):
        assert why in reported
    assert all(b.startswith(f"{data}:") for b in r.bad[:5])  # file and line
    cfg = _config(tmp_path, "cli")  # a database of its own
    assert CliRunner().invoke(app, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    res = CliRunner().invoke(app, ["--config", str(cfg), "import-listings", str(data), "--map", str(mapping), "-q"])
    assert res.exit_code == 0, res.output
    assert "skipped" in res.output and f"{len(bad)} bad rows skipped" in res.output


def _config(tmp_path: Path, data: str = "data") -> Path:
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{data}"\n')
    return cfg


def test_bad_input_is_one_line_and_loses_nothing(tmp_path):
    history = History(SMALL)
    good = history.write_csv(tmp_path / "good.csv")
    mapping = tmp_path / "map.toml"
    mapping.write_text(history.mapping())
    cfg = _config(tmp_path)
    runner = CliRunner()
    res = runner.invoke(app, ["--config", str(cfg), "db", "upgrade"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["--config", str(cfg), "import-listings", str(good), "--map", str(mapping), "-q"])
    assert res.exit_code == 0, res.output
    w = Watch(cfg)
    before = _counts(w)

    no_column = tmp_path / "no_stock.csv"
    no_column.write_text(good.read_text(encoding="utf-8").replace("stock", "left", 1), encoding="utf-8")
    other_dates = tmp_path / "dates.csv"
    lines = good.read_text(encoding="utf-8").splitlines()
    other_dates.write_text("\n".join([lines[0]] + [line.replace("2026-01-", "01/", 1) for line in lines[1:]]),
                           encoding="utf-8")
    binary = tmp_path / "image.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    latin = tmp_path / "latin.csv"
    latin.write_bytes(lines[0].encode() + b"\n" + "\n".join(lines[1:]).encode("cp1251"))
    unknown_key = tmp_path / "typo.toml"
    unknown_key.write_text(history.mapping().replace("[columns]", "[columns]\nstok = \"stock\""))
    no_complete = tmp_path / "no_complete.toml"
    no_complete.write_text(history.mapping().replace("complete = true\n", ""))
    broken = tmp_path / "broken.toml"
    broken.write_text("source = \n")
    bad_format = tmp_path / "bad_format.toml"
    bad_format.write_text(history.mapping().replace('format = "%Y-%m-%d %H:%M"', 'format = "YYYY-MM-DD"'))
    cases = [
        ([str(no_column)], mapping, "no column 'stock' (the mapping's columns.stock)"),
        ([str(other_dates)], mapping, "is not a time in the format '%Y-%m-%d %H:%M'"),
        ([str(binary)], mapping, "binary file"),
        ([str(latin)], mapping, "is not utf-8-sig text"),
        ([str(tmp_path / "missing.csv")], mapping, "cannot read it"),
        ([str(tmp_path)], mapping, "a folder"),
        ([str(good), str(no_column)], mapping, "no column 'stock'"),  # a good file before a bad one: nothing stored
        ([str(good)], unknown_key, "columns.stok: is not a known key"),
        ([str(good)], no_complete, "complete: is required"),
        ([str(good)], broken, "not valid TOML"),
        ([str(good)], bad_format, "time.format"),
        ([str(good)], tmp_path / "nowhere.toml", "cannot read it"),
    ]
    for files, m, expected in cases:
        res = runner.invoke(app, ["--config", str(cfg), "import-listings", *files, "--map", str(m), "-q"])
        message = res.output.strip()
        assert res.exit_code == 2, (files, m, message)
        assert expected in message and len(message.splitlines()) == 1, message
        assert "Traceback" not in message
    assert _counts(w) == before
    with pytest.raises(WatchError, match="no column 'stock'"):
        w.import_listings([no_column], mapping)


def test_help_has_an_example():
    res = CliRunner().invoke(app, ["import-listings", "--help"], env={"COLUMNS": "200"})
    assert res.exit_code == 0
    assert "npswatch import-listings scrapes/2020-*.csv --map market-history.toml" in res.output
    assert "docs/listings-map.toml" in res.output


def test_generator_columns_are_the_documented_ones():
    header = (ROOT / "docs" / "listings-map.toml").read_text(encoding="utf-8").split("#   ", 3)[2].strip()
    assert header.split(",") == COLUMNS


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(st.sampled_from(COLUMNS + ["other"]),
                       st.one_of(st.none(), st.text(max_size=60), st.integers(), st.floats(), st.booleans(),
                                 st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=5),
                                                                                      st.text(max_size=5), max_size=2))))
def test_a_hostile_row_is_a_listing_or_a_reason(record):
    """Whatever a row holds, it becomes a listing or a ValueError saying why (a bad row), never a crash."""
    m = load_mapping(ROOT / "docs" / "listings-map.toml")
    try:
        row = listing_row(m, record)
    except ValueError as exc:
        assert str(exc)
        return
    try:
        to_post(m, row)
    except InvalidPost as exc:
        assert str(exc)


def test_the_spool_on_disk_holds_no_raw_identifier(tmp_path, pseudonymiser):
    """Rows wait in a temporary file while the import reads every file: pseudonymised before they are written,
    so even a kill -9 leaves nothing raw in the data folder."""
    from functools import partial

    from npswatch.crawlers.listing_history import Mapping, Spool, scrubbed

    m = Mapping.model_validate({"source": "old-market.test", "complete": False,
                                "time": {"column": "ts", "format": "%Y-%m-%d"},
                                "columns": {"id": "id", "text": ["title"], "author": "seller", "url": "url"}})
    row = listing_row(m, {"ts": "2020-03-05", "id": "1", "title": "Меф 1г, пишите +7 701 123 45 67 или @synthetic_seller",
                          "seller": "@synthetic_seller", "url": "https://t.me/synthetic_seller"})
    spool = Spool(tmp_path, scrub=partial(scrubbed, ps=pseudonymiser, region="KZ"))
    spool.add(row)
    spool._flush()
    spool._db.commit()
    raw = spool.path.read_bytes().decode("utf-8", "replace")
    assert "Меф 1г" in raw
    for identifier in ("701 123 45 67", "synthetic_seller"):
        assert identifier not in raw
    (_, [back], _), = list(spool.chunks())
    assert back.author == pseudonymiser.handle("@synthetic_seller")
    assert to_post(m, back).text == pseudonymiser.scrub(row.text, "KZ")  # what the writer stores, unchanged
    spool.close()
