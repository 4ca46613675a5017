"""Spike detection on generated series: false alarms on null series and planted rises found within 2 weeks,
for the baseline of reports/spikes.py (distinct ads) and the former method (Poisson on posts), the figures
in README "Signals".

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
    from npswatch.reports.synthetic import spike_trial

    ap = argparse.ArgumentParser()
    ap.add_argument("--series", type=int, default=300)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    t0 = time.perf_counter()
    rows = [("null (alarms per series-week)", spike_trial(np.random.default_rng(args.seed), series=args.series,
                                                           rise=None, weeks=10, **PARAMS))]
    for k in (3.0, 2.0):
        rows.append((f"{k:g}x rise (found within 2 weeks)",
                     spike_trial(np.random.default_rng(args.seed + int(k)), series=args.series, rise=k, **PARAMS)))
    print("| series | n | new (distinct ads, GLM) | old (posts, Poisson) | oracle (true mean) |")
    print("|---|---|---|---|---|")
    for name, r in rows:
        print(f"| {name} | {r['n']} | {r['new']:.1%} | {r['old']:.1%} | {r['oracle']:.1%} |")
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
