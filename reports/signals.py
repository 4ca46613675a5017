"""Early-warning signals computed from storage, each with its evidence.

Kinds (thresholds are `Thresholds` fields, set in the `[signals]` section of the configuration):

- `new_substance`: a substance (a lexicon entry or an unconfirmed candidate name) whose first mention
  anywhere falls in the window, named in at least `new_min_posts` posts. Dismissed candidates never count.
- `new_in_region`: a substance known before the window, first mentioned in a country (or, in a country
  where it was known, in a city) inside the window, in at least `new_min_posts` posts.
  Both "new" kinds need `min_history_days` of stored history before the window: on a fresh database
  everything would be new.
- `spike`: a substance's distinct ads (reposts of one ad count once) in a calendar week against the baseline
  of reports/spikes.py: a quasi-Poisson GLM with a trend (and a yearly harmonic given two years) fitted to up
  to `spike_history_weeks` weeks before (at least `spike_min_baseline_weeks` since its first mention). A spike
  needs all three of: at least `spike_min_mentions` distinct ads, at least `spike_ratio` times the expected
  count, and a negative-binomial upper-tail p-value below `spike_p` for the week alone or below
  `spike_window_p` for the sum of the week and the one before (a rise too small to show in one week shows in
  two: the two-week tail, as a CUSUM accumulates). The defaults spend about 0.7 of the budget of 1 false alarm
  per 100 series-weeks on generated series (benchmarks/bench_spikes.py). The week still running is compared
  with the share of the expected count elapsed.
- `price_shift`: per substance x region x currency, the median price per gram of the `price_window_weeks`
  weeks ending with an evaluated week against the median of the `price_baseline_weeks` before them; a shift
  is a relative change of at least `price_shift` with at least `price_min_offers` offers on each side and a
  Mann-Whitney rank test p-value below `price_p` (street prices are dispersed: on a noisy series a median
  can move by a quarter by chance).
  A shift is reported once: the same series and direction is not reported again while its recent window
  overlaps the one of the signal already stored.
- `sales`: units gone from listings that show stock, summed over drops between consecutive crawls
  (restocks are ignored; a listing that disappears is not counted as sold out), per substance x region.

Evidence of every signal: first and last seen, posts, distinct ads (reposts of one ad count once: storage/ads.py)
and sources, cities and countries, up to `examples`
snippets of the (already pseudonymised) post texts around the matched name, shortened to `snippet_chars`,
their links, and the median price per gram in the scope.

>>> round(poisson_sf(10, 2.0), 6)
4.6e-05
>>> round(mann_whitney_p([10, 11, 12, 13, 14], [1, 2, 3, 4, 5]), 4), mann_whitney_p([1, 2], [1, 2])
(0.0122, 1.0)
>>> snippet("a" * 50 + " меф 1г 4500 " + "b" * 50, "меф", 30)
'…aaaaaaaaaaaaa меф 1г 4500 bbbb…'
"""
from __future__ import annotations

import statistics
from bisect import bisect_left
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass, field, fields
from datetime import date, datetime, timedelta, timezone

import numpy as np
from scipy import stats
from sqlalchemy import Engine, and_, func, inspect, select

from npswatch.storage import models as m
from npswatch.storage.writer import upsert

from .spikes import assess, assess_many
from .scope import as_date, as_datetime, period_start, period_sql, utc
from npswatch.storage.tables import T_CANDIDATE, T_MENTION, T_OFFER, T_POST, T_REGION, T_SIGNAL, T_SOURCE, T_SUBSTANCE


KINDS = ("new_substance", "new_in_region", "spike", "price_shift", "sales")
KIND_TITLES = {
    "new_substance": "New substances",
    "new_in_region": "Known substances in new places",
    "spike": "Mention spikes",
    "price_shift": "Price shifts",
    "sales": "Estimated sales from stock drops",
}
WEEK = timedelta(days=7)


@dataclass(frozen=True)
class Thresholds:
    min_history_days: int = 28
    new_min_posts: int = 2
    baseline_weeks: int = 8
    spike_min_baseline_weeks: int = 4
    spike_min_mentions: int = 5  # distinct ads in the week
    spike_ratio: float = 1.5
    spike_p: float = 0.002  # the week alone; with spike_window_p ~0.7 false alarms per 100 series-weeks
    spike_window_p: float = 0.003  # the week with the one before it (a rise over two weeks)
    spike_history_weeks: int = 104
    spike_trend_p: float = 0.05
    price_window_weeks: int = 4
    price_baseline_weeks: int = 12
    price_shift: float = 0.25
    price_p: float = 0.001
    price_min_offers: int = 8
    sales_min_units: int = 1
    examples: int = 3
    snippet_chars: int = 160

    @classmethod
    def from_mapping(cls, values: dict) -> "Thresholds":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in names})


@dataclass
class Signal:
    key: str  # stable: detecting the same thing again updates the stored row
    kind: str
    substance_id: int | None
    substance: str
    cls: str
    title: str
    region_id: int | None = None
    countries: list[str] = field(default_factory=list)
    period_start: datetime | None = None
    period_end: datetime | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    value: float | None = None
    baseline: float | None = None
    score: float | None = None
    posts: int = 0
    sources: int = 0
    evidence: dict = field(default_factory=dict)
    id: int | None = None  # set once recorded

    def to_dict(self) -> dict:
        d = asdict(self)
        for k in ("period_start", "period_end", "first_seen", "last_seen"):
            d[k] = d[k].isoformat() if d[k] else None
        d["class"] = d.pop("cls")
        return d


# --- small pure helpers -----------------------------------------------------------------------------------
def poisson_sf(x: int, lam: float) -> float:
    """P(X >= x) for X ~ Poisson(lam): the chance of at least x posts when lam are expected (scipy.stats)."""
    return float(stats.poisson.sf(x - 1, max(lam, 1e-9))) if x > 0 else 1.0


def mann_whitney_p(a: list[float], b: list[float]) -> float:
    """Two-sided p-value of the Mann-Whitney U test (scipy.stats; normal approximation with tie correction and
    continuity correction): are the values of `a` shifted against those of `b`? Rank-based, so a few extreme
    prices do not decide it."""
    if not a or not b or len(set(a) | set(b)) < 2:
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").pvalue)


def snippet(text: str | None, matched: str | None, width: int) -> str:
    """`width` characters of `text` centred on `matched` (case-insensitive), with … where cut."""
    if not text:
        return "(text removed by retention)"
    text = " ".join(text.split())
    if len(text) <= width:
        return text
    at = text.casefold().find(matched.casefold()) if matched else -1
    centre = at + len(matched) // 2 if at >= 0 else 0
    start = max(0, min(centre - width // 2, len(text) - width))
    out = text[start:start + width].strip()
    return ("…" if start > 0 else "") + out + ("…" if start + width < len(text) else "")


def _weeks(since: datetime, until: datetime) -> list[datetime]:
    """Calendar weeks (their Monday, UTC) that overlap [since, until)."""
    w = utc(period_start(since.date(), "week"))
    out = []
    while w < until:
        if w + WEEK > since:
            out.append(w)
        w += WEEK
    return out


def _median(values: list[float]) -> float:
    return statistics.median(values)


# --- detection ------------------------------------------------------------------------------------------
class Detector:
    """Reads storage once per call of `detect()`; one instance per command."""

    def __init__(self, engine: Engine, thresholds: Thresholds = Thresholds()) -> None:
        self.engine = engine
        self.t = thresholds

    def detect(self, since: datetime, until: datetime | None = None, kinds=KINDS) -> list[Signal]:
        since = utc(since)
        until = utc(until or datetime.now(timezone.utc))
        with self.engine.connect() as c:
            self.c = c
            self._load_names()
            out: list[Signal] = []
            history_ok = self._history_before(since)
            if "new_substance" in kinds and history_ok:
                out += self._new_substances(since, until)
            if "new_in_region" in kinds and history_ok:
                out += self._new_in_region(since, until)
            if "spike" in kinds:
                out += self._spikes(since, until)
            if "price_shift" in kinds:
                out += self._price_shifts(since, until)
            if "sales" in kinds:
                out += self._sales(since, until)
            del self.c
        order = {k: i for i, k in enumerate(KINDS)}
        out.sort(key=lambda s: (order[s.kind], s.cls, s.substance, s.key))
        return out

    # names and lookups ---------------------------------------------------------------------------------
    def _load_names(self) -> None:
        c = self.c
        self.substances = {i: (key, canonical or key, cls) for i, key, canonical, cls in c.execute(
            select(T_SUBSTANCE.c.id, T_SUBSTANCE.c.key, T_SUBSTANCE.c.canonical, T_SUBSTANCE.c["class"]))}
        self.regions = {i: (key, level, name, cc) for i, key, level, name, cc in c.execute(
            select(T_REGION.c.id, T_REGION.c.key, T_REGION.c.level, T_REGION.c.name, T_REGION.c.country))}
        self.dismissed = set(c.execute(select(T_CANDIDATE.c.key).where(T_CANDIDATE.c.status == "dismissed")).scalars())

    def _is_dismissed(self, substance_id: int) -> bool:
        key = self.substances[substance_id][0]
        return key.startswith("candidate:") and key.removeprefix("candidate:") in self.dismissed

    def _history_before(self, since: datetime) -> bool:
        first = as_datetime(self.c.execute(select(func.min(T_MENTION.c.observed_at))).scalar())
        return first is not None and first <= since - timedelta(days=self.t.min_history_days)

    def _signal(self, kind: str, key: str, substance_id: int, title: str, **kw) -> Signal:
        skey, name, cls = self.substances[substance_id]
        return Signal(key=f"{kind}|{skey}|{key}", kind=kind, substance_id=substance_id, substance=name, cls=cls,
                      title=title, **kw)

    def _region_label(self, region_id: int) -> str:
        _, level, name, cc = self.regions[region_id]
        return f"{name} ({cc})" if level == "city" else cc

    # new substance ---------------------------------------------------------------------------------------
    def _new_substances(self, since: datetime, until: datetime) -> list[Signal]:
        Me = T_MENTION
        q = (select(Me.c.substance_id, func.min(Me.c.observed_at))
             .where(Me.c.observed_at.is_not(None)).group_by(Me.c.substance_id))
        out = []
        for sid, first in self.c.execute(q):
            first = as_datetime(first)
            if not (since <= first < until) or self._is_dismissed(sid):
                continue
            ev = self._evidence(sid, None, first, until, earliest_first=True)
            if ev["posts"] < self.t.new_min_posts:
                continue
            key, name, _ = self.substances[sid]
            what = "new name, not in the lexicon" if key.startswith("candidate:") else "first mention of"
            where = ", ".join(ev["cities"][:3] or ev["countries"][:3]) or "no region named"
            s = self._signal("new_substance", "", sid, f"{name}: {what} ({where})", first_seen=first,
                             period_start=since, period_end=until, value=ev["posts"])
            self._attach(s, ev)
            s.evidence["candidate"] = key.startswith("candidate:")
            out.append(s)
        return out

    # new in region ----------------------------------------------------------------------------------------
    def _new_in_region(self, since: datetime, until: datetime) -> list[Signal]:
        Me = T_MENTION
        q = (select(Me.c.substance_id, Me.c.region_id, func.min(Me.c.observed_at))
             .where(Me.c.observed_at.is_not(None), Me.c.region_id.is_not(None))
             .group_by(Me.c.substance_id, Me.c.region_id))
        first_any: dict[int, datetime] = {}
        first_country: dict[tuple[int, str], datetime] = {}
        first_region: dict[tuple[int, int], datetime] = {}
        for sid, rid, first in self.c.execute(q):
            first = as_datetime(first)
            cc = self.regions[rid][3]
            first_region[(sid, rid)] = first
            first_country[(sid, cc)] = min(first, first_country.get((sid, cc), first))
        for sid, first in self.c.execute(select(Me.c.substance_id, func.min(Me.c.observed_at))
                                         .where(Me.c.observed_at.is_not(None)).group_by(Me.c.substance_id)):
            first_any[sid] = as_datetime(first)
        out = []
        new_countries = set()
        for (sid, cc), first in sorted(first_country.items(), key=lambda kv: (kv[0][0], kv[0][1])):
            if not (since <= first < until) or first_any[sid] >= since or self._is_dismissed(sid):
                continue
            rids = [rid for (s2, rid) in first_region if s2 == sid and self.regions[rid][3] == cc]
            ev = self._evidence(sid, rids, first, until, earliest_first=True)
            if ev["posts"] < self.t.new_min_posts:
                continue
            new_countries.add((sid, cc))
            name = self.substances[sid][1]
            where = ", ".join(ev["cities"][:3]) or cc
            s = self._signal("new_in_region", f"country:{cc}", sid, f"{name}: first seen in {cc} ({where})",
                             first_seen=first, period_start=since, period_end=until, value=ev["posts"])
            self._attach(s, ev)
            out.append(s)
        for (sid, rid), first in sorted(first_region.items()):
            _, level, _, cc = self.regions[rid]
            if (level != "city" or not (since <= first < until) or first_any[sid] >= since
                    or (sid, cc) in new_countries or self._is_dismissed(sid)):
                continue
            ev = self._evidence(sid, [rid], first, until, earliest_first=True)
            if ev["posts"] < self.t.new_min_posts:
                continue
            name = self.substances[sid][1]
            s = self._signal("new_in_region", self.regions[rid][0], sid,
                             f"{name}: first seen in {self._region_label(rid)}", region_id=rid, first_seen=first,
                             period_start=since, period_end=until, value=ev["posts"])
            self._attach(s, ev)
            out.append(s)
        return out

    # spikes ------------------------------------------------------------------------------------------------
    def _spikes(self, since: datetime, until: datetime) -> list[Signal]:
        t = self.t
        weeks = _weeks(since, until)
        if not weeks:
            return []
        Me, P = T_MENTION, T_POST
        start = weeks[0] - WEEK * t.spike_history_weeks
        wk = period_sql(Me.c.observed_at, self.engine.dialect.name, "week")
        # distinct ads per week: reposts of one ad are one ad (a post with no ad is its own)
        q = (select(Me.c.substance_id, wk, func.count(func.distinct(func.coalesce(P.c.ad_id, -P.c.id))),
                    func.count(func.distinct(Me.c.post_id)))
             .select_from(Me.join(P, P.c.id == Me.c.post_id))
             .where(Me.c.observed_at >= start, Me.c.observed_at < until).group_by(Me.c.substance_id, wk))
        counts: dict[int, dict[date, int]] = defaultdict(dict)
        posts: dict[int, dict[date, int]] = defaultdict(dict)
        for sid, w, n, n_posts in self.c.execute(q):
            counts[sid][as_date(w)] = n
            posts[sid][as_date(w)] = n_posts
        firsts = {sid: as_datetime(f) for sid, f in self.c.execute(
            select(Me.c.substance_id, func.min(Me.c.observed_at)).where(Me.c.observed_at.is_not(None))
            .group_by(Me.c.substance_id))}
        todo: dict[int, list[tuple[int, datetime, int, list[datetime], list[int], float]]] = defaultdict(list)
        for sid, per_week in counts.items():
            if self._is_dismissed(sid):
                continue
            first_week = utc(period_start(firsts[sid].date(), "week"))
            for w in weeks:
                x = per_week.get(w.date(), 0)
                if x < t.spike_min_mentions:
                    continue
                base_weeks = [w - WEEK * i for i in range(t.spike_history_weeks, 0, -1) if w - WEEK * i >= first_week]
                if len(base_weeks) < t.spike_min_baseline_weeks:
                    continue
                base = [per_week.get(b.date(), 0) for b in base_weeks]
                elapsed = min(1.0, (until - w) / WEEK)  # the running week is compared pro rata
                todo[len(base)].append((sid, w, x, base_weeks, base, elapsed))
        out = []
        for length, cases in sorted(todo.items()):  # the baselines of one history length are fitted together
            if length < 2:
                found = [assess(np.array(c[4]), c[2], elapsed=c[5], trend_p=t.spike_trend_p) for c in cases]
            else:
                found = assess_many(np.array([c[4] for c in cases]), [c[2] for c in cases],
                                    elapsed=[c[5] for c in cases], trend_p=t.spike_trend_p)
            for (sid, w, x, base_weeks, base, _), a in zip(cases, found):
                s = self._spike(sid, w, x, base_weeks, base, a, until, posts[sid], counts[sid], firsts[sid])
                if s is not None:
                    out.append(s)
        out.sort(key=lambda s: (s.substance_id, s.period_start))
        return out

    def _spike(self, sid: int, w: datetime, x: int, base_weeks: list[datetime], base: list[int], a, until: datetime,
               posts: dict[date, int], per_week: dict[date, int], first: datetime) -> Signal | None:
        t = self.t
        e, prev = a.week, base[-1]
        by_week = x >= t.spike_ratio * e.mean and a.p_week < t.spike_p
        by_window = (x >= e.mean and prev + x >= t.spike_ratio * a.window.mean
                     and a.p_window < t.spike_window_p)
        if not (by_week or by_window):
            return None
        p = a.p_week if by_week else a.p_window
        name = self.substances[sid][1]
        end = min(w + WEEK, until)
        ev = self._evidence(sid, None, w, end)
        shown = base_weeks[-t.baseline_weeks:]
        ev["series"] = {"label": "distinct ads per week",
                        "x": [b.date().isoformat() for b in shown] + [w.date().isoformat()],
                        "y": [per_week.get(b.date(), 0) for b in shown] + [x]}
        ev["model"] = {"expected": e.mean, "dispersion": e.dispersion, "trend": e.trend,
                       "weeks": e.weeks, "posts": posts.get(w.date(), 0),
                       "window_expected": a.window.mean, "p_week": a.p_week, "p_window": a.p_window}
        title = (f"{name}: {x} distinct ads in the week of {w:%Y-%m-%d}, {x / max(e.mean, 1e-9):.1f}x "
                 f"the {e.mean:.1f} expected from {e.weeks} weeks")
        if not by_week:
            title += (f" ({prev + x} with the week before, {(prev + x) / max(a.window.mean, 1e-9):.1f}x "
                      f"the {a.window.mean:.1f} expected)")
        s = self._signal("spike", w.date().isoformat(), sid, title, period_start=w, period_end=end,
                         value=x, baseline=e.mean, score=p, first_seen=first)
        self._attach(s, ev)
        s.first_seen = first
        return s

    # price shifts ------------------------------------------------------------------------------------------
    def _price_shifts(self, since: datetime, until: datetime) -> list[Signal]:
        t = self.t
        weeks = _weeks(since, until)
        if not weeks:
            return []
        O = T_OFFER
        start = weeks[0] + WEEK - WEEK * (t.price_window_weeks + t.price_baseline_weeks)
        q = (select(O.c.substance_id, O.c.region_id, O.c.currency, O.c.observed_at, O.c.price_per_gram)
             .where(O.c.observed_at >= start, O.c.observed_at < until, O.c.price_per_gram.is_not(None),
                    O.c.currency.is_not(None)))
        series: dict[tuple, list[tuple[datetime, float]]] = defaultdict(list)
        for sid, rid, cur, at, ppg in self.c.execute(q.order_by(O.c.observed_at)):
            series[(sid, rid, cur)].append((at, ppg))
        # times stay as the driver returns them (naive UTC on SQLite); the week bounds are put in their terms
        naive = any(at.tzinfo is None for obs in list(series.values())[:1] for at, _ in obs[:1])

        def bound(d: datetime) -> datetime:
            return d.astimezone(timezone.utc).replace(tzinfo=None) if naive else d

        stored = self._stored_shifts(weeks[0] - WEEK * (t.price_window_weeks - 1))
        out = []
        for (sid, rid, cur), obs in sorted(series.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0, kv[0][2])):
            if self._is_dismissed(sid):
                continue
            reported: set[str] = set()
            times, values = [at for at, _ in obs], [v for _, v in obs]
            for w in weeks:
                end = min(w + WEEK, until)
                recent_start = w + WEEK - WEEK * t.price_window_weeks
                base_start = recent_start - WEEK * t.price_baseline_weeks
                i0, i1, i2 = (bisect_left(times, bound(at)) for at in (base_start, recent_start, end))
                recent, base = values[i1:i2], values[i0:i1]  # offers are sorted by time: slices, not scans
                if len(recent) < t.price_min_offers or len(base) < t.price_min_offers:
                    continue
                med_r, med_b = _median(recent), _median(base)
                if med_b <= 0:
                    continue
                change = med_r / med_b - 1
                if abs(change) < t.price_shift:
                    continue
                p_value = mann_whitney_p(recent, base)
                if p_value >= t.price_p:  # street prices are dispersed: a big move of a noisy median is not a shift
                    continue
                direction = "up" if change > 0 else "down"
                series_key = f"{self.regions[rid][0] if rid else 'none'}|{cur}|{direction}"
                skey = f"price_shift|{self.substances[sid][0]}|{series_key}|"
                if direction in reported or any(k.startswith(skey) and k != skey + w.date().isoformat()
                                                for k in stored):
                    continue
                reported.add(direction)
                name = self.substances[sid][1]
                where = self._region_label(rid) if rid else "no region named"
                ev = self._evidence(sid, [rid] if rid else None, recent_start, end, region_null=rid is None)
                ev["price"] = {**(ev["price"] or {}), "median": med_r, "baseline_median": med_b, "currency": cur,
                               "offers": len(recent), "baseline_offers": len(base)}
                ev["series"] = self._weekly_medians(obs, bound(base_start), bound(end), cur)
                s = self._signal(
                    "price_shift", f"{series_key}|{w.date().isoformat()}", sid,
                    f"{name} in {where}: median {med_r:,.0f} {cur}/g, {change:+.0%} against {med_b:,.0f} "
                    f"over the {t.price_baseline_weeks} weeks before",
                    region_id=rid, period_start=recent_start, period_end=end, value=med_r, baseline=med_b,
                    score=change, first_seen=self._first_seen(sid, rid))
                ev["price"]["p_value"] = p_value
                self._attach(s, ev)
                out.append(s)
        return out

    def _first_seen(self, substance_id: int, region_id: int | None) -> datetime | None:
        Me = T_MENTION
        q = select(func.min(Me.c.observed_at)).where(
            Me.c.substance_id == substance_id,
            Me.c.region_id == region_id if region_id is not None else Me.c.region_id.is_(None))
        return as_datetime(self.c.execute(q).scalar())

    def _stored_shifts(self, after: datetime) -> set[str]:
        S = T_SIGNAL
        q = select(S.c.key).where(S.c.kind == "price_shift", S.c.period_end > after)
        return set(self.c.execute(q).scalars())

    @staticmethod
    def _weekly_medians(obs, start: datetime, end: datetime, currency: str) -> dict:
        by_week: dict[date, list[float]] = defaultdict(list)
        for at, v in obs:
            if start <= at < end:
                by_week[period_start(at.date(), "week")].append(v)
        xs = sorted(by_week)
        return {"label": f"median price per gram ({currency})", "x": [x.isoformat() for x in xs],
                "y": [round(_median(by_week[x]), 2) for x in xs]}

    # sales from stock drops ---------------------------------------------------------------------------------
    def _sales(self, since: datetime, until: datetime) -> list[Signal]:
        obs = load_stock_observations(self.c, since, until)
        if not obs:
            return []
        per_post = estimate_sales(obs)
        if not per_post:
            return []
        O = T_OFFER
        facts: dict[int, tuple[int, int | None, str | None, float | None]] = {}
        ids = list(per_post)
        for i in range(0, len(ids), 500):
            q = (select(O.c.post_id, O.c.substance_id, O.c.region_id, O.c.currency, O.c.price)
                 .where(O.c.post_id.in_(ids[i:i + 500])).order_by(O.c.post_id, O.c.id))
            for pid, sid, rid, cur, price in self.c.execute(q):
                facts.setdefault(pid, (sid, rid, cur, price))  # the listing's first offer
        cells: dict[tuple[int, int | None], dict] = {}
        for pid, est in per_post.items():
            if pid not in facts:
                continue
            sid, rid, cur, price = facts[pid]
            cell = cells.setdefault((sid, rid), {"units": 0, "listings": 0, "revenue": Counter(), "posts": []})
            cell["units"] += est.units
            cell["listings"] += 1
            cell["posts"].append(pid)
            if price is not None and cur:
                cell["revenue"][cur] += est.units * price
        out = []
        for (sid, rid), cell in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
            if cell["units"] < self.t.sales_min_units or self._is_dismissed(sid):
                continue
            name = self.substances[sid][1]
            where = self._region_label(rid) if rid else "no region named"
            ev = self._evidence(sid, None, since, until, post_ids=cell["posts"])
            ev["sales"] = {"units": cell["units"], "listings": cell["listings"],
                           "revenue": dict(cell["revenue"])}
            revenue = ", ".join(f"{v:,.0f} {k}" for k, v in sorted(cell["revenue"].items()))
            s = self._signal("sales", f"{self.regions[rid][0] if rid else 'none'}|{since.date()}|{until.date()}",
                             sid, f"{name} in {where}: about {cell['units']} units sold from {cell['listings']} "
                             f"listings" + (f" (~{revenue})" if revenue else ""),
                             region_id=rid, period_start=since, period_end=until, value=cell["units"])
            self._attach(s, ev)
            out.append(s)
        return out

    # evidence ----------------------------------------------------------------------------------------------
    def _evidence(self, substance_id: int, region_ids: list[int] | None, start: datetime, end: datetime, *,
                  earliest_first: bool = False, region_null: bool = False, post_ids: list[int] | None = None) -> dict:
        Me, P, S, R = T_MENTION, T_POST, T_SOURCE, T_REGION
        conds = [Me.c.substance_id == substance_id]
        if post_ids is not None:
            conds.append(Me.c.post_id.in_(post_ids[:5000]))
        else:
            conds += [Me.c.observed_at >= start, Me.c.observed_at < end]
        if region_ids:
            conds.append(Me.c.region_id.in_(region_ids))
        elif region_null:
            conds.append(Me.c.region_id.is_(None))
        cond = and_(*conds)
        c = self.c
        posts, ads, sources, first, last = c.execute(
            select(func.count(func.distinct(Me.c.post_id)),
                   func.count(func.distinct(func.coalesce(P.c.ad_id, -P.c.id))),
                   func.count(func.distinct(P.c.source_id)),
                   func.min(Me.c.observed_at), func.max(Me.c.observed_at))
            .select_from(Me.join(P, P.c.id == Me.c.post_id)).where(cond)).one()
        places = c.execute(
            select(R.c.level, R.c.name, R.c.country, func.count(func.distinct(Me.c.post_id)).label("n"))
            .select_from(Me.join(R, R.c.id == Me.c.region_id)).where(cond)
            .group_by(R.c.level, R.c.name, R.c.country).order_by(func.count(func.distinct(Me.c.post_id)).desc(),
                                                                  R.c.name)).all()
        cities = [f"{name} ({cc})" for level, name, cc, _ in places if level == "city"]
        countries = sorted({cc for _, _, cc, _ in places})
        order = Me.c.observed_at.asc() if earliest_first else Me.c.observed_at.desc()
        rows = c.execute(
            select(Me.c.post_id, Me.c.matched, Me.c.observed_at, P.c.text, P.c.url, S.c.key, S.c.kind)
            .select_from(Me.join(P, P.c.id == Me.c.post_id).join(S, S.c.id == P.c.source_id))
            .where(cond).order_by(order, Me.c.post_id).limit(self.t.examples * 4)).all()
        examples, seen = [], set()
        for pid, matched, at, text, url, source, kind in rows:
            if pid in seen:
                continue
            seen.add(pid)
            examples.append({"post_id": pid, "observed_at": as_datetime(at).isoformat() if at else None,
                             "source": source, "source_kind": kind, "url": url,
                             "text": snippet(text, matched, self.t.snippet_chars)})
            if len(examples) >= self.t.examples:
                break
        O = T_OFFER
        oconds = [O.c.substance_id == substance_id, O.c.price_per_gram.is_not(None)]
        if post_ids is not None:
            oconds.append(O.c.post_id.in_(post_ids[:5000]))
        else:
            oconds += [O.c.observed_at >= start, O.c.observed_at < end]
        if region_ids:
            oconds.append(O.c.region_id.in_(region_ids))
        prices = c.execute(select(O.c.currency, O.c.price_per_gram, O.c.price_per_gram_usd).where(*oconds)).all()
        price = None
        if prices:
            by_cur = Counter(cur for cur, _, _ in prices)
            cur = min(by_cur, key=lambda k: (-by_cur[k], k or ""))
            local = [v for cc, v, _ in prices if cc == cur]
            usd = [u for _, _, u in prices if u is not None]
            price = {"median": _median(local), "currency": cur, "offers": len(local),
                     "usd_median": _median(usd) if usd else None}
        return {"posts": posts, "ads": ads, "sources": sources, "first_seen": as_datetime(first), "last_seen": as_datetime(last),
                "cities": cities, "countries": countries, "examples": examples,
                "links": [e["url"] for e in examples if e["url"]], "price": price}

    @staticmethod
    def _attach(s: Signal, ev: dict) -> None:
        s.posts, s.sources = ev["posts"], ev["sources"]
        s.first_seen = s.first_seen or ev["first_seen"]
        s.last_seen = ev["last_seen"]
        s.countries = ev["countries"]
        s.evidence = {k: v for k, v in ev.items() if k not in ("posts", "sources", "first_seen", "last_seen")}


# --- stock drops -------------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class StockObservation:
    post_id: int
    observed_at: datetime
    stock: int | None


@dataclass(frozen=True, slots=True)
class SalesEstimate:
    units: int  # units gone, summed over drops between consecutive observations
    drops: int  # number of crawls that saw a drop
    restocks: int  # number of crawls that saw an increase (not counted as sales)


def estimate_sales(observations) -> dict[int, SalesEstimate]:
    """Per listing (post id) the units gone between consecutive crawls that both show a stock count.

    >>> at = lambda d: datetime(2026, 3, d, tzinfo=timezone.utc)
    >>> obs = [StockObservation(1, at(1), 10), StockObservation(1, at(2), 7), StockObservation(1, at(3), 12),
    ...        StockObservation(1, at(4), None), StockObservation(1, at(5), 9), StockObservation(2, at(1), 5)]
    >>> estimate_sales(obs)
    {1: SalesEstimate(units=6, drops=2, restocks=1)}
    """
    by_post: dict[int, list[StockObservation]] = defaultdict(list)
    for o in observations:
        if o.stock is not None:
            by_post[o.post_id].append(o)
    out = {}
    for pid, obs in by_post.items():
        obs.sort(key=lambda o: o.observed_at)
        units = drops = restocks = 0
        for a, b in zip(obs, obs[1:]):
            if b.stock < a.stock:
                units += a.stock - b.stock
                drops += 1
            elif b.stock > a.stock:
                restocks += 1
        if drops:
            out[pid] = SalesEstimate(units, drops, restocks)
    return out


def load_stock_observations(conn, since: datetime, until: datetime) -> list[StockObservation]:
    """Stock counts per listing and crawl from `listing_observation` (web collection), with the last one before
    the window so that a drop across its start counts. Empty when that table does not exist."""
    if "listing_observation" not in inspect(conn).get_table_names():
        return []
    T = m.tables_web.ListingObservation.__table__
    rows = conn.execute(select(T.c.post_id, T.c.observed_at, T.c.stock)
                        .where(T.c.observed_at < until, T.c.stock.is_not(None))
                        .where(T.c.post_id.in_(select(T.c.post_id).where(T.c.observed_at >= since)))).all()
    by_post: dict[int, list] = defaultdict(list)
    for pid, at, stock in rows:
        by_post[pid].append(StockObservation(pid, as_datetime(at), stock))
    out = []
    for obs in by_post.values():
        obs.sort(key=lambda o: o.observed_at)
        before = [o for o in obs if o.observed_at < since]
        out += before[-1:] + [o for o in obs if o.observed_at >= since]
    return out


# --- storage ----------------------------------------------------------------------------------------------
def _json_safe(v):
    if isinstance(v, dict):
        return {k: _json_safe(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    return v


def record(engine: Engine, signals: list[Signal]) -> list[Signal]:
    """Store the signals (insert new keys, refresh the evidence of known ones) and set their ids."""
    if not signals:
        return signals
    now = datetime.now(timezone.utc)
    rows = []
    for s in signals:
        rows.append({"key": s.key, "kind": s.kind, "substance_id": s.substance_id, "substance": s.substance[:200],
                     "class": s.cls, "region_id": s.region_id, "countries": s.countries, "title": s.title[:400],
                     "period_start": s.period_start, "period_end": s.period_end, "first_seen": s.first_seen,
                     "last_seen": s.last_seen, "value": s.value, "baseline": s.baseline, "score": s.score,
                     "posts": s.posts, "sources": s.sources, "evidence": _json_safe(s.evidence),
                     "detected_at": now, "updated_at": now})
    S = T_SIGNAL
    keep = ("detected_at", "key", "kind", "id")
    with engine.begin() as c:
        for i in range(0, len(rows), 200):
            upsert(c, S, rows[i:i + 200], ["key"],
                   lambda ex: {col: getattr(ex, col) for col in rows[0] if col not in keep})
        ids = {}
        keys = [s.key for s in signals]
        for i in range(0, len(keys), 500):
            ids.update((k, i_) for k, i_ in c.execute(select(S.c.key, S.c.id).where(S.c.key.in_(keys[i:i + 500]))))
    for s in signals:
        s.id = ids[s.key]
    return signals


def load_signals(engine: Engine, ids: list[int]) -> list[Signal]:
    """Stored signals by id, in the digest order (kind, class, substance)."""
    S = T_SIGNAL
    out = []
    with engine.connect() as c:
        for i in range(0, len(ids), 500):
            for r in c.execute(select(S).where(S.c.id.in_(ids[i:i + 500]))).mappings():
                out.append(Signal(
                    key=r["key"], kind=r["kind"], substance_id=r["substance_id"], substance=r["substance"],
                    cls=r["class"], title=r["title"], region_id=r["region_id"], countries=r["countries"] or [],
                    period_start=as_datetime(r["period_start"]), period_end=as_datetime(r["period_end"]),
                    first_seen=as_datetime(r["first_seen"]), last_seen=as_datetime(r["last_seen"]),
                    value=r["value"], baseline=r["baseline"], score=r["score"], posts=r["posts"],
                    sources=r["sources"], evidence=r["evidence"] or {}, id=r["id"]))
    order = {k: i for i, k in enumerate(KINDS)}
    out.sort(key=lambda s: (order.get(s.kind, 99), s.cls, s.substance, s.key))
    return out
