"""`npswatch sales`: units and money from stock drops, by substance, region and month, as table, CSV and JSON."""
from __future__ import annotations

import json
from datetime import datetime, timezone

from sqlalchemy import select
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.reports.sales import sales
from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.tables import T_OBS


def at(month: int, day: int, hour: int) -> datetime:
    return datetime(2026, month, day, hour, tzinfo=timezone.utc)


# per synthetic listing: substance, city, currency, grams per unit, observations (when, stock, price)
LISTINGS = {
    "a": ("mephedrone", "Almaty", "KZT", 1.0, [(at(3, 1, 10), 10, 9000.0), (at(3, 1, 23), 8, 9000.0),
                                               (at(3, 2, 1), 5, 9500.0),  # last of day 1 -> first of day 2
                                               (at(3, 5, 9), 12, 9500.0),  # restock: ignored
                                               (at(4, 2, 9), 10, 9500.0)]),
    "b": ("hashish", "Bishkek", "KGS", 2.0, [(at(3, 3, 9), 4, 1000.0), (at(3, 4, 9), 1, 1000.0)]),
    "c": ("mephedrone", "Almaty", "KZT", 1.0, [(at(3, 3, 9), 7, 9000.0)]),  # then vanished: not sold out
}


def seed(engine):
    S, R, P, O, Src, Run = (t.__table__ for t in (m.Substance, m.Region, m.Post, m.Offer, m.Source, m.CrawlRun))
    with engine.begin() as c:
        src = c.execute(Src.insert().values(key="synthetic-shop.test", kind="web").returning(Src.c.id)).scalar_one()
        c.execute(S.insert(), [{"key": k, "canonical": k, "class": "x", "origin": "lexicon"}
                               for k in ("mephedrone", "hashish")])
        c.execute(R.insert(), [{"key": "city:1", "level": "city", "name": "Almaty", "country": "KZ"},
                               {"key": "city:2", "level": "city", "name": "Bishkek", "country": "KG"}])
        sub = dict(c.execute(select(S.c.key, S.c.id)).all())
        reg = dict(c.execute(select(R.c.name, R.c.id)).all())
        runs = {}
        for name, (s, city, cur, grams, obs) in LISTINGS.items():
            pid = c.execute(P.insert().values(source_id=src, external_id=name, text_hash=name, version=1,
                                              text="synthetic listing").returning(P.c.id)).scalar_one()
            c.execute(O.insert().values(post_id=pid, substance_id=sub[s], region_id=reg[city], quantity=grams,
                                        unit="g", grams=grams, price=obs[0][2], currency=cur,
                                        price_per_gram=obs[0][2] / grams, observed_at=obs[0][0]))
            for when, stock, price in obs:
                if when not in runs:
                    runs[when] = c.execute(Run.insert().values(kind="crawl", started_at=when, status="ok")
                                           .returning(Run.c.id)).scalar_one()
                c.execute(T_OBS.insert().values(crawl_run_id=runs[when], post_id=pid, observed_at=when, stock=stock,
                                                price=price))


def test_drops_by_substance_region_and_month(engine):
    seed(engine)
    rows = {r.key: r for r in sales(engine, at(3, 1, 0), at(5, 1, 0), by="substance")}
    # mephedrone: 2 (day 1) + 3 (day 2, at the earlier price) + 2 (April); the restock and the vanished listing
    # add nothing
    assert (rows["mephedrone"].units, rows["mephedrone"].drops, rows["mephedrone"].listings) == (7, 3, 1)
    assert rows["mephedrone"].money == 2 * 9000 + 3 * 9000 + 2 * 9500 and rows["mephedrone"].currency == "KZT"
    assert (rows["hashish"].units, rows["hashish"].grams, rows["hashish"].money) == (3, 6.0, 3000.0)
    months = [(r.key, r.currency, r.units) for r in sales(engine, at(3, 1, 0), at(5, 1, 0), by="month")]
    assert months == [("2026-03", "KGS", 3), ("2026-03", "KZT", 5), ("2026-04", "KZT", 2)]  # currencies not mixed
    regions = {r.key: r.units for r in sales(engine, at(3, 1, 0), at(5, 1, 0), by="region")}
    assert regions == {"Almaty (KZ)": 7, "Bishkek (KG)": 3}
    # the day rule: a window starting on day 2 counts the night drop (23:00 -> 01:00), not the one of day 1
    day2 = {r.key: r.units for r in sales(engine, at(3, 2, 0), at(3, 3, 0))}
    assert day2 == {"mephedrone": 3}


def test_cli_sales_formats_and_usd(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    seed(eng)
    from datetime import date

    with eng.begin() as c:  # as `npswatch fx import` stores them
        c.execute(m.FxRate.__table__.insert(), [
            {"day": date(2026, mo, d), "currency": cur, "units_per_usd": v, "origin": "synthetic"}
            for mo in (3, 4) for d in (1, 5) for cur, v in (("KZT", 500.0), ("KGS", 100.0))])
    base = ["--config", str(cfg), "sales", "--since", "2026-03-01", "--until", "2026-05-01"]
    r = CliRunner().invoke(app, base, terminal_width=160)
    assert r.exit_code == 0, r.output
    assert "mephedrone" in r.output and "64,000.00 KZT" in r.output and "restocks ignored" in r.output
    r = CliRunner().invoke(app, base + ["--by", "month", "--currency", "usd", "--format", "json"])
    data = json.loads(r.stdout[r.stdout.index("{"):])
    assert "restocks ignored" in data["method"]
    by_month = {d["key"]: d for d in data["rows"]}
    assert set(by_month) == {"2026-03", "2026-04"} and all(d["currency"] == "USD" for d in data["rows"])
    assert by_month["2026-04"]["money"] == 2 * 9500 / 500  # KZT at the stored rate of the day
    r = CliRunner().invoke(app, base + ["--format", "csv", "--by", "region"])
    assert r.stdout.splitlines()[0].startswith("key,currency,listings,drops,units")
    r = CliRunner().invoke(app, base + ["--by", "planet"])
    assert r.exit_code == 2 and "--by must be one of" in r.output


def test_digest_shows_the_periods_sales_escaped_and_filtered(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    seed(eng)
    S = m.Substance.__table__
    with eng.begin() as c:  # a name as a scraped candidate could carry it: must stay text
        c.execute(S.update().where(S.c.key == "hashish").values(canonical="<b>hash</b>"))
    base = ["--config", str(cfg), "digest", "--since", "2026-03-01", "--until", "2026-04-01", "--out", "-"]
    r = CliRunner().invoke(app, base + ["--format", "md"])
    assert r.exit_code == 0, r.output
    text = r.stdout
    assert "## Sales from stock drops" in text and "restocks ignored" in text
    # March: mephedrone 2 + 3 units at 9,000 KZT (the April drop is outside), hashish 3 units
    assert "| mephedrone | 1 | 2 | 5 | 5.0 | 45,000.00 KZT |" in text
    assert "| &lt;b&gt;hash&lt;/b&gt; | 1 | 1 | 3 | 6.0 | 3,000.00 KGS |" in text and "<b>" not in text
    r = CliRunner().invoke(app, base + ["--format", "html"])
    assert "Sales from stock drops" in r.stdout and "<td>45,000.00 KZT</td>" in r.stdout
    assert "&lt;b&gt;hash&lt;/b&gt;" in r.stdout and "<b>hash" not in r.stdout
    r = CliRunner().invoke(app, base + ["--format", "json", "--country", "KG"])
    data = json.loads(r.stdout)
    assert [(s["key"], s["units"]) for s in data["sales"]["rows"]] == [("<b>hash</b>", 3)]  # Kyrgyzstan only
    assert "restocks ignored" in data["sales"]["method"]
    r = CliRunner().invoke(app, base[:4] + ["2026-02-01", "--until", "2026-03-01", "--out", "-", "--format", "md"])
    assert "Sales from stock drops" not in r.stdout  # no stock drop in February: no section
