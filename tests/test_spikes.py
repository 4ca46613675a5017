"""Spikes: the overdispersion-aware baseline on generated series, and reposts against real rises end to end.

The generated series (parameters fixed here, as the issue sets them): distinct ads per week negative-binomial
with mean 5 and size 2, a yearly swing of +-30 %, a trend of +-20 % a year, each ad posted a geometric number
of times with mean 5; two years of history before the evaluated weeks.

At <= 1 false alarm per 100 series-weeks, no rule can find 90 % of 3x rises within two weeks when the weekly
counts themselves are NB(5, size 2): the two weekly alarms may together raise at most 2 false alarms per 100
over the two weeks, and for NB weeks the likelihood ratio of a rise grows with the two weeks' sum, so the
Neyman-Pearson test on that sum at 2 % bounds every rule, even one knowing the true mean: 55 % of 3x rises
and 26 % of 2x rises (benchmarks/bench_spikes.py). So the tests assert the false-alarm rate, that the rule
(the week alone or with the week before) finds as many rises as the same rule knowing the true means, and more
than the previous version (the week alone), and that the old method fails.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from npswatch.reports.synthetic import spike_trial

PARAMS = dict(mean=5.0, size=2.0, seasonal=0.3, trend=0.2, repost_mean=5.0)


def test_null_series_raise_at_most_one_false_alarm_per_100_series_weeks():
    r = spike_trial(np.random.default_rng(20261203), series=40, rise=None, weeks=10, **PARAMS)
    assert r["n"] == 400
    assert r["new"] <= 0.01, r
    assert r["old"] > 0.05, r  # the former test on posts: reposts make it cry wolf


def test_planted_rises_are_found_as_often_as_by_an_oracle():
    three = spike_trial(np.random.default_rng(3), series=80, rise=3.0, **PARAMS)
    two = spike_trial(np.random.default_rng(2), series=80, rise=2.0, **PARAMS)
    assert three["new"] >= three["oracle"] - 0.1 and three["new"] >= 0.25, three
    assert three["new"] > three["glm_week"], three  # the two-week window finds rises the week alone misses
    assert two["new"] <= three["new"], (two, three)


def _write(engine, weeks: int, last_week_ads: int, last_week_reposts: int):
    """One substance, 5 distinct synthetic ads a week; the last week has `last_week_ads` distinct ads and one
    of them posted `last_week_reposts` more times (new prices and emoji: still one ad)."""
    from sqlalchemy import select

    from npswatch.storage import models as m

    rng = np.random.default_rng(5)
    S, P, Me, Src = (t.__table__ for t in (m.Substance, m.Post, m.Mention, m.Source))
    start = datetime(2025, 1, 6, tzinfo=timezone.utc)
    syll = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]

    def ad_text() -> str:
        return "\n".join(" ".join("".join(rng.choice(syll, 3)) for _ in range(6)) for _ in range(3))

    with engine.begin() as c:
        src = c.execute(Src.insert().values(key="synthetic-shop.test", kind="web").returning(Src.c.id)).scalar_one()
        sid = c.execute(S.insert().values(key="mephedrone", canonical="mephedrone", **{"class": "synthetic_cathinone"},
                                          origin="lexicon").returning(S.c.id)).scalar_one()
        n = 0
        for w in range(weeks):
            k = last_week_ads if w == weeks - 1 else 5
            texts = [ad_text() for _ in range(k)]
            if w == weeks - 1:
                texts += [f"🔥 {texts[0]} {100 + i}" for i in range(last_week_reposts)]
            for text in texts:
                at = start + timedelta(weeks=w, hours=int(rng.integers(0, 160)))
                pid = c.execute(P.insert().values(source_id=src, external_id=str(n), text_hash=str(n), version=1,
                                                  posted_at=at, text=text).returning(P.c.id)).scalar_one()
                c.execute(Me.insert().values(post_id=pid, substance_id=sid, observed_at=at))
                n += 1
        assert c.execute(select(S.c.id)).scalar_one() == sid
    return start + timedelta(weeks=weeks - 1), start + timedelta(weeks=weeks)


@pytest.mark.parametrize("ads, reposts, spike", [(5, 40, False), (25, 0, True)])
def test_reposts_make_no_spike_and_a_rise_in_distinct_ads_does(engine, ads, reposts, spike):
    from npswatch.reports.signals import Detector
    from npswatch.storage.ads import assign_ads

    since, until = _write(engine, 30, ads, reposts)
    assign_ads(engine)
    found = [s for s in Detector(engine).detect(since, until, kinds=("spike",))]
    assert bool(found) is spike, [s.title for s in found]
    if spike:
        assert found[0].value == ads and "distinct ads" in found[0].title
