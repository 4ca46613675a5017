"""Is this week's count a spike? An overdispersion-aware baseline in the spirit of Farrington's method.

`expected()` fits a quasi-Poisson GLM (statsmodels; log link, dispersion from the Pearson chi-square) to a
series' past weekly counts, with a linear time trend (kept only when significant at `trend_p`, as Farrington
does) and, given `seasonal_weeks` of history, one yearly harmonic; it predicts the current week's mean and the
variance of a new count around it: dispersion x mean plus the prediction's own uncertainty. `spike_p()` is
the upper-tail probability of the observed count under the negative binomial with that mean and variance
(scipy.stats), Poisson when there is no overdispersion.

The counts are distinct ads, not posts: a shop reposting one ad forty times is one ad (storage/ads.py).

`old_spike_p()` is the method used before: a Poisson tail against the plain mean of the baseline weeks.

>>> e = expected(np.array([5, 6, 4, 5, 7, 5, 4, 6, 5, 5, 6, 4]))
>>> round(e.mean, 1), e.dispersion
(5.2, 1.0)
>>> spike_p(20, e) < 1e-4 < spike_p(8, e)
True
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import stats


@dataclass(frozen=True)
class Expected:
    mean: float  # predicted count of the current week
    variance: float  # of a new count: dispersion x mean + mean^2 x variance of the log prediction
    dispersion: float  # quasi-Poisson scale, at least 1
    trend: bool  # the trend term was kept
    weeks: int  # baseline weeks fitted


def expected(history: np.ndarray, *, trend_p: float = 0.05, seasonal_weeks: int = 104,
             period: float = 52.18) -> Expected:
    """The baseline of the week after `history` (weekly counts, oldest first)."""
    import statsmodels.api as sm

    y = np.asarray(history, dtype=float)
    n = len(y)
    if n == 0 or y.sum() == 0:
        return Expected(0.0, 0.0, 1.0, False, n)
    if np.ptp(y) == 0:  # a constant series: nothing to fit (statsmodels' IRLS starts from a zero deviance)
        return Expected(float(y[0]), float(y[0]) * (1 + 1 / n), 1.0, False, n)
    t = np.arange(n + 1, dtype=float)
    cols = [np.ones(n + 1)]
    if n >= seasonal_weeks:
        cols += [np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period)]
    base = np.column_stack(cols)
    with_trend = np.column_stack(cols + [t / 52.0]) if n >= 6 else None
    fit, x_new, kept = None, base[-1:], False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if with_trend is not None:
            f = sm.GLM(y, with_trend[:-1], family=sm.families.Poisson()).fit(scale="X2")
            if f.pvalues[-1] < trend_p:
                fit, x_new, kept = f, with_trend[-1:], True
        if fit is None:
            fit = sm.GLM(y, base[:-1], family=sm.families.Poisson()).fit(scale="X2")
    phi = max(1.0, float(fit.scale))
    xv = x_new[0]
    eta = float(xv @ np.asarray(fit.params))
    var_eta = float(xv @ np.asarray(fit.cov_params()) @ xv)
    mu = math.exp(min(eta, 50.0))
    return Expected(mu, phi * mu + mu * mu * var_eta, phi, kept, n)


def spike_p(x: int, e: Expected) -> float:
    """P(X >= x) for a count with the baseline's mean and variance (negative binomial; Poisson if not overdispersed)."""
    if x <= 0:
        return 1.0
    if e.mean <= 0:
        return 0.0
    if e.variance <= e.mean * (1 + 1e-9):
        return float(stats.poisson.sf(x - 1, e.mean))
    size = e.mean * e.mean / (e.variance - e.mean)
    return float(stats.nbinom.sf(x - 1, size, size / (size + e.mean)))


def old_spike_p(x: int, baseline: np.ndarray) -> float:
    """The former test: Poisson upper tail against the plain mean of the baseline weeks (at least 0.5)."""
    return float(stats.poisson.sf(x - 1, max(float(np.mean(baseline)), 0.5))) if x > 0 else 1.0
