"""The weekly trend aggregate (migrations 0015 and 0017, reports/weekly.py): every trend figure, every place and
every source read from it equals the figure computed from the offers and mentions themselves, before and after edits, deletions and
refreshes, on generated data; and every write marks the days it touches stale."""
from __future__ import annotations

import math
import random
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select, update

from npswatch.reports import activity
from npswatch.reports import trends as tr
from npswatch.reports import weekly
from npswatch.reports.scope import Filters
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.tables import T_MENTION, T_OFFER, T_OFFER_WEEK, T_POST, T_REGION, T_SOURCE, T_STALE, T_SUBSTANCE

START = datetime(2026, 1, 19, tzinfo=timezone.utc)  # 12 weeks: three month ends fall inside weeks
CITIES = [("Almaty", "KZ"), ("Astana", "KZ"), ("Bishkek", "KG"), ("Osh", "KG")]


def generate(engine, seed: int, n_posts: int = 400) -> None:
    """Posts (some repeating one ad) with mentions and offers in several units, currencies, quantities, cities
    (and none, or a country only), some unpriced, some without a USD price, quantity or date."""
    rnd = random.Random(seed)
    with engine.begin() as c:
        c.execute(T_SOURCE.insert(), [{"key": "synthetic-shop.test", "kind": "web"},
                                      {"key": "synthetic_channel", "kind": "telegram"}])
        c.execute(T_SUBSTANCE.insert(), [{"key": k, "canonical": k, "class": cls, "origin": "lexicon"} for k, cls in
                                         (("mephedrone", "synthetic_cathinone"), ("alpha-pvp", "synthetic_cathinone"),
                                          ("hashish", "cannabis"))])
        c.execute(T_REGION.insert(), [{"key": f"city:{i}", "level": "city", "geonameid": 1000 + i, "name": n,
                                       "country": cc} for i, (n, cc) in enumerate(CITIES)]
                  + [{"key": "country:KZ", "level": "country", "geonameid": None, "name": "Kazakhstan",
                      "country": "KZ"}])
        sources = list(c.execute(select(T_SOURCE.c.id)).scalars())
        subs = list(c.execute(select(T_SUBSTANCE.c.id)).scalars())
        regions = list(c.execute(select(T_REGION.c.id)).scalars()) + [None]
        for i in range(n_posts):
            at = START + timedelta(seconds=rnd.randrange(84 * 86400)) if rnd.random() > 0.02 else None
            pid = c.execute(T_POST.insert().values(
                source_id=rnd.choice(sources), external_id=str(i), text_hash=str(i), version=1, posted_at=at,
                ad_id=rnd.choice([None, rnd.randrange(1, n_posts // 3)])).returning(T_POST.c.id)).scalar_one()
            sub = rnd.choice(subs)
            places = rnd.sample(regions, rnd.choice((1, 1, 2)))
            c.execute(T_MENTION.insert(), [{"post_id": pid, "substance_id": sub, "region_id": r, "observed_at": at}
                                           for r in places])
            for _ in range(rnd.choice((0, 1, 1, 2, 3))):
                unit = rnd.choice(("g", "g", "g", "piece", "ml"))
                qty = rnd.choice((0.5, 1.0, 2.0, 5.0, 20.0))
                cur = rnd.choice(("KZT", "KZT", "KGS", "USD", None))
                price = round(rnd.lognormvariate(8, 1), 2)
                priced = rnd.random() > 0.1
                ppg = round(price / qty, 4) if unit == "g" and priced else None
                c.execute(T_OFFER.insert().values(
                    post_id=pid, substance_id=sub, region_id=places[0], quantity=qty, unit=unit,
                    grams=(qty if rnd.random() > 0.1 else None) if unit == "g" else None, price=price,
                    currency=cur, price_per_gram=ppg,
                    price_per_gram_usd=round(ppg / 450, 6) if ppg and rnd.random() > 0.3 else None,
                    observed_at=at))


def assert_same(a: list, b: list) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b):
        for k in x.__dataclass_fields__:
            u, v = getattr(x, k), getattr(y, k)
            if isinstance(u, float) and isinstance(v, float):
                assert math.isclose(u, v, rel_tol=1e-12), (k, x, y)
            else:
                assert u == v, (k, x, y)


MID = START + timedelta(days=20, hours=5)  # inside a week: cut segments are built from the rows
FILTERS = [Filters(), Filters(substance="mephedrone"), Filters(cls="synthetic_cathinone", country="KZ"),
           Filters(since=MID), Filters(substance="hashish", since=START + timedelta(days=9), until=MID),
           Filters(until=datetime(2026, 3, 1, tzinfo=timezone.utc))]


def assert_all_equal(engine) -> None:
    """Every trend table, place list and source list from the aggregate equals the one from the raw rows."""
    for f in FILTERS:
        for by in ("week", "month"):
            for group in ("city", "country", "substance", "none"):
                kw = dict(by=by, group=group, tiers=group in ("city", "none"))
                agg = tr.trends(engine, f, method="aggregate", **kw)
                assert_same(agg, tr.trends(engine, f, method="columns", **kw))
        assert activity.places(engine, f) == activity.places(engine, f, method="rows")
        assert activity.sources(engine, f) == activity.sources(engine, f, method="rows")


@pytest.fixture
def engine(db_url):
    """Generated data on SQLite and on PostgreSQL (its triggers are other code)."""
    e = make_engine(db_url)
    upgrade(e)
    generate(e, seed=7)
    yield e
    e.dispose()


def stale(engine) -> set[int]:
    with engine.connect() as c:
        return set(c.execute(select(T_STALE.c.day)).scalars())


def day_of(at: datetime) -> int:
    return (at.date() - datetime(1970, 1, 1).date()).days


@pytest.mark.parametrize("seed", [1, 2])
def test_every_trend_figure_from_the_aggregate_equals_the_raw_rows(tmp_path, seed):
    e = make_engine(f"sqlite:///{tmp_path / 'agg.db'}")
    upgrade(e)
    generate(e, seed)
    assert stale(e), "the writes marked their days"
    assert_all_equal(e)  # nothing stored yet: every segment is built from the rows on the fly
    assert weekly.refresh(e) > 0
    assert not stale(e)
    with e.connect() as c:
        assert c.execute(select(func.count()).select_from(T_OFFER_WEEK)).scalar() > 0
    assert_all_equal(e)
    rows = tr.trends(e, by="week", group="city")
    assert sum(r.offers for r in rows) == 0 or any(r.median is not None for r in rows)


def test_edits_and_deletions_mark_their_weeks_and_reads_stay_exact(engine):
    weekly.refresh(engine)
    with engine.begin() as c:
        moved = c.execute(select(T_OFFER.c.id, T_OFFER.c.observed_at).where(T_OFFER.c.observed_at.is_not(None))
                          .order_by(T_OFFER.c.id).limit(1)).first()
        new_at = datetime(2026, 2, 27, 23, 30, tzinfo=timezone.utc)
        c.execute(update(T_OFFER).where(T_OFFER.c.id == moved.id).values(observed_at=new_at, price_per_gram=1.5))
    marks = stale(engine)
    assert {day_of(moved.observed_at.replace(tzinfo=timezone.utc)), day_of(new_at)} <= marks
    assert_all_equal(engine)  # stale segments come from the rows until refreshed
    with engine.begin() as c:
        c.execute(delete(T_MENTION).where(T_MENTION.c.id % 5 == 0))
        c.execute(delete(T_OFFER).where(T_OFFER.c.id % 7 == 0))
        c.execute(update(T_POST).where(T_POST.c.id % 3 == 0).values(ad_id=None))  # ads re-assigned
    assert_all_equal(engine)
    weekly.refresh(engine)
    assert not stale(engine)
    assert_all_equal(engine)


def test_a_post_given_another_ad_marks_its_mentions_days(engine):
    weekly.refresh(engine)
    with engine.begin() as c:
        pid, at = c.execute(select(T_MENTION.c.post_id, T_MENTION.c.observed_at)
                            .where(T_MENTION.c.observed_at.is_not(None)).limit(1)).first()
        c.execute(update(T_POST).where(T_POST.c.id == pid).values(ad_id=99999))
    assert stale(engine) == {day_of(at.replace(tzinfo=timezone.utc))}
    assert_all_equal(engine)


def test_a_post_moved_to_another_source_takes_its_offers_along(engine):
    """An offer counts for its post's source: moving the post marks its offers' days too, even a day none of its
    mentions is on."""
    with engine.begin() as c:
        pid, at = c.execute(select(T_OFFER.c.post_id, T_OFFER.c.observed_at).where(T_OFFER.c.observed_at.is_not(None))
                            .order_by(T_OFFER.c.id).limit(1)).first()
        c.execute(update(T_OFFER).where(T_OFFER.c.post_id == pid).values(observed_at=START - timedelta(days=30)))
    weekly.refresh(engine)
    with engine.begin() as c:
        source = c.execute(select(T_POST.c.source_id).where(T_POST.c.id == pid)).scalar_one()
        other = c.execute(select(T_SOURCE.c.id).where(T_SOURCE.c.id != source)).scalars().first()
        c.execute(update(T_POST).where(T_POST.c.id == pid).values(source_id=other))
    assert day_of(START - timedelta(days=30)) in stale(engine)
    assert_all_equal(engine)
    weekly.refresh(engine)
    assert_all_equal(engine)


def test_a_substance_moved_to_another_class_marks_its_days(engine):
    """The class tables merge a class's substances: a substance changing class rebuilds its segments."""
    weekly.refresh(engine)
    with engine.begin() as c:
        c.execute(update(T_SUBSTANCE).where(T_SUBSTANCE.c.key == "hashish").values({"class": "synthetic_cathinone"}))
        hashish = c.execute(select(T_SUBSTANCE.c.id).where(T_SUBSTANCE.c.key == "hashish")).scalar_one()
        days = {day_of(d.replace(tzinfo=timezone.utc)) for d in c.execute(
            select(T_MENTION.c.observed_at).where(T_MENTION.c.substance_id == hashish,
                                                  T_MENTION.c.observed_at.is_not(None))).scalars()}
    assert days and days <= stale(engine)
    assert_all_equal(engine)
    weekly.refresh(engine)
    assert_all_equal(engine)


def test_one_unit_and_tier_are_those_rows_of_the_whole_table(engine):
    """`trends(unit=..., tier=...)` (the web app's one table) leaves the other offers out of the computation."""
    for refreshed in (False, True):  # built from the rows, then read from the stored aggregate
        if refreshed:
            weekly.refresh(engine)
        for f in (Filters(cls="synthetic_cathinone"), Filters(substance="mephedrone", since=MID), Filters()):
            for tiers, tier in ((False, None), (True, 0), (True, 2)):
                whole = tr.trends(engine, f, by="week", group="city", tiers=tiers)
                for unit in ("g", "piece"):
                    label = tr.tier_label(unit, tier, tr.DEFAULT_TIERS)
                    assert_same(tr.trends(engine, f, by="week", group="city", tiers=tiers, unit=unit, tier=tier),
                                [r for r in whole if r.unit == unit and r.tier == label])


def test_the_migration_on_an_existing_database_builds_the_aggregate_on_first_use(tmp_path):
    from alembic import command

    from npswatch.storage.db import alembic_config

    engine = make_engine(f"sqlite:///{tmp_path / 'agg.db'}")
    upgrade(engine)
    generate(engine, seed=7)
    weekly.refresh(engine)
    before = tr.trends(engine, by="month", group="country")
    command.downgrade(alembic_config(engine), "0014")
    command.upgrade(alembic_config(engine), "head")
    with engine.connect() as c:
        days = set(c.execute(select(T_OFFER.c.observed_at).where(T_OFFER.c.observed_at.is_not(None))).scalars())
    assert {day_of(d.replace(tzinfo=timezone.utc)) for d in days} <= stale(engine)
    assert_same(tr.trends(engine, by="month", group="country"), before)  # built from the rows meanwhile
    assert weekly.refresh_if_stale(engine) > 0
    assert not stale(engine)
    assert_same(tr.trends(engine, by="month", group="country"), before)
    assert weekly.refresh(engine, full=True) > 0
    assert_same(tr.trends(engine, by="month", group="country"), before)


def test_the_writer_marks_the_days_of_the_offers_it_stores(tmp_path, pseudonymiser):
    from npswatch.pipelines.rawpost import RawPost
    from npswatch.watch import Watch

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n', encoding="utf-8")
    w = Watch(str(cfg))
    upgrade(w.engine)
    at = datetime(2026, 3, 4, 12, tzinfo=timezone.utc)
    w.writer().write([RawPost(source="synthetic-shop.test", external_id=str(i), posted_at=at + timedelta(days=i),
                              text=f"Мефедрон {i + 1} г — {5000 * (i + 1)} тенге, Алматы") for i in range(3)])
    with w.engine.connect() as c:
        offers = c.execute(select(func.count()).select_from(T_OFFER)).scalar()
    assert offers == 3
    assert stale(w.engine) == {day_of(at) + i for i in range(3)}
    assert_same(w.trends(substance="mephedrone").rows,
                tr.trends(w.engine, Filters(substance="mephedrone"), method="columns"))
    assert not stale(w.engine)  # the report refreshed the aggregate first


def test_period_totals_are_the_posts_ads_and_sources_of_the_whole_scope(engine):
    weekly.refresh(engine)
    for f in (Filters(cls="synthetic_cathinone"), Filters(substance="hashish", since=MID)):
        for by in ("week", "month"):
            totals: list = []
            tr.trends(engine, f, by=by, group="city", totals=totals)
            whole = {r.period: (r.mentions, r.ads, r.sources) for r in tr.trends(engine, f, by=by, group="none",
                                                                                 method="columns")}
            assert {t.period: (t.mentions, t.ads, t.sources) for t in totals} == whole
            assert totals == sorted(totals)


def test_the_cli_rebuilds_the_aggregate(tmp_path):
    from typer.testing import CliRunner

    from npswatch.cli.app import app

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n', encoding="utf-8")
    e = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(e)
    generate(e, seed=3, n_posts=60)
    r = CliRunner().invoke(app, ["--config", str(cfg), "trends", "--rebuild-aggregate"])
    assert r.exit_code == 0, r.output
    assert "weekly aggregate rebuilt: 15 week segments" in r.output  # 12 weeks, three of them cut by a month end
    assert not stale(e)
    assert_same(tr.trends(e, by="month", group="country"), tr.trends(e, by="month", group="country",
                                                                     method="columns"))


def test_two_reports_at_once_refresh_the_aggregate_once(tmp_path, monkeypatch, caplog):
    """The substance page reads its trend and its profile in two threads: the second waits for the first's refresh
    and finds nothing left stale, instead of refreshing beside it (on SQLite: "database is locked", and the raw
    rows read meanwhile)."""
    import threading
    import time

    from npswatch.watch import Watch

    w = Watch(settings={"data_dir": str(tmp_path), "database": {"url": f"sqlite:///{tmp_path / 'two.db'}"}})
    w.upgrade()
    generate(w.engine, seed=3)
    assert stale(w.engine)
    inside, most, real = [0], [0], weekly.refresh_if_stale

    def slow_refresh(engine):
        inside[0] += 1
        most[0] = max(most[0], inside[0])
        time.sleep(0.3)
        try:
            return real(engine)
        finally:
            inside[0] -= 1

    monkeypatch.setattr(weekly, "refresh_if_stale", slow_refresh)
    results = []
    threads = [threading.Thread(target=lambda: results.append(w.trends(by="month", group="country"))),
               threading.Thread(target=lambda: results.append(w.substance_profile(cls="synthetic_cathinone")))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 2 and most[0] == 1
    assert not stale(w.engine)
    assert "not refreshed" not in caplog.text
