"""Spike detection on generated series: false alarms on null series and planted rises found within 2 weeks,
for the rule of reports/spikes.py + signals.py at the default thresholds (distinct ads; the week alone or with
the week before, against a baseline fitted up to the week before last), the same rule at its former thresholds,
the former method (Poisson on posts), the same rule knowing the true means, and the Neyman-Pearson bound of any
rule (benchmarks/spike_bound.py): the figures in README "Signals".

    .venv/bin/python benchmarks/bench_spikes.py [--series 300] [--seed 1]

Series as in tests/test_spikes.py: distinct ads per week NB(mean 5, size 2), +-30 % yearly swing, +-20 %/year
trend, each ad posted Geometric(mean 5) times, two years of history; null series are evaluated on 10 weeks
each (rates per series-week), risen ones on the 2 weeks from the rise.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PARAMS = dict(mean=5.0, size=2.0, seasonal=0.3, trend=0.2, repost_mean=5.0)


def main() -> None:
    from spike_bound import bound

    from npswatch.reports.signals import Thresholds
    from npswatch.reports.synthetic import spike_trial

    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t = Thresholds()
    kw = dict(p=t.spike_p, window_p=t.spike_window_p, ratio=t.spike_ratio, min_ads=t.spike_min_mentions, **PARAMS)
    t0 = time.perf_counter()
    rows = [("null: false alarms per series-week", None,
             spike_trial(np.random.default_rng(args.seed), series=args.series, rise=None, weeks=10, **kw))]
    for k in (3.0, 2.0):
        rows.append((f"{k:g}x rise: found within 2 weeks", bound(k),
                     spike_trial(np.random.default_rng(args.seed + int(k)), series=args.series, rise=k, **kw)))
    print(f"spike_p {t.spike_p}, spike_window_p {t.spike_window_p}; seeds {args.seed}, {args.seed + 3}, "
          f"{args.seed + 2}")
    print("| series | n | new (defaults) | before (same rule, p 0.001 / 0.001) | old (posts, Poisson vs 8-week mean) "
          "| oracle (new's rule, true means) | bound (any rule, true means) |")
    print("|---|---|---|---|---|---|---|")
    for name, b, r in rows:
        print(f"| {name} | {r['n']:,} | {r['new']:.1%} | {r['before']:.1%} | {r['old']:.1%} | {r['oracle']:.1%} "
              f"| {'<= 1 %' if b is None else f'{b:.1%}'} |")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
