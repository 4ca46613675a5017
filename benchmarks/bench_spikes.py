"""Spike detection on generated series: false alarms on null series and planted rises found within 2 weeks,
for the rule of reports/spikes.py + signals.py (distinct ads; the week alone or with the week before, against a
baseline fitted up to the week before last), the previous version (the week alone), the former method
(Poisson on posts), the same rule knowing the true means, and the Neyman-Pearson bound of any rule: the
figures in README "Signals".

    .venv/bin/python benchmarks/bench_spikes.py [--series 300] [--seed 1]

Series as in tests/test_spikes.py: distinct ads per week NB(mean 5, size 2), +-30 % yearly swing, +-20 %/year
trend, each ad posted Geometric(mean 5) times, two years of history; the default [signals] thresholds.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PARAMS = dict(mean=5.0, size=2.0, seasonal=0.3, trend=0.2, repost_mean=5.0)


def main() -> None:
    from npswatch.reports.signals import Thresholds
    from npswatch.reports.synthetic import spike_trial

    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t = Thresholds()
    kw = dict(p=t.spike_p, window_p=t.spike_window_p, ratio=t.spike_ratio, min_ads=t.spike_min_mentions, **PARAMS)
    t0 = time.perf_counter()
    rows = [("null (alarms per series-week)", spike_trial(np.random.default_rng(args.seed), series=args.series,
                                                           rise=None, weeks=10, **kw))]
    for k in (3.0, 2.0):
        rows.append((f"{k:g}x rise (found within 2 weeks)",
                     spike_trial(np.random.default_rng(args.seed + int(k)), series=args.series, rise=k, **kw)))
    print(f"spike_p {t.spike_p}, spike_window_p {t.spike_window_p}")
    print("| series | n | new (week or two weeks, guard week) | previous (GLM, week alone) "
          "| old (posts, Poisson) | oracle (new's rule, true means) |")
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['n']} | {r['new']:.1%} | {r['glm_week']:.1%} | {r['old']:.1%} | {r['oracle']:.1%} |")
    print("Bound for any method at <= 1 false alarm per series-week, known means (mean 5): "
          + ", ".join(f"{k:g}x {neyman_pearson_bound(k):.1%}" for k in (3.0, 2.0)))
    print(f"({time.perf_counter() - t0:.0f} s)")


def neyman_pearson_bound(rise: float, mean: float = 5.0, size: float = 2.0, alarms: float = 0.01) -> float:
    """The most any alarm rule can detect within 2 weeks at `alarms` false alarms per series-week.

    Two weekly alarms allow at most 2 x `alarms` false alarms over the two weeks, and for NB weeks of one size
    and equal means the likelihood ratio of a `rise`-fold mean grows with the two weeks' sum (NB(2 mean, 2 size)):
    the Neyman-Pearson test at level 2 x `alarms` on that sum bounds every rule, even one knowing the mean."""
    from scipy import stats

    null = stats.nbinom(2 * size, 2 * size / (2 * size + 2 * mean))
    c = int(null.isf(2 * alarms))
    while null.sf(c - 1) > 2 * alarms:
        c += 1
    risen = 2 * mean * rise
    return float(stats.nbinom(2 * size, 2 * size / (2 * size + risen)).sf(c - 1))


if __name__ == "__main__":
    main()
