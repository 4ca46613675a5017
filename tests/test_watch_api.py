"""The Python API: `npswatch.Watch` runs the use-cases and returns result objects, printing nothing."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

import npswatch
from npswatch import Watch, WatchError
from npswatch.storage.runs import T_RUN, run_record

START = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)
# Obviously synthetic offers of one public channel: mephedrone in Almaty, priced in tenge.
LINES = [f"синтетический магазин: меф {g}г {g * p} тг Алматы" for g, p in
         [(1, 20000), (2, 19000), (1, 21000), (3, 18000), (1, 22000), (2, 20000)]]


def export_file(tmp_path, lines=LINES):
    messages = [{"id": i + 1, "type": "message", "date": (START + timedelta(days=i)).strftime("%Y-%m-%dT%H:%M:%S"),
                 "from": "Synthetic Channel 09", "from_id": "channel1500900009", "text": text}
                for i, text in enumerate(lines)]
    path = tmp_path / "result.json"
    path.write_text(json.dumps({"name": "Synthetic Channel 09", "type": "public_channel", "id": 1500900009,
                                "messages": messages}, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture
def watch(tmp_path):
    w = Watch(settings={"data_dir": str(tmp_path / "data")})
    w.upgrade()
    return w


def runs(w, kind):
    with w.engine.connect() as c:
        return c.execute(select(T_RUN).where(T_RUN.c.kind == kind).order_by(T_RUN.c.id)).all()


def test_the_package_exports_watch_and_nothing_generic():
    assert set(npswatch.__all__) == {"Watch", "Settings", "WatchError", "ConfigError", "__version__"}
    assert Watch.__module__ == "npswatch.watch"


def test_from_config_reads_the_file(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "elsewhere"\n')
    w = Watch.from_config(cfg)
    assert w.settings.data_path == tmp_path / "elsewhere"
    assert w.settings.database_url.endswith("elsewhere/npswatch.db")


def test_import_trends_offers_and_digest_return_results_and_print_nothing(watch, tmp_path, capsys):
    r = watch.import_telegram(export_file(tmp_path))
    assert r.ok and r.items == 6 and r.files[0].written.inserted == 6 and r.files[0].written.offers == 6
    (run,) = runs(watch, "telegram-import")
    assert (run.id, run.status, run.items) == (r.files[0].run_id, "ok", 6)

    t = watch.trends(country="KZ", by="month")
    assert [(row.group, row.offers, row.currency) for row in t.rows] == [("Almaty (KZ)", 6, "KZT")]
    assert t.rows[0].median == 20000 and t.title.startswith("Price per unit by month: all substances, KZ")

    offers = watch.offers(substance="mephedrone")
    assert not isinstance(offers, list)  # an iterator: rows are read as they are consumed
    rows = list(offers)
    assert len(rows) == 6 and {o["city"] for o in rows} == {"Almaty"}
    assert sorted(o["price_per_gram"] for o in rows)[0] == 18000
    table = watch.offers(substance="mephedrone", as_="arrow")
    assert table.num_rows == 6 and "price_per_gram" in table.column_names
    assert watch.offers(since="2030-01-01", as_="arrow").num_rows == 0
    with pytest.raises(ValueError, match="no stored region matches city 'Bishkek'"):
        watch.offers(city="Bishkek")

    d = watch.digest(since=START, until=START + timedelta(days=7), fmt="md", dest="-")
    assert d.path is None and d.text.startswith("#") and d.ok and not d.delivered
    assert capsys.readouterr() == ("", "")  # nothing printed by any of it


def test_extract_uses_the_databases_rates(watch, tmp_path):
    (tmp_path / "rates.csv").write_text("date,currency,units_per_usd\n2026-03-02,KZT,500\n")
    assert watch.import_rates(tmp_path / "rates.csv").items == 1
    w = Watch(settings={"data_dir": str(tmp_path / "data")})  # a new Watch sees the stored rates
    offer = w.extract("меф 1г 20000 тг Алматы", posted_at=START).offers[0]
    assert (offer.currency, offer.price_per_gram_usd) == ("KZT", 40.0)


def test_bad_input_is_a_one_line_watch_error(watch, tmp_path):
    with pytest.raises(WatchError, match="no such file"):
        watch.import_telegram(tmp_path / "missing.json")
    with pytest.raises(WatchError, match="not both"):
        watch.trends(city="Almaty", country="KZ")
    with pytest.raises(WatchError, match="no site 'nowhere'"):
        watch.crawl("nowhere")
    with pytest.raises(WatchError, match="as_ must be"):
        watch.offers(as_="excel")


def test_retention_is_recorded_and_a_dry_run_is_not(watch):
    dry = watch.retention(dry_run=True)
    assert dry.run_id is None and dry.dry_run and runs(watch, "retention") == []
    done = watch.retention()
    (run,) = runs(watch, "retention")
    assert (run.id, run.status, run.items) == (done.run_id, "ok", done.items)


def test_run_record_finishes_the_row_with_what_the_block_set_or_failed(watch):
    with watch.run_record("synthetic", "a") as run:
        run.items, run.message = 4, "four"
    with pytest.raises(RuntimeError), run_record(watch.engine, "synthetic", "b") as failing:
        failing.items = 2
        raise RuntimeError("synthetic failure")
    a, b = runs(watch, "synthetic")
    assert (a.status, a.items, a.message, a.finished_at is not None) == ("ok", 4, "four", True)
    assert (b.status, b.items, b.message) == ("failed", 2, "RuntimeError('synthetic failure')")


def test_results_turn_into_json(watch, tmp_path):
    r = watch.import_telegram(export_file(tmp_path, LINES[:2]))
    d = json.loads(json.dumps(r.to_dict()))
    assert (d["kind"], d["ok"], d["items"], d["errors"]) == ("TelegramImportResult", True, 2, 0)
    assert d["files"][0]["path"].endswith("result.json") and d["files"][0]["written"]["inserted"] == 2


def test_a_confirmed_candidate_is_recognised_by_the_same_watch(watch, tmp_path):
    name = "9F-PX-HEXICA"  # built like a cannabinoid code, made up for the tests
    watch.import_telegram(export_file(tmp_path, [f"синтетический магазин: {name} 1г 5000 тг Алматы"]))
    assert [c.name for c in watch.candidates()] == [name]
    assert [c.name for c in watch.extract(f"{name} 2г 9000 тг").candidates] == [name]
    moved = watch.confirm_candidate(name, "synthetic_cannabinoid")
    assert (moved.moved_mentions, moved.moved_offers) == (1, 1)
    facts = watch.extract(f"{name} 2г 9000 тг")
    assert facts.candidates == () and [s.canonical for s in facts.substances] == [name]
    assert watch.candidates() == []


def test_evaluate_scores_labelled_cases(watch):
    cases = [{"id": 1, "text": "синтетика: меф 1г 4500₽ Москва", "source": {"country": "RU"},
              "gold": {"substances": [{"canonical": "mephedrone", "class": "synthetic_cathinone"}],
                       "offers": [{"canonical": "mephedrone", "class": "synthetic_cathinone", "quantity": 1,
                                   "unit": "g", "price": 4500, "currency": "RUB"}],
                       "regions": [{"level": "city", "geonameid": 524901, "name": "Moscow",
                                   "country": "RU"}]}},
             {"id": 2, "text": "синтетика: просто текст", "gold": {"substances": [], "offers": [], "regions": []}}]
    score, preds = watch.evaluate(cases)
    assert score.cases == 2 and preds[2]["offers"] == []
    assert score.f1("substances") == 1.0 and score.f1("regions") == 1.0
