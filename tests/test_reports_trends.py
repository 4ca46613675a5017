"""Trends on SQLite and PostgreSQL: counts, median and IQR per period and group, filters, CLI and plots."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch.reports import trends as tr
from npswatch.reports.scope import Filters, ScopeError
from npswatch.reports.trends import trends
from npswatch.cli.app import app
from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade

MON = datetime(2026, 3, 2, 10, tzinfo=timezone.utc)  # a Monday


def seed(engine, offers, mentions_only=()):
    """offers: (day offset, city, substance, price per gram, currency, usd); each offer is its own post."""
    S, R, P, Me, O, Src = (t.__table__ for t in (m.Substance, m.Region, m.Post, m.Mention, m.Offer, m.Source))
    with engine.begin() as c:
        c.execute(Src.insert().values(key="fixture-shop.test", kind="web"))
        c.execute(S.insert(), [{"key": "mephedrone", "canonical": "mephedrone", "class": "synthetic_cathinone",
                                "origin": "lexicon"},
                               {"key": "hashish", "canonical": None, "class": "cannabis", "origin": "lexicon"}])
        c.execute(R.insert(), [{"key": "city:1526384", "level": "city", "geonameid": 1526384, "name": "Almaty",
                                "country": "KZ"},
                               {"key": "city:1528675", "level": "city", "geonameid": 1528675, "name": "Bishkek",
                                "country": "KG"},
                               {"key": "country:KZ", "level": "country", "geonameid": None, "name": "Kazakhstan",
                                "country": "KZ"}])
        src = c.execute(select(Src.c.id)).scalar_one()
        sub = {k: i for k, i in c.execute(select(S.c.key, S.c.id))}
        reg = {n: i for n, i in c.execute(select(R.c.name, R.c.id))}
        for n, (day, city, substance, ppg, cur, usd) in enumerate(list(offers) + list(mentions_only)):
            at = MON + timedelta(days=day, minutes=n)
            pid = c.execute(P.insert().values(source_id=src, external_id=str(n), text_hash=str(n), version=1,
                                              posted_at=at, text=f"{substance} {ppg}").returning(P.c.id)).scalar_one()
            rid = reg[city] if city else None
            c.execute(Me.insert().values(post_id=pid, substance_id=sub[substance], region_id=rid, observed_at=at))
            if n < len(offers):
                c.execute(O.insert().values(post_id=pid, substance_id=sub[substance], region_id=rid, quantity=1,
                                            unit="g", grams=1 if ppg else None, price=ppg or 1, currency=cur,
                                            price_per_gram=ppg, price_per_gram_usd=usd, observed_at=at))


OFFERS = [
    # week 1, Almaty: three KZT offers and one in USD -> local currency KZT; USD over all four
    (0, "Almaty", "mephedrone", 10000.0, "KZT", 20.0),
    (1, "Almaty", "mephedrone", 20000.0, "KZT", 40.0),
    (2, "Almaty", "mephedrone", 40000.0, "KZT", 80.0),
    (3, "Almaty", "mephedrone", 50.0, "USD", 50.0),
    # week 1, Bishkek: two KGS offers, no rate
    (1, "Bishkek", "mephedrone", 1000.0, "KGS", None),
    (2, "Bishkek", "mephedrone", 3000.0, "KGS", None),
    # week 2, Almaty: hashish, one unpriced offer (pieces)
    (8, "Almaty", "hashish", 5000.0, "KZT", 10.0),
    (9, "Almaty", "hashish", None, "KZT", None),
]
MENTIONS_ONLY = [(10, "Almaty", "hashish", None, None, None), (11, None, "hashish", None, None, None)]


def by_key(rows):
    return {(r.period.isoformat(), r.group): r for r in rows}


def test_week_by_city_counts_medians_and_iqr(engine):
    seed(engine, OFFERS, MENTIONS_ONLY)
    rows = by_key(trends(engine, by="week", group="city"))
    alm = rows[("2026-03-02", "Almaty (KZ)")]
    assert (alm.offers, alm.currency, alm.priced) == (4, "KZT", 3)
    assert (alm.q1, alm.median, alm.q3) == (15000.0, 20000.0, 30000.0)  # linear interpolation, as percentile_cont
    assert alm.usd_offers == 4 and (alm.usd_q1, alm.usd_median, alm.usd_q3) == (35.0, 45.0, 57.5)
    assert alm.mentions == 4
    bis = rows[("2026-03-02", "Bishkek (KG)")]
    assert (bis.offers, bis.currency, bis.median, bis.q1, bis.q3) == (2, "KGS", 2000.0, 1500.0, 2500.0)
    assert bis.usd_offers == 0 and bis.usd_median is None
    wk2 = rows[("2026-03-09", "Almaty (KZ)")]
    assert (wk2.offers, wk2.priced, wk2.median, wk2.mentions) == (2, 1, 5000.0, 3)
    assert rows[("2026-03-09", "(no region)")].mentions == 1  # a mention naming no place


def test_groups_months_and_filters(engine):
    seed(engine, OFFERS, MENTIONS_ONLY)
    month = trends(engine, by="month", group="country")  # no substance named: one series per substance
    assert {(r.period.isoformat(), r.group, r.series, r.offers) for r in month if r.unit} == {
        ("2026-03-01", "KZ", "mephedrone", 4), ("2026-03-01", "KZ", "hashish", 2), ("2026-03-01", "KG", "mephedrone", 2)}
    subs = by_key(trends(engine, Filters(city="Almaty"), by="week", group="substance"))
    assert set(subs) == {("2026-03-02", "mephedrone"), ("2026-03-09", "hashish")}  # a kind has no canonical: key
    only = trends(engine, Filters(substance="MEPHEDRONE", country="KG"), group="none")
    assert [(r.group, r.offers, r.median) for r in only] == [("all", 2, 2000.0)]
    since = trends(engine, Filters(since=MON + timedelta(days=7)), group="none")
    assert [r.period.isoformat() for r in since] == ["2026-03-09"]
    with pytest.raises(ScopeError, match="Almaty"):
        trends(engine, Filters(city="Atlantis"))
    with pytest.raises(ScopeError, match="mephedrone"):
        trends(engine, Filters(substance="unobtainium"))


def test_sqlite_is_read_with_the_one_sqlite_library_of_the_process(tmp_path):
    """Column reads go through Python's sqlite3, never a second SQLite library (ADBC's driver bundles one: two
    libraries on one file cannot see each other's locks, and the second reset the WAL index under the first)."""
    import sys

    eng = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(eng)
    seed(eng, OFFERS, MENTIONS_ONLY)
    assert trends(eng, by="week", group="city")
    assert tr.read_columns(eng, "SELECT id FROM offer")["id"].size
    assert "adbc_driver_sqlite" not in sys.modules


def test_empty_database_gives_no_rows(engine):
    assert trends(engine) == []
    assert tr.cells(engine, Filters(), "week", ("city", "substance")) == {}


def test_cli_table_json_csv_and_plots(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    seed(eng, OFFERS, MENTIONS_ONLY)
    runner = CliRunner()
    r = runner.invoke(app, ["--config", str(cfg), "trends", "--substance", "mephedrone"], terminal_width=160)
    assert r.exit_code == 0, r.output
    assert "Almaty (KZ)" in r.output and "20,000 KZT" in r.output
    r = runner.invoke(app, ["--config", str(cfg), "trends", "--by", "month", "--format", "json"])
    assert r.exit_code == 0, r.output
    data = json.loads(r.stdout)
    assert {d["group"] for d in data} == {"Almaty (KZ)", "Bishkek (KG)", "(no region)"}
    r = runner.invoke(app, ["--config", str(cfg), "trends", "--format", "csv", "--country", "KG"])
    assert r.stdout.splitlines()[0].startswith("period,group,offers,currency")
    for name in ("t.png", "t.svg"):
        r = runner.invoke(app, ["--config", str(cfg), "trends", "--plot", str(tmp_path / name)])
        assert r.exit_code == 0, r.output
    assert (tmp_path / "t.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "t.svg").read_text()
    assert "<svg" in svg and "price per g (USD)" in svg  # labelled axis with the unit
    r = runner.invoke(app, ["--config", str(cfg), "trends", "--city", "Atlantis"])
    assert r.exit_code == 2 and "Atlantis" in r.output


@pytest.mark.parametrize("by", ["week", "month"])
def test_agrees_with_a_direct_computation_over_a_generated_history(engine, by):
    import numpy as np

    from npswatch.reports.scope import as_datetime, period_start
    from npswatch.reports.synthetic import History, write_history

    write_history(engine, History(start=datetime(2026, 1, 19, tzinfo=timezone.utc), weeks=12))  # starts mid-month
    O, R, S = m.Offer.__table__, m.Region.__table__, m.Substance.__table__
    with engine.connect() as c:
        rows = c.execute(select(O.c.observed_at, R.c.name, R.c.country, func.coalesce(S.c.canonical, S.c.key),
                                O.c.price_per_gram, O.c.price_per_gram_usd)
                         .join(R, R.c.id == O.c.region_id).join(S, S.c.id == O.c.substance_id)
                         .where(O.c.unit == "g")).all()
    local, usd = {}, {}
    for at, city, cc, sub, ppg, u in rows:
        k = (period_start(as_datetime(at).date(), by).isoformat(), f"{city} ({cc})", sub)  # UTC day
        if ppg is not None:
            local.setdefault(k, []).append(ppg)  # one currency per city in the generated history
        if u is not None:
            usd.setdefault(k, []).append(u)
    got = {(r.period.isoformat(), r.group, r.series): r for r in trends(engine, by=by, group="city")
           if r.unit == "g"}
    assert set(got) == set(local) and len({k[2] for k in local}) > 1  # per substance, never mixed
    for k, values in local.items():
        r = got[k]
        assert r.priced == len(values)
        assert r.median == pytest.approx(float(np.median(values)))
        assert (r.q1, r.q3) == pytest.approx(tuple(np.percentile(values, [25, 75])))
        assert r.usd_median == pytest.approx(float(np.median(usd[k])))


def seed_units(engine):
    """One synthetic shop in Almaty selling mephedrone by the gram (retail and wholesale) and by the piece, and
    a second cathinone; all in KZT."""
    seed(engine, [(0, "Almaty", "mephedrone", 10000.0, "KZT", 20.0)])
    S, P, O, Src = (t.__table__ for t in (m.Substance, m.Post, m.Offer, m.Source))
    with engine.begin() as c:
        c.execute(S.insert().values(key="alpha-pvp", canonical="alpha-PVP", **{"class": "synthetic_cathinone"},
                                    origin="lexicon"))
        sub = {k: i for k, i in c.execute(select(S.c.key, S.c.id))}
        rid = c.execute(select(m.Region.__table__.c.id).where(m.Region.__table__.c.name == "Almaty")).scalar_one()
        src = c.execute(select(Src.c.id)).scalar_one()
        rows = [("mephedrone", 0.5, "g", 6000.0), ("mephedrone", 50.0, "g", 250000.0),
                ("mephedrone", 100.0, "g", 400000.0), ("mephedrone", 10.0, "piece", 30000.0),
                ("alpha-pvp", 1.0, "g", 8000.0)]
        for n, (s, qty, unit, price) in enumerate(rows):
            at = MON + timedelta(days=1, minutes=n)
            pid = c.execute(P.insert().values(source_id=src, external_id=f"u{n}", text_hash=f"u{n}", version=1,
                                              posted_at=at, text="synthetic").returning(P.c.id)).scalar_one()
            grams = qty if unit == "g" else None
            c.execute(O.insert().values(post_id=pid, substance_id=sub[s], region_id=rid, quantity=qty, unit=unit,
                                        grams=grams, price=price, currency="KZT",
                                        price_per_gram=price / qty if grams else None, observed_at=at))


def test_units_and_quantity_tiers_are_separate_medians(engine):
    seed_units(engine)
    rows = trends(engine, Filters(substance="mephedrone"), group="city")
    per = {r.unit: r for r in rows}
    assert set(per) == {"g", "piece"}  # grams and pieces never share a median
    assert (per["piece"].priced, per["piece"].median) == (1, 3000.0)  # price per piece
    assert per["g"].priced == 4 and per["g"].median == 7500.0  # 4000, 5000, 10000, 12000 KZT/g
    tiered = {r.tier: r for r in trends(engine, Filters(substance="mephedrone"), group="city", tiers=True)
              if r.unit == "g"}
    assert set(tiered) == {"retail <=1 g", "wholesale >10 g"}
    assert (tiered["retail <=1 g"].priced, tiered["retail <=1 g"].median) == (2, 11000.0)
    assert (tiered["wholesale >10 g"].priced, tiered["wholesale >10 g"].median) == (2, 4500.0)
    assert all(r.tier in r.label and r.unit in r.label for r in tiered.values())
    custom = trends(engine, Filters(substance="mephedrone"), tiers=True, tier_bounds={"g": (0.5, 60.0)})
    assert {r.tier for r in custom if r.unit == "g"} == {"retail <=0.5 g", "0.5-60 g", "wholesale >60 g"}


def test_without_a_substance_prices_are_grouped_by_substance_and_a_class_is_one_series(engine):
    seed_units(engine)
    f = Filters(city="Almaty")
    rows = [r for r in trends(engine, f, group="city") if r.unit == "g"]
    assert {r.series for r in rows} == {"mephedrone", "alpha-PVP"}
    assert "grouped by substance" in tr.mixing_note(f, "city")
    assert tr.mixing_note(Filters(substance="mephedrone"), "city") is None
    cls = [r for r in trends(engine, Filters(cls="synthetic_cathinone"), group="city") if r.unit == "g"]
    assert [(r.series, r.priced) for r in cls] == [("class: synthetic cathinone", 5)]  # named substances included


def test_cli_says_it_grouped_by_substance(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[trends]\ntiers = { g = [1, 20] }\n')
    eng = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(eng)
    seed_units(eng)
    r = CliRunner().invoke(app, ["--config", str(cfg), "trends", "--format", "json"])
    assert r.exit_code == 0, r.output
    assert "grouped by substance" in r.output
    r = CliRunner().invoke(app, ["--config", str(cfg), "trends", "--substance", "mephedrone", "--tiers",
                                 "--format", "json"])
    data = json.loads(r.stdout[r.stdout.index("["):])
    assert {d["tier"] for d in data if d["unit"] == "g"} == {"retail <=1 g", "wholesale >20 g"}


def _mixed_history(engine):
    """The generated market plus offers by the piece and ml, wholesale grams, USD prices and reposted ads."""
    import random

    from npswatch.reports.synthetic import History, write_history

    write_history(engine, History(start=datetime(2026, 1, 19, tzinfo=timezone.utc), weeks=9, seed=3))
    rnd = random.Random(5)
    O, P = m.Offer.__table__, m.Post.__table__
    with engine.begin() as c:
        offers = c.execute(select(O.c.post_id, O.c.substance_id, O.c.region_id, O.c.observed_at)).all()
        extra = []
        for pid, sid, rid, at in offers[::3]:
            unit, qty = rnd.choice([("piece", 1.0), ("piece", 5.0), ("piece", 20.0), ("ml", 2.0), ("g", 25.0),
                                    ("g", 0.25)])
            cur = rnd.choice(["USD", "KZT", "KZT", None])
            price = round(rnd.uniform(5, 500) * qty, 2)
            grams = qty if unit == "g" else None
            extra.append({"post_id": pid, "substance_id": sid, "region_id": rid if rnd.random() < 0.9 else None,
                          "quantity": qty, "unit": unit, "grams": grams, "price": price, "currency": cur,
                          "price_per_gram": price / qty if grams else None,
                          "price_per_gram_usd": (price / qty if cur == "USD" else None) if grams else None,
                          "observed_at": at})
        c.execute(O.insert(), extra)
        # reposts: every third post repeats the ad of the post before it
        c.execute(P.update().values(ad_id=P.c.id - (P.c.id % 3)))
        c.execute(P.update().where(P.c.id % 7 == 0).values(ad_id=None))


def _reference(engine, by, tiers):
    """The trend cells computed row by row in Python: the slow path the fast one must equal."""
    import numpy as np

    from npswatch.reports.scope import as_datetime, period_start

    O, Me, P, R, S = (t.__table__ for t in (m.Offer, m.Mention, m.Post, m.Region, m.Substance))
    with engine.connect() as c:
        region = {i: (f"{n} ({cc})" if lvl == "city" else f"{cc} (no city)")
                  for i, n, cc, lvl in c.execute(select(R.c.id, R.c.name, R.c.country, R.c.level))}
        names = dict(c.execute(select(S.c.id, func.coalesce(S.c.canonical, S.c.key))).all())
        offers = c.execute(select(O.c.observed_at, O.c.region_id, O.c.substance_id, O.c.unit, O.c.quantity,
                                  O.c.grams, O.c.price, O.c.currency, O.c.price_per_gram,
                                  O.c.price_per_gram_usd)).all()
        mentions = c.execute(select(Me.c.observed_at, Me.c.region_id, Me.c.substance_id, Me.c.post_id,
                                    P.c.ad_id, P.c.source_id).join(P, P.c.id == Me.c.post_id)).all()

    def period(at):
        return period_start(as_datetime(at).date(), by)

    def tier(unit, qty):
        return tr.tier_label(unit, 0 if qty <= 1 else 1 if qty <= 10 else 2, tr.DEFAULT_TIERS) if tiers else "all sizes"

    cells, ment = {}, {}
    for at, rid, sid, unit, qty, grams, price, cur, ppg, usd in offers:
        ppu = ppg if unit == "g" else (price / qty if qty > 0 else None)
        pusd = usd if unit == "g" else (price / qty if cur == "USD" and qty > 0 else None)
        key = (period(at), region.get(rid, tr.NO_REGION), names[sid], unit,
               tier(unit, grams if unit == "g" and grams is not None else qty))
        cell = cells.setdefault(key, {"offers": 0, "local": {}, "usd": []})
        cell["offers"] += 1
        if ppu is not None:
            cell["local"].setdefault(cur or "", []).append(ppu)
        if pusd is not None:
            cell["usd"].append(pusd)
    for at, rid, sid, pid, ad, src in mentions:
        s = ment.setdefault((period(at), region.get(rid, tr.NO_REGION), names[sid]), (set(), set(), set()))
        s[0].add(pid), s[1].add(ad if ad is not None else -pid), s[2].add(src)

    def q(values):
        return tuple(float(x) for x in np.percentile(values, [25, 50, 75])) if values else (None, None, None)

    out = {}
    for (p, g, s, unit, t), cell in cells.items():
        cur = min(cell["local"], key=lambda k: (-len(cell["local"][k]), k)) if cell["local"] else None
        local = cell["local"].get(cur, [])
        mm = ment.get((p, g, s), (set(), set(), set()))
        out[(p, g, s, unit, t)] = (cell["offers"], cur or None, len(local), *q(local), len(cell["usd"]),
                                   *q(cell["usd"]), *map(len, mm))
    for (p, g, s), mm in ment.items():
        if not any(k[:3] == (p, g, s) for k in cells):
            out[(p, g, s, None, "all sizes")] = (0, None, 0, None, None, None, 0, None, None, None, *map(len, mm))
    return out


@pytest.mark.parametrize("by,tiers", [("week", False), ("week", True), ("month", True)])
def test_fast_path_equals_the_slow_path_row_by_row(engine, by, tiers):
    _mixed_history(engine)
    want = _reference(engine, by, tiers)
    rows = trends(engine, by=by, group="city", tiers=tiers)
    got = {(r.period, r.group, r.series, r.unit, r.tier):
           (r.offers, r.currency, r.priced, r.q1, r.median, r.q3, r.usd_offers, r.usd_q1, r.usd_median, r.usd_q3,
            r.mentions, r.ads, r.sources) for r in rows}
    assert len(got) == len(rows) and set(got) == set(want)
    assert {"g", "piece", "ml"} <= {k[3] for k in got}
    for k, w in want.items():
        assert all(a == b or (isinstance(b, float) and a == pytest.approx(b, rel=1e-12)) for a, b in zip(got[k], w)), \
            (k, got[k], w)
    assert any(g[11] < g[10] for g in got.values())  # reposts counted once
    assert rows == sorted(rows, key=lambda r: (r.period, r.series, r.group, r.unit or "~", r.tier))
    if engine.dialect.name == "postgresql":  # the server's percentile_cont: the same rows
        assert trends(engine, by=by, group="city", tiers=tiers, method="sql") == rows
    # other groupings: the same cells as the server or the stdlib reader compute them
    for group in ("country", "none", "substance"):
        fast = trends(engine, by=by, group=group, tiers=tiers)
        if engine.dialect.name == "postgresql":
            assert trends(engine, by=by, group=group, tiers=tiers, method="sql") == fast


def test_postgresql_reads_keep_an_idle_connection_and_survive_its_loss(pg_url):
    """The Arrow reader keeps its PostgreSQL connection for the next trend (opening one is half a query's time):
    outside any transaction, at most two per database, and a kept connection the server dropped is replaced."""
    if tr._adbc("postgresql") is None:
        pytest.skip("adbc-driver-postgresql is not installed")
    engine = make_engine(pg_url)
    upgrade(engine)
    _mixed_history(engine)
    first = trends(engine, by="week", group="city", tiers=True)
    for _ in range(3):
        assert trends(engine, by="week", group="city", tiers=True) == first
    uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    assert 1 <= len(tr._PG.idle.get(uri, [])) <= 2
    pids = []
    for conn in tr._PG.idle[uri]:
        with conn.cursor() as cur:
            cur.execute("select pg_backend_pid()")
            pids.append(cur.fetchone()[0])
    with engine.begin() as c:
        ids = ",".join(map(str, pids))
        assert c.exec_driver_sql(f"select state from pg_stat_activity where pid in ({ids})").scalars().all() \
            == ["idle"] * len(pids)
        c.exec_driver_sql(f"select pg_terminate_backend(pid) from pg_stat_activity where pid in ({ids})")
    assert trends(engine, by="week", group="city", tiers=True) == first
    engine.dispose()

