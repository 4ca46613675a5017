"""Signals over a generated history: each planted event is found with its evidence, a quiet history yields none."""
from __future__ import annotations

import doctest
import importlib
import pkgutil
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import func, select

from npswatch import reports

from npswatch.reports.candidates import dismiss
from npswatch.reports.signals import Detector, StockObservation, Thresholds, estimate_sales, record
from npswatch.reports.synthetic import NEW_NAME, PLANTS, History, write_history
from npswatch.storage import models as m
from npswatch.storage.db import make_engine, upgrade

START = datetime(2026, 1, 5, tzinfo=timezone.utc)  # a Monday; 26 weeks of history
WEEK = timedelta(days=7)


def history(engine, plants=(), **kw) -> History:
    return write_history(engine, History(start=START, plants=tuple(plants), **kw))


@pytest.fixture
def sqlite_engine(tmp_path):
    eng = make_engine(f"sqlite:///{tmp_path / 's.db'}")
    upgrade(eng)
    yield eng
    eng.dispose()


def last_week(engine, h, t=Thresholds()):
    return Detector(engine, t).detect(h.end - WEEK, h.end)


def test_quiet_history_yields_no_signal(engine):
    h = history(engine)
    assert h.counts["offers"] > 1500  # months of offers, not a toy
    # every week of the last two months, and the two months as one window
    for end in [h.end - WEEK * i for i in range(8)]:
        assert Detector(engine).detect(end - WEEK, end) == [], end
    assert Detector(engine).detect(h.end - WEEK * 8, h.end) == []


def test_each_planted_event_is_found_with_evidence(engine):
    h = history(engine, PLANTS)
    found = {s.kind: s for s in last_week(engine, h)}
    assert set(found) == {"new_substance", "new_in_region", "spike", "price_shift"}

    new = found["new_substance"]
    assert new.substance == NEW_NAME and new.cls == "synthetic_cannabinoid" and new.evidence["candidate"]
    assert h.last_week <= new.first_seen < h.end
    assert (new.posts, new.sources) == (4, 3) and set(new.countries) == {"KZ", "KG", "RU"}

    region = found["new_in_region"]
    assert region.substance == "alpha-PVP" and "Karaganda" in region.title and region.countries == ["KZ"]
    assert region.evidence["cities"] == ["Karaganda (KZ)"] and region.posts == 3

    spike = found["spike"]
    assert spike.substance == "MDMB-4en-PINACA"
    assert spike.value >= 2 * spike.baseline and spike.score < 1e-6
    assert spike.evidence["series"]["y"][-1] == spike.value  # the chart's last bar is the spike week

    shift = found["price_shift"]
    assert shift.substance == "mephedrone" and "Almaty" in shift.title and shift.score > 0.4  # planted +60 %
    assert shift.evidence["price"]["currency"] == "KZT"
    assert shift.evidence["price"]["median"] > 1.4 * shift.evidence["price"]["baseline_median"]

    for s in found.values():  # evidence an analyst can check
        ev = s.evidence
        assert 1 <= len(ev["examples"]) <= 3 and ev["links"]
        assert all(len(e["text"]) <= Thresholds().snippet_chars + 2 for e in ev["examples"])
        assert all(e["url"].startswith("https://") and e["source"] for e in ev["examples"])
        assert s.first_seen <= s.last_seen and s.sources >= 1


@pytest.mark.parametrize("plant", PLANTS)
def test_a_planted_event_alone_gives_exactly_its_signal(sqlite_engine, plant):
    h = history(sqlite_engine, [plant])
    kinds = {"price_shift": "price_shift", "spike": "spike", "new_substance": "new_substance",
             "new_city": "new_in_region"}
    assert [s.kind for s in last_week(sqlite_engine, h)] == [kinds[plant]]


def test_thresholds_are_configurable(sqlite_engine):
    h = history(sqlite_engine, ["price_shift", "spike", "new_city"])
    strict = Thresholds(price_shift=0.9, spike_ratio=20.0, new_min_posts=5)
    assert last_week(sqlite_engine, h, strict) == []
    assert len(last_week(sqlite_engine, h)) == 3


def test_new_signals_need_stored_history(sqlite_engine):
    h = write_history(sqlite_engine, History(start=START, weeks=3, plants=("new_substance", "new_city")))
    assert last_week(sqlite_engine, h) == []  # three weeks of data: everything would be "new"
    assert Detector(sqlite_engine, Thresholds(min_history_days=7)).detect(h.end - WEEK, h.end)


def test_dismissed_candidate_is_not_reported_again(sqlite_engine):
    h = history(sqlite_engine, ["new_substance"])
    assert [s.substance for s in last_week(sqlite_engine, h)] == [NEW_NAME]
    dismiss(sqlite_engine, NEW_NAME.lower())
    assert last_week(sqlite_engine, h) == []


def test_recording_is_idempotent_and_a_shift_is_reported_once(engine):
    h = history(engine, ["price_shift"])
    det = Detector(engine)
    weekly = []
    for end in (h.end - 2 * WEEK, h.end - WEEK, h.end):  # three weekly digests while the shift lasts
        weekly.append(record(engine, det.detect(end - WEEK, end)))
    again = record(engine, det.detect(h.end - WEEK, h.end))
    S = m.tables_reports.StoredSignal.__table__
    with engine.connect() as c:
        stored = c.execute(select(S.c.kind, S.c.key)).all()
    assert len(stored) == 1 and stored[0].kind == "price_shift"
    ids = [s.id for w in weekly for s in w]
    assert len(ids) == 1  # reported by one weekly digest, not by each while it lasts
    assert {s.id for s in again} <= set(ids)  # detecting again updates the stored row


def test_sales_estimated_from_stock_drops(sqlite_engine):
    h = history(sqlite_engine)
    O, R = m.Offer.__table__, m.Region.__table__
    T_RUN, T_OBS = m.CrawlRun.__table__, m.tables_web.ListingObservation.__table__
    with sqlite_engine.begin() as c:
        almaty = c.execute(select(R.c.id).where(R.c.name == "Almaty")).scalar_one()
        posts = c.execute(select(O.c.post_id).where(O.c.region_id == almaty, O.c.substance_id == select(
            m.Substance.__table__.c.id).where(m.Substance.__table__.c.key == "mephedrone").scalar_subquery())
            .order_by(O.c.post_id).limit(2)).scalars().all()
        stocks = {posts[0]: [10, 7, 12, 9], posts[1]: [5, 5, 2, None]}  # 3 + 3 gone, a restock, 3 gone
        for i in range(4):
            at = h.end - WEEK + timedelta(days=1 + i)
            run = c.execute(T_RUN.insert().values(kind="crawl", started_at=at, status="ok", items=0, errors=0)
                            .returning(T_RUN.c.id)).scalar_one()
            c.execute(T_OBS.insert(), [{"crawl_run_id": run, "post_id": p, "observed_at": at, "stock": s[i],
                                        "status": "seen", "price_changed": False} for p, s in stocks.items()])
    sales = [s for s in last_week(sqlite_engine, h) if s.kind == "sales"]
    assert len(sales) == 1
    assert sales[0].substance == "mephedrone" and sales[0].value == 9
    assert sales[0].evidence["sales"]["listings"] == 2 and "Almaty" in sales[0].title


def test_estimate_sales_ignores_restocks_and_unknown_stock():
    at = lambda d: datetime(2026, 3, d, tzinfo=timezone.utc)  # noqa: E731
    obs = [StockObservation(1, at(3), 4), StockObservation(1, at(1), 9), StockObservation(1, at(2), 6),
           StockObservation(2, at(1), None), StockObservation(2, at(2), 3)]
    est = estimate_sales(obs)
    assert set(est) == {1} and est[1].units == 5 and est[1].drops == 2  # out of order input is sorted


def test_signal_rows_reference_substances(engine):
    h = history(engine, PLANTS)
    record(engine, last_week(engine, h))
    S = m.tables_reports.StoredSignal.__table__
    with engine.connect() as c:
        assert c.execute(select(func.count()).select_from(S).where(S.c.substance_id.is_(None))).scalar() == 0
        assert c.execute(select(func.count()).select_from(S)).scalar() == 4


@pytest.mark.parametrize("name", sorted(mod.name for mod in pkgutil.iter_modules(reports.__path__, "npswatch.reports.")))
def test_docstring_examples_of_reports(name):
    result = doctest.testmod(importlib.import_module(name), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0, f"{result.failed} docstring example(s) failed in {name}"
