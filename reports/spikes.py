"""Is this week's count a spike? An overdispersion-aware baseline in the spirit of Farrington's method.

`expected()` fits a quasi-Poisson GLM (statsmodels; log link, dispersion from the Pearson chi-square) to a
series' past weekly counts, with a linear time trend (kept only when significant at `trend_p`, as Farrington
does) and, given `seasonal_weeks` of history, one yearly harmonic; it predicts the current week's mean and the
variance of a new count around it: dispersion x mean plus the prediction's own uncertainty. `spike_p()` is
the upper-tail probability of the observed count under the negative binomial with that mean and variance
(scipy.stats), Poisson when there is no overdispersion. `assess()` and `assess_many()` judge a week (alone, and
with the week before) against the model fitted up to the week before last; `assess_many()` fits the models of
many series at once (numpy IRLS, equal to statsmodels' fit of each).

The counts are distinct ads, not posts: a shop reposting one ad forty times is one ad (storage/ads.py).

`old_spike_p()` is the method used before: a Poisson tail against the plain mean of the baseline weeks.

>>> e = expected(np.array([5, 6, 4, 5, 7, 5, 4, 6, 5, 5, 6, 4]))
>>> round(e.mean, 1), e.dispersion
(5.2, 1.0)
>>> spike_p(20, e) < 1e-4 < spike_p(8, e)
True
"""
from __future__ import annotations

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
             period: float = 52.18, ahead: int = 1, weeks: int = 1) -> Expected:
    """The baseline of the week after `history` (weekly counts, oldest first); with `ahead` > 1, of the week
    that many weeks after it, and with `weeks` > 1, of the sum of that many weeks ending there."""
    return _Model(history, trend_p, seasonal_weeks, period, ahead).predict(ahead, weeks)


class _Model:
    """The quasi-Poisson GLM of a history, able to predict the weeks up to `horizon` after it."""

    def __init__(self, history: np.ndarray, trend_p: float, seasonal_weeks: int, period: float, horizon: int):
        import statsmodels.api as sm

        y = self.y = np.asarray(history, dtype=float)
        n = self.n = len(y)
        self.fit = None
        if n == 0 or y.sum() == 0 or np.ptp(y) == 0:
            return  # nothing to fit (statsmodels' IRLS starts from a zero deviance on a constant series)
        t = np.arange(n + horizon, dtype=float)
        cols = [np.ones(n + horizon)]
        if n >= seasonal_weeks:
            cols += [np.sin(2 * np.pi * t / period), np.cos(2 * np.pi * t / period)]
        base = np.column_stack(cols)
        with_trend = np.column_stack(cols + [t / 52.0]) if n >= 6 else None
        self.x, self.trend = base, False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if with_trend is not None:
                f = sm.GLM(y, with_trend[:n], family=sm.families.Poisson()).fit(scale="X2")
                if f.pvalues[-1] < trend_p:
                    self.fit, self.x, self.trend = f, with_trend, True
            if self.fit is None:
                self.fit = sm.GLM(y, base[:n], family=sm.families.Poisson()).fit(scale="X2")

    def predict(self, ahead: int = 1, weeks: int = 1) -> Expected:
        """The count summed over `weeks` weeks, the last `ahead` weeks after the history."""
        y, n = self.y, self.n
        if self.fit is None:
            if n == 0 or y.sum() == 0:
                return Expected(0.0, 0.0, 1.0, False, n)
            return Expected(float(y[0]) * weeks, float(y[0]) * weeks * (1 + weeks / n), 1.0, False, n)
        phi = max(1.0, float(self.fit.scale))
        x_new = self.x[n + ahead - weeks:n + ahead]
        mus = np.exp(np.minimum(x_new @ np.asarray(self.fit.params), 50.0))
        mu = float(mus.sum())
        grad = mus @ x_new  # of the summed mean with respect to the coefficients (delta method)
        own = float(grad @ np.asarray(self.fit.cov_params()) @ grad)
        return Expected(mu, phi * mu + own, phi, self.trend, n)


@dataclass(frozen=True)
class Assessment:
    """A week's count against two baselines fitted to the weeks before the one before it (a guard week, so that
    a rise that began last week does not raise its own baseline): the week alone and the two weeks to it."""

    week: Expected
    window: Expected  # of the previous week plus this one
    p_week: float
    p_window: float


def assess(history: np.ndarray, x: int, *, elapsed: float = 1.0, trend_p: float = 0.05,
           seasonal_weeks: int = 103) -> Assessment:
    """The week after `history` (weekly counts, oldest first, the last one the previous week) with count `x`;
    `elapsed` < 1 for a week still running (its expectation pro rata). The yearly harmonic is fitted given
    `seasonal_weeks` before the guard week (two years of history less that week)."""
    y = np.asarray(history)
    if len(y) < 2:
        e = expected(y, trend_p=trend_p)
        e = _pro_rata(e, elapsed)
        return Assessment(e, e, spike_p(x, e), spike_p(x, e))
    return assess_many(y[None, :], [x], elapsed=[elapsed], trend_p=trend_p, seasonal_weeks=seasonal_weeks)[0]


def assess_many(histories: np.ndarray, xs, *, elapsed=None, trend_p: float = 0.05,
                seasonal_weeks: int = 103) -> list[Assessment]:
    """`assess()` of many weeks at once: `histories` (m series x n >= 2 weeks, one length), their counts `xs`.

    The quasi-Poisson GLMs of all m series are fitted together (numpy IRLS on stacked 2-4 column designs, the
    same model, start and scale as statsmodels' `GLM(...).fit(scale="X2")`, which `expected()` uses and the
    tests compare with): a digest over a year of weeks and many substances fits thousands of baselines."""
    y_all = np.asarray(histories, dtype=float)
    m, n_all = y_all.shape
    xs = np.asarray(xs, dtype=int)
    share = np.ones(m) if elapsed is None else np.asarray(elapsed, dtype=float)
    y = y_all[:, :-1]  # the guard week left out
    n = n_all - 1
    t = np.arange(n + 2, dtype=float)
    cols = [np.ones(n + 2)]
    if n >= seasonal_weeks:
        cols += [np.sin(2 * np.pi * t / 52.18), np.cos(2 * np.pi * t / 52.18)]
    base = np.column_stack(cols)
    fits = ~((y.sum(axis=1) == 0) | (np.ptp(y, axis=1) == 0))
    params = np.zeros((m, base.shape[1] + 1))
    cov = np.zeros((m, base.shape[1] + 1, base.shape[1] + 1))
    scale = np.ones(m)
    trend = np.zeros(m, dtype=bool)
    if fits.any():
        yf = y[fits]
        b0, c0, s0, ok = _poisson_irls(yf, base[:n])
        k = base.shape[1]
        pb, cb, sb = np.zeros((len(yf), k + 1)), np.zeros((len(yf), k + 1, k + 1)), s0
        pb[:, :k], cb[:, :k, :k] = b0, c0
        if n >= 6:
            with_trend = np.column_stack(cols + [t / 52.0])
            b1, c1, s1, ok1 = _poisson_irls(yf, with_trend[:n])
            z = np.abs(b1[:, -1]) / np.sqrt(np.maximum(c1[:, -1, -1], 1e-300))
            keep = ok1 & (2 * stats.norm.sf(z) < trend_p)
            ok |= keep
            pb[keep], cb[keep], sb = b1[keep], c1[keep], np.where(keep, s1, s0)
            trend[np.flatnonzero(fits)[keep]] = True
        params[fits], cov[fits], scale[fits] = pb, cb, sb
        fits[np.flatnonzero(fits)[~ok]] = False  # no finite fit: the constant baseline, as for a flat series
    design = np.column_stack(cols + [t / 52.0])  # the trend column's coefficient is 0 where it was dropped
    out = []
    for i in range(m):
        if fits[i]:
            prev = _predict(design, params[i], cov[i], scale[i], trend[i], n, 1, 1)
            week = _predict(design, params[i], cov[i], scale[i], trend[i], n, 2, 1)
            window = _predict(design, params[i], cov[i], scale[i], trend[i], n, 2, 2)
        else:
            prev, week, window = (_constant(y[i], n, w) for w in (1, 1, 2))
        week = _pro_rata(week, share[i])
        if share[i] < 1.0:  # the running week's part of the window pro rata (their covariance left out)
            window = Expected(prev.mean + week.mean, prev.variance + week.variance, window.dispersion,
                              window.trend, window.weeks)
        out.append(Assessment(week, window, spike_p(int(xs[i]), week), spike_p(int(y_all[i, -1]) + int(xs[i]),
                                                                                 window)))
    return out


def _poisson_irls(y: np.ndarray, x: np.ndarray, iterations: int = 100, tol: float = 1e-8):
    """Poisson GLMs (log link) of each row of `y` on the design `x`: (coefficients, covariance with the Pearson
    chi-square scale, that scale, which rows gave finite results), as statsmodels fits them (start mu = (y +
    mean y) / 2, fitted means clipped at machine epsilon, IRLS until the deviance changes by less than `tol`)."""
    eps = np.finfo(float).eps
    mu = (y + y.mean(axis=1, keepdims=True)) / 2
    eta = np.log(mu)
    dev = np.full(len(y), np.inf)
    beta = np.zeros((len(y), x.shape[1]))
    with np.errstate(all="ignore"):
        for _ in range(iterations):
            z = eta + (y - mu) / mu
            xtw = x.T[None, :, :] * mu[:, None, :]
            # a series of zeros but for its last weeks drives the trend towards infinity: pinv, as statsmodels
            beta = np.einsum("mkj,mj->mk", _pinv(xtw @ x), np.einsum("mkn,mn->mk", xtw, z))
            eta = np.minimum(beta @ x.T, 50.0)
            mu = np.maximum(np.exp(eta), eps)
            new = 2 * np.sum(np.where(y > 0, y * np.log(y / mu), 0.0) - (y - mu), axis=1)
            done = ~np.isfinite(new) | (np.abs(new - dev) <= tol * (np.abs(new) + tol))
            dev = new
            if done.all():
                break
        scale = np.sum((y - mu) ** 2 / mu, axis=1) / (y.shape[1] - x.shape[1])
        xtw = x.T[None, :, :] * mu[:, None, :]
        cov = _pinv(xtw @ x) * scale[:, None, None]
    ok = np.isfinite(beta).all(axis=1) & np.isfinite(cov).all(axis=(1, 2)) & np.isfinite(scale)
    return np.where(ok[:, None], beta, 0.0), np.where(ok[:, None, None], cov, 0.0), np.where(ok, scale, 1.0), ok


def _pinv(a: np.ndarray) -> np.ndarray:
    """Pseudo-inverses of a stack of matrices; NaN for a matrix that is not finite."""
    out = np.full_like(a, np.nan)
    good = np.isfinite(a).all(axis=(1, 2))
    if good.any():
        out[good] = np.linalg.pinv(a[good])
    return out


def _predict(design, params, cov, scale, trend: bool, n: int, ahead: int, weeks: int) -> Expected:
    x_new = design[n + ahead - weeks:n + ahead] if trend else design[n + ahead - weeks:n + ahead, :-1]
    b = params if trend else params[:-1]
    c = cov if trend else cov[:-1, :-1]
    mus = np.exp(np.minimum(x_new @ b, 50.0))
    mu = float(mus.sum())
    grad = mus @ x_new
    return Expected(mu, max(1.0, float(scale)) * mu + float(grad @ c @ grad), max(1.0, float(scale)), bool(trend), n)


def _constant(y: np.ndarray, n: int, weeks: int) -> Expected:
    if n == 0 or y.sum() == 0:
        return Expected(0.0, 0.0, 1.0, False, n)
    return Expected(float(y[0]) * weeks, float(y[0]) * weeks * (1 + weeks / n), 1.0, False, n)


def _pro_rata(e: Expected, share: float) -> Expected:
    # at least half a post a week: a substance never seen before is not infinitely surprising
    return Expected(max(e.mean, 0.5) * share, max(e.variance, 0.5) * share, e.dispersion, e.trend, e.weeks)


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
