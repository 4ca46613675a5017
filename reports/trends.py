"""Price and mention trends: per period (week or month), series and group, never mixing what cannot be mixed.

A price series is one substance (or one class, when the filters name a class: every offer of the class), in one
unit (g, piece, ml), optionally in one quantity tier (retail <= 1, 1-10, wholesale > 10 units; the bounds are
`[trends] tiers`). Without a substance or class filter a table grouped by city, country or nothing is also
grouped by substance (`mixing_note()` says so): a median across salts, hashish and MDMA describes no drug.

Each `TrendRow` gives the number of offers, the median and interquartile range of the price per unit in the
group's local currency (the currency most of its priced offers use; offers in other currencies count only in
USD) and in USD (offers whose rate was known on the day; for pieces and ml, offers priced in USD), and the
number of posts mentioning the series' substance(s) in the group (whatever the unit).

Quantiles are linear-interpolation quantiles (PostgreSQL's `percentile_cont`, numpy's default). The offers and
mentions of the scope are read as columns (Arrow, through the ADBC driver of SQLite or PostgreSQL; on SQLite
without it the stdlib driver) and every cell gets one integer code, so that counts, local currencies,
quantiles and distinct posts, ads and sources of all cells come from a few numpy sorts and the rows from whole
columns: no Python work per offer or per cell. On PostgreSQL without the ADBC driver (or `method="sql"`), the
server computes them (`percentile_cont`, `count(DISTINCT)`): the same rows.

>>> q = _group_quantiles(np.array([1, 1, 1, 2]), np.array([3.0, 1.0, 2.0, 5.0]))
>>> q[0].tolist(), q[1].tolist(), [x.tolist() for x in q[2]]
([1, 2], [3, 1], [[1.5, 5.0], [2.0, 5.0], [2.5, 5.0]])
>>> tier_label("g", 0, DEFAULT_TIERS), tier_label("piece", 2, DEFAULT_TIERS), tier_label("g", None, DEFAULT_TIERS)
('retail <=1 g', 'wholesale >10 piece', 'all sizes')
"""
from __future__ import annotations

import atexit
import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import NamedTuple

import numpy as np
from sqlalchemy import Engine, and_, case, func, literal, or_, select
from sqlalchemy.dialects import postgresql as postgresql_dialect
from sqlalchemy.dialects import sqlite as sqlite_dialect


from .scope import Filters, Scope, ScopeError, as_date, period_sql, resolve, utc, where
from npswatch.storage.tables import T_MENTION, T_OFFER, T_POST, T_REGION, T_SUBSTANCE


GROUPS = ("city", "country", "substance", "none")
SPLITS = ("unit", "tier")  # offer-only groupings that come after GROUPS in `cells()`
DEFAULT_TIERS: dict[str, tuple[float, float]] = {"g": (1.0, 10.0), "piece": (1.0, 10.0), "ml": (1.0, 10.0)}
QUANTILES = (0.25, 0.5, 0.75)
NO_REGION = "(no region)"
_EPOCH = date(1970, 1, 1)


# Not frozen: a trend over 1M offers builds ~84,000 rows, and a frozen dataclass's constructor costs five times
# a plain one's (one object.__setattr__ per field): 0.24 s against 0.05 s for 84,000 rows.
@dataclass(slots=True)
class TrendRow:
    period: date  # first day of the week (Monday) or month
    group: str  # city "Almaty (KZ)", country "KZ", substance name, or "all"
    offers: int  # all offers, priced or not
    currency: str | None  # the local currency of the group's priced offers
    priced: int  # offers with a price per gram in `currency`
    median: float | None
    q1: float | None
    q3: float | None
    usd_offers: int  # offers with a price per gram in USD
    usd_median: float | None
    usd_q1: float | None
    usd_q3: float | None
    mentions: int  # posts naming the substance(s) in the group and period
    ads: int = 0  # distinct ads among those posts (reposts of one ad count once; see storage/ads.py)
    sources: int = 0  # distinct sources (shops, channels) of those posts
    series: str = "all substances"  # what is priced: a substance, "class: ..." or (mentions only) all
    unit: str | None = None  # g, piece or ml: the unit of median, q1, q3 (None: a row of mentions only)
    tier: str = "all sizes"  # the quantity tier, e.g. "retail <=1 g"

    @property
    def label(self) -> str:
        """Which median this is: series, group, unit and tier, e.g. "mephedrone, Almaty (KZ), per g, all sizes"."""
        parts = [self.series] + ([self.group] if self.group not in (self.series, "all") else [])
        return ", ".join(parts + [f"per {self.unit}" if self.unit else "mentions only", self.tier])

    def to_dict(self) -> dict:
        d = asdict(self)
        d["period"] = self.period.isoformat()
        d["label"] = self.label
        return d


def tier_label(unit: str, tier: int | None, bounds: dict[str, tuple[float, float]]) -> str:
    if tier is None:
        return "all sizes"
    lo, hi = bounds.get(unit, DEFAULT_TIERS["g"])
    return (f"retail <={lo:g} {unit}", f"{lo:g}-{hi:g} {unit}", f"wholesale >{hi:g} {unit}")[tier]


def splits_by_substance(filters: Filters, group: str) -> bool:
    """True when `group` alone would put several substances' prices into one median."""
    return group != "substance" and not filters.substance and not filters.cls


def mixing_note(filters: Filters, group: str) -> str | None:
    """What `trends()` did so as not to mix substances, for the user; None when nothing needed saying."""
    if not splits_by_substance(filters, group):
        return None
    by = "" if group == "none" else f" and {group}"
    return (f"prices of different substances are never one median: grouped by substance{by} "
            "(--substance or --class for one series)")


def trends(engine: Engine, filters: Filters = Filters(), by: str = "week", group: str = "city",
           tiers: bool = False, tier_bounds: dict[str, tuple[float, float]] | None = None,
           method: str = "auto", totals: list | None = None, unit: str | None = None,
           tier: int | None = None) -> list[TrendRow]:
    """The trend table of `filters`: one row per period, series, group, unit (and tier with `tiers=True`),
    sorted by period, series, group, unit, tier. See `mixing_note()` for when substances become series.

    `method`: "columns" (columns read into numpy: the fast path, on SQLite and, with the ADBC PostgreSQL
    driver, on PostgreSQL), "sql" (PostgreSQL's percentile_cont in the server) or "auto" (columns when
    possible), "aggregate" (the weekly aggregate; "auto" uses it) . All give the same rows.

    `totals`: a list to which the posts, distinct ads and sources of each period over the whole scope are
    appended, as `PeriodTotal`s, from the same read (the web app's posts-per-week table).

    `unit` (and with `tiers`, `tier`: 0 retail, 1 middle, 2 wholesale): only the rows of that unit and tier, the
    others not computed (the web app shows one)."""
    if tier is not None and (not tiers or unit is None):
        raise ValueError("tier needs tiers=True and a unit")
    if group not in GROUPS:
        raise ScopeError(f"group must be one of {', '.join(GROUPS)}, not {group!r}")
    bounds = tier_bounds or DEFAULT_TIERS
    per_substance = splits_by_substance(filters, group)
    base = tuple(g for g in (group, "substance" if per_substance else None) if g and g != "none") or ("none",)
    groups = base + (("unit", "tier") if tiers else ("unit",))
    t = _cells(engine, filters, by, groups, bounds, method, totals, only=(unit, tier) if unit else None)
    n = len(t.period)
    if not n:
        return []
    nb = len(base)
    if unit is not None:
        keep = t.idx[nb] == (t.vocab[nb].index(unit) if unit in t.vocab[nb] else -2)
        if tier is not None:
            keep &= t.idx[nb + 1] == (t.vocab[nb + 1].index(tier) if tier in t.vocab[nb + 1] else -2)
        t = _Table(t.period[keep], t.vocab, [i[keep] for i in t.idx], {k: v[keep] for k, v in t.stats.items()},
                   t.currencies)
        n = len(t.period)
        if not n:
            return []
    labels = _labels(engine, group)

    def label_of(gid) -> str:
        return labels.get(gid, NO_REGION if gid is None else str(gid))

    glabels = [label_of(g) for g in t.vocab[0]] if group != "none" else ["all"]
    gidx = t.idx[0] if group != "none" else np.zeros(n, dtype=np.int64)
    if group == "substance":
        slabels, sidx = glabels, gidx
    elif per_substance:
        names = _labels(engine, "substance")
        slabels, sidx = [names.get(s, "all substances") for s in t.vocab[nb - 1]], t.idx[nb - 1]
    else:
        slabels = [_series_name(engine, filters) if (filters.substance or filters.cls) else "all substances"]
        sidx = np.zeros(n, dtype=np.int64)
    # units and tiers: index -1 is a row of mentions only (no unit, "all sizes")
    units = t.vocab[nb]
    uidx = t.idx[nb]
    unit_labels = units + [None]
    if tiers:
        tidx = t.idx[nb + 1]
        ntier = len(t.vocab[nb + 1])
        pair = np.where(uidx < 0, len(units) * ntier, uidx * ntier + np.maximum(tidx, 0))
        tier_labels = [tier_label(u, t.vocab[nb + 1][k], bounds) if u else "all sizes"
                       for u in units for k in range(ntier)] + ["all sizes"]
    else:
        pair = np.zeros(n, dtype=np.int64)
        tier_labels = ["all sizes"]
    uidx = np.where(uidx < 0, len(units), uidx)
    order = np.lexsort((_ranks(tier_labels)[pair], _ranks([u or "~" for u in unit_labels])[uidx],
                        _ranks(glabels)[gidx], _ranks(slabels)[sidx], t.period))
    days = {int(d): _EPOCH + timedelta(days=int(d)) for d in np.unique(t.period)}
    s = t.stats
    cur_names = [c or None for c in t.currencies] + [None]
    cols = [[days[d] for d in t.period[order].tolist()],
            np.array(glabels, dtype=object)[gidx[order]].tolist(),
            s["offers"][order].tolist(),
            [cur_names[c] for c in s["currency"][order].tolist()],
            s["priced"][order].tolist(),
            *(_nullable(s[k][order]) for k in ("median", "q1", "q3")),
            s["usd_offers"][order].tolist(),
            *(_nullable(s[k][order]) for k in ("usd_median", "usd_q1", "usd_q3")),
            s["mentions"][order].tolist(), s["ads"][order].tolist(), s["sources"][order].tolist(),
            np.array(slabels, dtype=object)[sidx[order]].tolist(),
            np.array(unit_labels, dtype=object)[uidx[order]].tolist(),
            np.array(tier_labels, dtype=object)[pair[order]].tolist()]
    return [TrendRow(*r) for r in zip(*cols)]


def _ranks(labels: list) -> np.ndarray:
    """The sort rank of each label (equal labels share one)."""
    ranks = {v: i for i, v in enumerate(sorted(set(labels)))}
    return np.array([ranks[v] for v in labels], dtype=np.int64)


def _nullable(a: np.ndarray) -> list:
    """Floats as a list, NaN as None."""
    o = a.astype(object)
    o[np.isnan(a)] = None
    return o.tolist()


def top_substance(engine: Engine, country: str) -> str | None:
    """The substance (a named one before a generic kind) with most priced offers in `country`: the demo's series."""
    O, R, S = T_OFFER, T_REGION, T_SUBSTANCE
    name = func.coalesce(S.c.canonical, S.c.key)
    with engine.connect() as c:
        return c.execute(select(name).select_from(O.join(R, R.c.id == O.c.region_id).join(S, S.c.id == O.c.substance_id))
                         .where(R.c.country == country).group_by(name, S.c.canonical)
                         .order_by(S.c.canonical.is_(None), func.count(O.c.price_per_gram).desc(), name)
                         .limit(1)).scalar()


def _series_name(engine: Engine, filters: Filters) -> str:
    if filters.substance:
        scope = resolve(engine, Filters(substance=filters.substance))
        names = _labels(engine, "substance")
        return names.get(scope.substance_ids[0], filters.substance) if scope.substance_ids else filters.substance
    return "class: " + str(filters.cls).replace("_", " ")


def cells(engine: Engine, filters: Filters, by: str, groups: tuple[str, ...],
          tier_bounds: dict[str, tuple[float, float]] | None = None, method: str = "auto") -> dict:
    """{(period, (group id, ...)): cell dict} for any combination of groups, e.g. ("city", "substance").

    Group ids: region id (city; a country-level region stands for offers naming no city), ISO country code,
    substance id, or 0 (none); None where the offer or mention has no region. `groups` may end with "unit"
    (then prices are per unit: per gram, per piece, per ml) and "tier" (0 retail, 1 middle, 2 wholesale, by
    `tier_bounds`); mentions have neither, so a cell's mentions are those of its groups before them, and cells
    with mentions but no offer have None there."""
    t = _cells(engine, filters, by, groups, tier_bounds or DEFAULT_TIERS, method)
    out = {}
    vocab = [v + [None] for v in t.vocab]  # index -1: None
    cur_names = [c or None for c in t.currencies] + [None]
    s = t.stats
    ints = {k: s[k].tolist() for k in _INT_STATS}
    floats = {k: _nullable(s[k]) for k in _FLOAT_STATS}
    curs = s["currency"].tolist()
    idx = [i.tolist() for i in t.idx]
    for r, day in enumerate(t.period.tolist()):
        cell = {k: v[r] for k, v in ints.items()} | {k: v[r] for k, v in floats.items()}
        cell["currency"] = cur_names[curs[r]]
        out[(_EPOCH + timedelta(days=day), tuple(vocab[g][idx[g][r]] for g in range(len(groups))))] = cell
    return out


_INT_STATS = ("offers", "priced", "usd_offers", "mentions", "ads", "sources")
_FLOAT_STATS = ("median", "q1", "q3", "usd_median", "usd_q1", "usd_q3")


@dataclass
class _Table:
    """Cells as columns, one entry per cell: what `trends()` and `cells()` are built from."""

    period: np.ndarray  # day number (since 1970-01-01) of the period's first day
    vocab: list[list]  # per group: its group ids (region id, country, substance id, unit, tier, 0)
    idx: list[np.ndarray]  # per group: each cell's index into `vocab`; -1 (unit, tier of mentions only): None
    stats: dict[str, np.ndarray]  # _INT_STATS (int64), _FLOAT_STATS (float, NaN: none), "currency"
    currencies: list[str]  # what stats["currency"] indexes ('' an offer without currency; -1: no priced offer)

    @classmethod
    def from_dict(cls, d: dict, ngroups: int, nbase: int) -> "_Table":
        """From `_cells_sql`'s cells; a None unit or tier (mentions only) becomes index -1."""
        keys = list(d)
        vocab = [sorted({k[1][g] for k in keys if g < nbase or k[1][g] is not None},
                        key=lambda v: (v is None, str(v))) for g in range(ngroups)]
        pos = [{v: i for i, v in enumerate(vs)} for vs in vocab]
        idx = [np.array([pos[g].get(k[1][g], -1) for k in keys], dtype=np.int64) for g in range(ngroups)]
        currencies = sorted({c["currency"] or "" for c in d.values() if c["priced"]})
        cpos = {c: i for i, c in enumerate(currencies)}
        cs = list(d.values())
        stats = {k: np.array([c[k] for c in cs], dtype=np.int64) for k in _INT_STATS}
        stats |= {k: np.array([np.nan if c[k] is None else c[k] for c in cs], dtype=float) for k in _FLOAT_STATS}
        stats["currency"] = np.array([cpos[c["currency"] or ""] if c["priced"] else -1 for c in cs], dtype=np.int64)
        period = np.array([(k[0] - _EPOCH).days for k in keys], dtype=np.int64)
        return cls(period, vocab, idx, stats, currencies)


def _cells(engine: Engine, filters: Filters, by: str, groups: tuple[str, ...],
           bounds: dict[str, tuple[float, float]], method: str = "auto", totals: list | None = None,
           only: tuple[str, int | None] | None = None) -> _Table:
    """The cells of `groups`; `only` (unit, tier or None): the caller keeps those of that unit and tier only, so
    the aggregate's other offers may be left out (the cells of mentions stay whole)."""
    base = tuple(g for g in groups if g not in SPLITS)
    splits = groups[len(base):]
    for g in base:
        if g not in GROUPS:
            raise ScopeError(f"group must be one of {', '.join(GROUPS)}, not {g!r}")
    if any(g not in SPLITS for g in splits) or ("tier" in splits and "unit" not in splits):
        raise ScopeError(f"unit and tier groupings come last, tier with unit: {groups!r}")
    if method not in ("auto", "aggregate", "columns", "sql"):
        raise ValueError(f"method must be auto, aggregate, columns or sql, not {method!r}")
    period_sql(T_OFFER.c.observed_at, engine.dialect.name, by)  # validates `by`
    scope = resolve(engine, filters)
    exprs = _Values(bounds, per_unit="unit" in splits)
    if method == "aggregate" or (method == "auto" and "unit" in splits):
        if "unit" not in splits:
            raise ValueError("the weekly aggregate holds prices per unit: group by unit")
        merged = "substance" not in base
        o, me = aggregate_rows(engine, scope, quantities="tier" in splits, merged=merged)
        if totals is not None:
            whole = aggregate_rows(engine, scope, offers=False, merged=True, all_regions=True)[1] \
                if merged and class_key(scope) is not None and scope.region_ids is None else me
            totals.extend(period_totals(whole, by))
        if only is not None:
            tier = only[1] if "tier" in splits else None
            o = _only_offers(o, only[0], tier, bounds)
            if tier is not None:  # one tier left: the cells without tiers, each then given that tier
                t = _aggregate_cells(engine, o, me, by, base, ("unit",), bounds)
                t.vocab.append([0, 1, 2])
                t.idx.append(np.where(t.idx[-1] >= 0, tier, -1))
                return t
        return _aggregate_cells(engine, o, me, by, base, splits, bounds)
    if totals is not None:
        totals.extend(period_totals(aggregate_rows(engine, scope, offers=False, merged=True, all_regions=True)[1], by))
    if method == "sql" or (method == "auto" and not _columns_readable(engine)):
        if engine.dialect.name != "postgresql":
            raise ValueError("method 'sql' needs PostgreSQL (percentile_cont)")
        return _Table.from_dict(_sql_cells(engine, scope, by, groups, exprs), len(groups), len(base))
    return _columns_cells(engine, scope, by, base, splits, exprs)


class PeriodTotal(NamedTuple):
    period: date
    mentions: int  # posts naming the scope
    ads: int  # distinct ads among them
    sources: int


def period_totals(mention_rows: dict, by: str) -> list[PeriodTotal]:
    """Posts, distinct ads and sources per period of aggregate mention rows, earliest first."""
    me = mention_rows
    if not len(me["day"]):
        return []
    pvals, idx = _dense(_periods(me["day"], by))
    mu, st = _aggregate_mention_stats(me, idx)
    return [PeriodTotal(_EPOCH + timedelta(days=d), m, a, s) for d, m, a, s in
            zip(pvals[mu].tolist(), st["mentions"].tolist(), st["ads"].tolist(), st["sources"].tolist())]


def _sql_cells(engine: Engine, scope: Scope, by: str, groups: tuple[str, ...], exprs: "_Values") -> dict:
    base = tuple(g for g in groups if g not in SPLITS)
    splits = groups[len(base):]
    if not splits:
        return _cells_sql(engine, scope, by, groups, exprs)
    offers = _cells_sql(engine, scope, by, groups, exprs, mentions=False)
    mentions = _cells_sql(engine, scope, by, base, exprs, offers=False)
    nb = len(base)
    for (period, ids), cell in offers.items():
        m = mentions.get((period, ids[:nb]))
        for k in ("mentions", "ads", "sources"):
            cell[k] = m[k] if m else 0
    # mentions of groups with no offer at all: a row of their own
    seen = {(p, ids[:nb]) for (p, ids) in offers}
    for (period, ids), m in mentions.items():
        if (period, ids) not in seen:
            cell = offers[(period, ids + (None,) * len(splits))]
            for k in ("mentions", "ads", "sources"):
                cell[k] = m[k]
    return offers


class _Values:
    """The price and tier expressions of a query: price per gram, or per unit of the offer's own unit."""

    def __init__(self, bounds: dict[str, tuple[float, float]], per_unit: bool):
        O = T_OFFER
        self.per_unit = per_unit
        if per_unit:
            self.price = case((O.c.unit == "g", O.c.price_per_gram),
                              (O.c.quantity > 0, O.c.price / O.c.quantity), else_=None)
            self.usd = case((O.c.unit == "g", O.c.price_per_gram_usd),
                            (and_(O.c.currency == "USD", O.c.quantity > 0), O.c.price / O.c.quantity), else_=None)
        else:
            self.price, self.usd = O.c.price_per_gram, O.c.price_per_gram_usd
        qty = case((O.c.unit == "g", func.coalesce(O.c.grams, O.c.quantity)), else_=O.c.quantity)
        whens = []
        for unit, (lo, hi) in sorted(bounds.items()):
            whens += [(and_(O.c.unit == unit, qty <= lo), 0), (and_(O.c.unit == unit, qty <= hi), 1)]
        lo, hi = DEFAULT_TIERS["g"]
        # units without bounds of their own take the default ones (a configured unit above its bounds is tier 2)
        other = or_(O.c.unit.is_(None), O.c.unit.not_in(sorted(bounds))) if bounds else literal(True)
        self.tier = case(*whens, (and_(other, qty <= lo), 0), (and_(other, qty <= hi), 1), else_=2)

    @staticmethod
    def compile(expr, dialect: str = "sqlite") -> str:
        """The expression as SQL text (values inlined: they are numbers and unit names from the config)."""
        d = postgresql_dialect.dialect() if dialect == "postgresql" else sqlite_dialect.dialect()
        return str(expr.compile(dialect=d, compile_kwargs={"literal_binds": True}))


def _empty_cell() -> dict:
    return dict(offers=0, currency=None, priced=0, median=None, q1=None, q3=None, usd_offers=0,
                usd_median=None, usd_q1=None, usd_q3=None, mentions=0, ads=0, sources=0)


def _labels(engine: Engine, group: str) -> dict:
    """Group id -> label. City groups are region ids (a country-level region is labelled by its code)."""
    with engine.connect() as c:
        if group == "city":
            return {i: (f"{name} ({cc})" if level == "city" else f"{cc} (no city)")
                    for i, name, cc, level in c.execute(select(T_REGION.c.id, T_REGION.c.name, T_REGION.c.country,
                                                               T_REGION.c.level))}
        if group == "country":
            return {cc: cc for cc in c.execute(select(T_REGION.c.country).distinct()).scalars()}
        if group == "substance":
            return {i: n for i, n in c.execute(select(T_SUBSTANCE.c.id, func.coalesce(T_SUBSTANCE.c.canonical, T_SUBSTANCE.c.key)))}
    return {0: "all"}


def _pick_currency(counts: dict[str, int]) -> str:
    """The local currency: most offers, ties broken alphabetically (the same rule in SQL and numpy paths)."""
    return min(counts, key=lambda cur: (-counts[cur], cur))


# --- PostgreSQL: percentile_cont in the server ---------------------------------------------------------
def _cells_sql(engine: Engine, scope: Scope, by: str, groups: tuple[str, ...], values: "_Values",
               offers: bool = True, mentions: bool = True) -> dict:
    O, Me, R = T_OFFER, T_MENTION, T_REGION
    dialect = engine.dialect.name
    out: dict = defaultdict(_empty_cell)
    k = len(groups)

    def grouped(table):
        period = period_sql(table.c.observed_at, dialect, by).label("period")
        cols, frm = [], table
        for i, g in enumerate(groups):
            if g == "city":
                col = table.c.region_id
            elif g == "country":
                col = R.c.country
                frm = frm.outerjoin(R, R.c.id == table.c.region_id)
            elif g == "substance":
                col = table.c.substance_id
            elif g == "unit":
                col = table.c.unit
            elif g == "tier":
                col = values.tier
            else:
                col = literal(0)
            cols.append(col.label(f"g{i}"))
        return period, cols, frm, and_(table.c.observed_at.is_not(None), *where(table, scope))

    def key(row) -> tuple:
        return as_date(row[0]), tuple(row[1:1 + k])

    with engine.connect() as c:
        if offers:
            _offer_cells_sql(c, grouped(O), values, key, out)
        if mentions:
            period, gcols, frm, cond = grouped(Me)
            P = T_POST
            q = (select(period, *gcols, func.count(func.distinct(Me.c.post_id)),
                        func.count(func.distinct(func.coalesce(P.c.ad_id, -P.c.id))),
                        func.count(func.distinct(P.c.source_id)))
                 .select_from(frm.join(P, P.c.id == Me.c.post_id)).where(cond).group_by(period, *gcols))
            for row in c.execute(q):
                out[key(row)].update(mentions=row[-3], ads=row[-2], sources=row[-1])
    return out


def _offer_cells_sql(c, grouped: tuple, values: "_Values", key, out: dict) -> None:
    period, gcols, frm, cond = grouped
    pct = func.percentile_cont(literal(list(QUANTILES)))
    O = T_OFFER
    q = select(period, *gcols, func.count()).select_from(frm).where(cond).group_by(period, *gcols)
    for row in c.execute(q):
        out[key(row)]["offers"] = row[-1]
    price = values.price
    q = (select(period, *gcols, O.c.currency, func.count(), pct.within_group(price))
         .select_from(frm).where(cond, price.is_not(None))
         .group_by(period, *gcols, O.c.currency))
    local: dict = defaultdict(dict)
    for row in c.execute(q):
        cur, n, qs = row[-3:]
        local[key(row)][cur or ""] = (n, qs)
    for kk, per_cur in local.items():
        cur = _pick_currency({cc: v[0] for cc, v in per_cur.items()})
        n, qs = per_cur[cur]
        out[kk].update(currency=cur or None, priced=n, q1=qs[0], median=qs[1], q3=qs[2])
    q = (select(period, *gcols, func.count(), pct.within_group(values.usd))
         .select_from(frm).where(cond, values.usd.is_not(None)).group_by(period, *gcols))
    for row in c.execute(q):
        n, qs = row[-2:]
        out[key(row)].update(usd_offers=n, usd_q1=qs[0], usd_median=qs[1], usd_q3=qs[2])


# --- columns out, grouped in numpy (SQLite; PostgreSQL with the ADBC driver) ----------------------------
def _stamp(d: datetime, dialect: str) -> str:
    if dialect == "postgresql":
        return "TIMESTAMPTZ '" + utc(d).isoformat() + "'"
    # The text form SQLAlchemy stores on SQLite (UTC, no offset), so that comparisons are text comparisons.
    return "'" + utc(d).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def _where_sql(scope: Scope, dialect: str = "sqlite") -> str:
    conds = ["observed_at IS NOT NULL"]
    # Ids and timestamps are typed values formatted here, never user text: safe to inline.
    if scope.substance_ids is not None:
        conds.append(f"substance_id IN ({','.join(str(int(i)) for i in scope.substance_ids) or 'NULL'})")
    if scope.region_ids is not None:
        conds.append(f"region_id IN ({','.join(str(int(i)) for i in scope.region_ids) or 'NULL'})")
    if scope.since is not None:
        conds.append(f"observed_at >= {_stamp(scope.since, dialect)}")
    if scope.until is not None:
        conds.append(f"observed_at < {_stamp(scope.until, dialect)}")
    return " AND ".join(conds)


# Day number since 1970-01-01 of the UTC date. unixepoch() (SQLite >= 3.38, always in the ADBC driver's SQLite)
# is about a quarter faster per row than julianday(), whose day starts at noon, hence +0.5.
_DAY_UNIXEPOCH = "unixepoch(observed_at) / 86400"
_DAY_JULIAN = "CAST(julianday(observed_at) + 0.5 AS INTEGER) - 2440588"
_DAY_PG = "((observed_at AT TIME ZONE 'UTC')::date - DATE '1970-01-01')"


def _group_columns(groups: tuple[str, ...], values: "_Values", dialect: str) -> str:
    # only the columns the grouping needs: every column read costs. NULLs become sentinels (0, '') so that the
    # Arrow driver infers one type per column from any batch.
    cols = []
    if any(g in ("city", "country") for g in groups):
        cols.append("COALESCE(region_id, 0) AS region_id")
    if "substance" in groups:
        cols.append("substance_id")
    if "unit" in groups:
        cols.append("COALESCE(unit, '') AS unit")
    if "tier" in groups:
        cols.append(f"{values.compile(values.tier, dialect)} AS tier")
    return "".join(", " + c for c in cols)


def offer_columns_sql(scope: Scope, day: str, groups: tuple[str, ...], values: "_Values",
                      dialect: str = "sqlite") -> str:
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    price, usd = ((values.compile(values.price, dialect), values.compile(values.usd, dialect)) if values.per_unit
                  else ("price_per_gram", "price_per_gram_usd"))
    return (f"SELECT {day} AS day{_group_columns(groups, values, dialect)}, "
            f"COALESCE(currency, '') AS currency, CAST(COALESCE({price}, -1.0) AS {real}) AS ppg, "
            f"CAST(COALESCE({usd}, -1.0) AS {real}) AS usd "
            f"FROM offer WHERE {_where_sql(scope, dialect)}")


def mention_columns_sql(scope: Scope, day: str, groups: tuple[str, ...], dialect: str = "sqlite") -> str:
    return (f"SELECT {day} AS day{_group_columns(groups, None, dialect)}, post_id "
            f"FROM mention WHERE {_where_sql(scope, dialect)}")


# a post without an ad (its text gone before ads were assigned) is an ad of its own: -post id
_POST_COLUMNS = "SELECT id, COALESCE(ad_id, -id) AS ad, source_id AS source FROM post"


def read_posts(engine: Engine, post_ids: np.ndarray, ids_sql: str | None = None) -> dict[str, np.ndarray]:
    """The id, ad and source columns of the posts `post_ids` (and maybe others): every post between the lowest
    and highest id, or, when `ids_sql` selects the same ids and they are few and spread over many (one
    substance; a few days written, posts not in time order), those posts by id."""
    if not len(post_ids):
        return {k: np.zeros(0, dtype=np.int64) for k in ("id", "ad", "source")}
    lo, hi = int(post_ids.min()), int(post_ids.max())
    if ids_sql is not None and len(post_ids) * 4 < hi - lo:
        return read_columns(engine, f"{_POST_COLUMNS} WHERE id IN ({ids_sql})")
    return read_columns(engine, f"{_POST_COLUMNS} WHERE id BETWEEN {lo} AND {hi}")


def _day_sql(engine: Engine) -> str:
    if engine.dialect.name == "postgresql":
        return _DAY_PG
    import sqlite3

    return _DAY_UNIXEPOCH if sqlite3.sqlite_version_info >= (3, 38) else _DAY_JULIAN


def _columns_readable(engine: Engine) -> bool:
    """Can `read_columns` read this database? (SQLite always; PostgreSQL with the ADBC driver installed.)"""
    return engine.dialect.name == "sqlite" or (engine.dialect.name == "postgresql" and _adbc("postgresql") is not None)


class Coded(NamedTuple):
    """A text column as integer codes into its distinct values: a million currency codes cost one small array."""

    codes: np.ndarray
    values: list[str]

    def __len__(self) -> int:
        return len(self.codes)


def read_columns(engine: Engine, sql: str, *, arrow: bool | None = None) -> dict[str, np.ndarray | Coded]:
    """Run a SELECT and return its columns as numpy arrays (text columns as `Coded`, binary ones as `Blobs`).

    PostgreSQL's result arrives as Arrow columns through the ADBC driver (no Python object per value). SQLite's is
    read as Arrow too, by ADBC's driver in a child process (`storage.arrow_reads`: never in this one, whose
    own SQLite library it would corrupt), or through Python's sqlite3 when that cannot run (`arrow=False`: always).
    """
    dbapi = _adbc("postgresql") if engine.dialect.name == "postgresql" else None
    if dbapi is not None:
        uri = engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
        table = _pg_arrow(dbapi, uri, sql)
        return {name: _arrow_to_numpy(table.column(name)) for name in table.column_names}
    path = _sqlite_file(engine) if engine.dialect.name == "sqlite" and arrow is not False else None
    if path is not None:
        from npswatch.storage import arrow_reads

        try:
            table = arrow_reads.read(str(Path(path).resolve()), sql)
        except arrow_reads.ArrowReadError as exc:
            import sqlite3

            raise sqlite3.OperationalError(str(exc)) from None
        if table is not None:
            return {name: _arrow_to_numpy(table.column(name)) for name in table.column_names}
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.execute(sql)
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        cur.close()
    finally:
        raw.close()
    cols = list(zip(*rows)) if rows else [() for _ in names]
    out: dict[str, np.ndarray | Coded] = {}
    for name, col in zip(names, cols):
        sample = next((v for v in col if v is not None), 0)
        if isinstance(sample, bytes):
            lens = np.fromiter(map(len, col), dtype=np.int64, count=len(col))
            offsets = np.zeros(len(col) + 1, dtype=np.int64)
            np.cumsum(lens, out=offsets[1:])
            out[name] = Blobs(b"".join(col), offsets)
        elif isinstance(sample, str):
            lookup: dict[str, int] = {}
            codes = np.fromiter(map(lambda v: lookup.setdefault(v, len(lookup)), col), dtype=np.int64,
                                count=len(col))
            out[name] = Coded(codes, list(lookup))
        else:
            out[name] = np.fromiter(col, dtype=np.float64 if isinstance(sample, float) else np.int64, count=len(col))
    return out


class Blobs(NamedTuple):
    """A binary column: row i is data[offsets[i]:offsets[i + 1]]."""

    data: bytes | memoryview
    offsets: np.ndarray

    def __len__(self) -> int:
        return len(self.offsets) - 1


def _arrow_to_numpy(col) -> np.ndarray | Coded | Blobs:
    import pyarrow as pa

    if pa.types.is_binary(col.type) or pa.types.is_large_binary(col.type):
        arr = col.combine_chunks()
        _, offsets, data = arr.buffers()
        width = np.int64 if pa.types.is_large_binary(col.type) else np.int32
        off = np.frombuffer(offsets, dtype=width)[arr.offset:arr.offset + len(arr) + 1].astype(np.int64)
        return Blobs(memoryview(data) if data is not None else b"", off)

    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        enc = col.combine_chunks().dictionary_encode()
        return Coded(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist())
    if pa.types.is_null(col.type):  # an empty result
        return np.zeros(len(col), dtype=np.int64)
    if pa.types.is_integer(col.type):
        return col.to_numpy().astype(np.int64, copy=False)
    return col.to_numpy()


_ADBC: dict = {}


def _sqlite_file(engine: Engine) -> str | None:
    db = engine.url.database
    return None if not db or db == ":memory:" or db.startswith("file:") else db


def _adbc(dialect: str = "postgresql"):
    """The ADBC DB-API module for `dialect` (PostgreSQL only: see `read_columns`), or None when not installed."""
    if dialect != "postgresql":
        return None
    if dialect not in _ADBC:
        try:
            import adbc_driver_postgresql.dbapi as dbapi
        except ImportError:
            dbapi = None
        _ADBC[dialect] = dbapi
    return _ADBC[dialect]


class _PgConnections:
    """Idle ADBC connections to PostgreSQL, kept for the next read (opening one costs ~80 ms, half a trend query's
    server time). Autocommit, so an idle one holds no transaction and no lock; at most `per_uri` per database URI
    and `uris` URIs (the least recently used one's connections are closed)."""

    def __init__(self, per_uri: int = 2, uris: int = 2):
        self.per_uri, self.uris = per_uri, uris
        self.idle: dict[str, list] = {}
        self.lock = threading.Lock()

    def take(self, dbapi, uri: str):
        with self.lock:
            pool = self.idle.pop(uri, [])
            conn = pool.pop() if pool else None
            self.idle[uri] = pool  # most recently used last
        return conn if conn is not None else dbapi.connect(uri, autocommit=True)

    def give(self, uri: str, conn) -> None:
        closing = []
        with self.lock:
            pool = self.idle.setdefault(uri, [])
            (pool if len(pool) < self.per_uri else closing).append(conn)
            while len(self.idle) > self.uris:
                closing += self.idle.pop(next(iter(self.idle)))
        for c in closing:
            c.close()


    def close_all(self) -> None:
        with self.lock:
            conns = [c for pool in self.idle.values() for c in pool]
            self.idle.clear()
        for c in conns:
            c.close()


_PG = _PgConnections()
# closed before the interpreter tears modules down (the driver's __del__ fails then, printing a traceback)
atexit.register(_PG.close_all)


def _pg_arrow(dbapi, uri: str, sql: str):
    """Run `sql` on a kept connection to `uri` and return the Arrow table; a kept connection that fails (the server
    restarted, the schema was dropped) is closed and the query tried once on a new one."""
    for attempt in (1, 2):
        conn = _PG.take(dbapi, uri)
        try:
            with conn.cursor() as cur:
                cur.execute(sql)
                table = cur.fetch_arrow_table()
        except Exception:
            conn.close()
            if attempt == 2:
                raise
            continue
        _PG.give(uri, conn)
        return table


def _periods(day: np.ndarray, by: str) -> np.ndarray:
    """Day numbers -> day number of the period's first day."""
    if by == "week":
        return day - (day + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    months = day.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _shared_index(arrays: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """One index over the distinct values of several integer arrays: (index of each value, the values sorted)."""
    arrays = [a.astype(np.int64, copy=False) for a in arrays]
    filled = [a for a in arrays if len(a)]
    if not filled:
        return [np.zeros(0, dtype=np.int64) for _ in arrays], np.zeros(0, dtype=np.int64)
    lo = min(int(a.min()) for a in filled)
    hi = max(int(a.max()) for a in filled)
    total = sum(len(a) for a in filled)
    if hi - lo > 8 * total + (1 << 20):  # sparse: a sort costs less than a huge table
        values = _distinct(np.concatenate(filled))
        return [np.searchsorted(values, a) for a in arrays], values
    present = np.zeros(hi - lo + 1, dtype=bool)
    for a in filled:
        present[a - lo] = True
    lut = np.cumsum(present) - 1
    return [lut[a - lo] for a in arrays], np.flatnonzero(present) + lo


def _base_index(engine: Engine, group: str, tables: list[dict]) -> tuple[list[np.ndarray], list]:
    """Per table and row the index of its group (city, country, substance, none), and the group ids."""
    if group == "none":
        return [np.zeros(len(t["day"]), dtype=np.int64) for t in tables], [0]
    if group == "substance":
        idx, values = _shared_index([t["substance_id"] for t in tables])
        return idx, [int(v) for v in values]
    idx, values = _shared_index([t["region_id"] for t in tables])
    if group == "city":
        return idx, [None if v == 0 else int(v) for v in values]
    with engine.connect() as c:
        region_country = dict(c.execute(select(T_REGION.c.id, T_REGION.c.country)).all())
    of_value = [region_country.get(int(v)) for v in values]
    countries = sorted(set(of_value), key=lambda cc: (cc is None, cc or ""))
    pos = {cc: i for i, cc in enumerate(countries)}
    lut = np.array([pos[cc] for cc in of_value] or [0], dtype=np.int64)
    return [lut[i] for i in idx], countries


def _combine(idx: list[np.ndarray], sizes: list[int], n: int) -> np.ndarray:
    """Mixed-radix code of several indexes (the first most significant)."""
    code = np.zeros(n, dtype=np.int64)
    for i, size in zip(idx, sizes):
        code = code * size + i
    return code


def _split(code: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """The indexes back from `_combine`'s code."""
    out = []
    for size in reversed(sizes):
        code, i = np.divmod(code, size)
        out.append(i)
    return out[::-1]


def _columns_cells(engine: Engine, scope: Scope, by: str, base: tuple[str, ...], splits: tuple[str, ...],
                   values: "_Values") -> _Table:
    """The cells of the scope from columns read out of the database and grouped in numpy, in a few sorts.

    Every cell (period x groups) gets one integer code; offers and mentions share the code of their period and
    base groups, and offers' codes carry the unit (and tier) below it."""
    dialect = engine.dialect.name
    day = _day_sql(engine)
    groups = base + splits
    # mentions (and then their posts) are read in a second thread while the offers are read (drivers release the GIL)
    pool = ThreadPoolExecutor(1)
    try:
        found = pool.submit(_read_mentions, engine, mention_columns_sql(scope, day, base, dialect))
        o = read_columns(engine, offer_columns_sql(scope, day, groups, values, dialect))
        me, posts = found.result()
    finally:
        pool.shutdown(wait=True)
    if not len(o["day"]) and not len(me["day"]):
        return _empty_table(len(groups))
    for k in ("unit", "currency"):  # an empty result has no text columns
        if k in o and not isinstance(o[k], Coded):
            o[k] = Coded(np.zeros(0, dtype=np.int64), [])
    idx_o, idx_m, vocab, sizes, pvals = _period_and_base_codes(engine, o, me, by, base)
    nbase = len(sizes)
    for g in splits:
        if g == "unit":
            idx_o.append(o["unit"].codes)
            vocab.append([u or None for u in o["unit"].values])
        else:
            idx_o.append(o["tier"].astype(np.int64))
            vocab.append([0, 1, 2])
        sizes.append(max(len(vocab[-1]), 1))
    ocode = _combine(idx_o, sizes, len(o["day"]))
    mcode = _combine(idx_m, sizes[:nbase], len(me["day"]))

    ucode, inv = _dense(ocode)
    ostats = _offer_stats(o, inv, len(ucode))
    mu, minv = _dense(mcode)
    mstats = _mention_stats(me, posts, minv, len(mu))
    return _assemble(ucode, ostats, mu, mstats, sizes, nbase, pvals, vocab, _sorted_currencies(o))


def _assemble(ucode: np.ndarray, ostats: dict, mu: np.ndarray, mstats: dict, sizes: list[int], nbase: int,
              pvals: np.ndarray, vocab: list, currencies: list[str]) -> _Table:
    """The table from offer cells (codes `ucode`, stats `ostats`) and mention cells (`mu`, `mstats`), the codes
    being `_combine`'s of (period, base groups[, splits]) with `sizes`."""
    split_size = int(np.prod(sizes[nbase:])) if len(sizes) > nbase else 1
    splits = len(sizes) > nbase
    # the cells: every offer cell, and (with unit/tier splits) a cell of its own for mentions with no offer
    obase = ucode // split_size
    only = mu[~np.isin(mu, obase)] if len(mu) else mu
    if splits:
        codes = np.concatenate([ucode, only * split_size])
        split_idx = _split(codes % split_size, sizes[nbase:])
        for i in split_idx:
            i[len(ucode):] = -1
        base_codes = np.concatenate([obase, only])
    else:
        codes = base_codes = np.concatenate([ucode, only])
        split_idx = []
    n, no = len(codes), len(ucode)
    stats = {}
    for k, v in ostats.items():
        fill = np.nan if v.dtype.kind == "f" else (-1 if k == "currency" else 0)
        stats[k] = np.concatenate([v, np.full(n - no, fill, dtype=v.dtype)])
    pos = np.searchsorted(mu, base_codes)
    pos = np.minimum(pos, max(len(mu) - 1, 0))
    has = (mu[pos] == base_codes) if len(mu) else np.zeros(n, dtype=bool)
    for k, v in mstats.items():
        stats[k] = np.where(has, v[pos] if len(v) else 0, 0)
    parts = _split(base_codes, sizes[:nbase])
    return _Table(pvals[parts[0]] if len(pvals) else np.zeros(0, dtype=np.int64), vocab,
                  parts[1:] + split_idx, stats, currencies)


def _sorted_currencies(o: dict) -> list[str]:
    return sorted(o["currency"].values)


def _read_mentions(engine: Engine, sql: str) -> tuple[dict, dict]:
    me = read_columns(engine, sql)
    return me, read_posts(engine, me["post_id"].astype(np.int64))


def _offer_stats(o: dict, inv: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per offer cell: offers, the local currency and the quantiles in it, the USD quantiles."""
    out = {"offers": np.bincount(inv, minlength=n).astype(np.int64)}
    out |= {k: np.zeros(n, dtype=np.int64) for k in ("priced", "usd_offers")}
    out |= {k: np.full(n, np.nan) for k in _FLOAT_STATS}
    out["currency"] = np.full(n, -1, dtype=np.int64)
    if not n:
        return out
    # local currency: most priced offers, ties to the alphabetically first (as _pick_currency)
    names = o["currency"].values
    ncur = max(len(names), 1)
    rank = np.empty(ncur, dtype=np.int64)
    rank[np.argsort(np.array(names, dtype=object), kind="stable")] = np.arange(len(names))
    priced = o["ppg"] >= 0
    pkey, pcur = inv[priced], rank[o["currency"].codes[priced]]
    combo, count = _counts(pkey * ncur + pcur)
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, combo // ncur, count * ncur + (ncur - 1 - combo % ncur))
    local = np.where(best >= 0, ncur - 1 - best % ncur, -1)
    out["currency"] = local
    sel = local[pkey] == pcur
    ks, ns, (q1, med, q3) = _group_quantiles(pkey[sel], o["ppg"][priced][sel])
    out["priced"][ks], out["q1"][ks], out["median"][ks], out["q3"][ks] = ns, q1, med, q3
    has_usd = o["usd"] >= 0
    ks, ns, (q1, med, q3) = _group_quantiles(inv[has_usd], o["usd"][has_usd])
    out["usd_offers"][ks], out["usd_q1"][ks], out["usd_median"][ks], out["usd_q3"][ks] = ns, q1, med, q3
    return out


def _mention_stats(me: dict, posts: dict, inv: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Per mention cell: distinct posts, ads and sources (a post naming two cities of one country counts once)."""
    out = {k: np.zeros(n, dtype=np.int64) for k in ("mentions", "ads", "sources")}
    if not n:
        return out
    pid = me["post_id"].astype(np.int64)
    lo = int(posts["id"].min()) if len(posts["id"]) else 0
    row = np.full(int(pid.max()) - lo + 1, -1, dtype=np.int64)
    row[posts["id"].astype(np.int64) - lo] = np.arange(len(posts["id"]))
    r = row[pid - lo]
    ad = np.where(r >= 0, posts["ad"].astype(np.int64)[r], -pid)
    source = np.where(r >= 0, posts["source"].astype(np.int64)[r], -1)
    for name, col in (("mentions", pid), ("ads", ad), ("sources", source)):
        keys, counts = _distinct_per_key(inv, col)
        out[name][keys] = counts
    return out


def _dense(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, index of each row's id among them) for non-negative ids, in O(n) when they are small."""
    idx, values = _shared_index([ids])
    return values, idx[0]


def _counts(keys: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys, their counts) for small non-negative keys, in O(n)."""
    c = np.bincount(keys)
    nz = np.flatnonzero(c)
    return nz, c[nz]


def _distinct(a: np.ndarray) -> np.ndarray:
    """Sorted distinct values. (numpy 2.4's plain np.unique hashes, and is ~50x slower than a sort here.)"""
    s = np.sort(a)
    return s[np.r_[True, s[1:] != s[:-1]]] if len(s) else s


def _group_quantiles(keys: np.ndarray, values: np.ndarray, qs=QUANTILES):
    """Per distinct key: (keys, counts, [quantile arrays]) with linear interpolation, in one sort."""
    if len(keys) == 0:
        return keys, np.zeros(0, dtype=np.int64), [np.zeros(0) for _ in qs]
    # one integer sort instead of lexsort (3-5x faster): the rank of each value, offset by its key
    rank = np.empty(len(values), dtype=np.int64)
    rank[np.argsort(values)] = np.arange(len(values))
    order = np.argsort(keys.astype(np.int64) * len(values) + rank)
    k, v = keys[order], values[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    counts = np.diff(np.r_[starts, len(k)])
    out = []
    for q in qs:
        pos = q * (counts - 1)
        lo = np.floor(pos).astype(np.int64)
        frac = pos - lo
        hi = np.minimum(lo + 1, counts - 1)
        out.append(v[starts + lo] + (v[starts + hi] - v[starts + lo]) * frac)
    return k[starts], counts, out


_BITMAP_MAX = 1 << 26


def _distinct_per_key(key: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, number of distinct values of each)."""
    values = values - int(values.min())
    span = int(values.max()) + 1
    nkeys = int(key.max()) + 1
    # few keys over a dense range of ids: a bitmap per key, no sort (clearing and counting the bitmap costs about
    # as much as sorting when it has ~64 bits per value: one substance's 50,000 posts among 500,000 sort faster)
    if nkeys * span <= min(_BITMAP_MAX, 64 * len(values)):
        seen = np.zeros(nkeys * span, dtype=bool)
        seen[key * span + values] = True
        counts = np.count_nonzero(seen.reshape(nkeys, span), axis=1)
        nz = np.flatnonzero(counts)
        return nz, counts[nz]
    pairs = _distinct(key * span + values)
    return _counts(pairs // span)


# --- the weekly aggregate (tables trend_offer_week, trend_mention_week: migration 0015) ------------------------
# Rows per segment (an ISO week cut at a month's end, so that weeks and months are both unions of segments),
# substance, region (and unit, currency): sorted prices with their quantities, distinct post, ad and source ids.
# A cell of any period and grouping merges rows: counts add, sorted arrays merge, id sets unite, so its figures
# are those of the offers and mentions themselves. Segments the scope's time span cuts, and segments written
# since the last refresh (`trend_stale`), are built from the offers and mentions at read time in the same form.

class Ragged(NamedTuple):
    """Per row a slice of `values`: row i is values[starts[i]:starts[i + 1]]."""

    values: np.ndarray
    starts: np.ndarray

    @property
    def lens(self) -> np.ndarray:
        return np.diff(self.starts)

    @classmethod
    def of_bytes(cls, data: bytes | memoryview, offsets: np.ndarray, dtype) -> "Ragged":
        size = np.dtype(dtype).itemsize
        return cls(np.frombuffer(data, dtype=dtype) if len(data) else np.zeros(0, dtype=dtype),
                   np.asarray(offsets, dtype=np.int64) // size)

    def take(self, rows: np.ndarray) -> "Ragged":
        """These rows, in this order."""
        lens = self.lens[rows]
        starts = np.r_[0, np.cumsum(lens)].astype(np.int64)
        return Ragged(self.values[_ragged_index(self.starts[rows], lens)], starts)

    def concat(self, other: "Ragged") -> "Ragged":
        return Ragged(np.concatenate([self.values, other.values.astype(self.values.dtype, copy=False)]),
                      np.r_[self.starts[:-1], other.starts + len(self.values)].astype(np.int64))

    def to_bytes(self) -> list[bytes]:
        v, s = self.values, self.starts.tolist()
        return [v[a:b].tobytes() for a, b in zip(s[:-1], s[1:])]


def _ragged_index(starts: np.ndarray, lens: np.ndarray) -> np.ndarray:
    """The positions starts[i] + 0..lens[i]-1 of every row, one after the other."""
    total = int(lens.sum())
    if not total:
        return np.zeros(0, dtype=np.int64)
    ends = np.cumsum(lens)
    return np.arange(total, dtype=np.int64) + np.repeat(starts - (ends - lens), lens)


OFFER_BLOBS = {"prices": np.float64, "qty": np.float64, "usd": np.float64, "usd_qty": np.float64}
MENTION_BLOBS = {"post_ids": np.int64, "ad_ids": np.int64, "source_ids": np.int64}
_NO_QTY = 1e300  # an offer without quantity: above every tier bound, as NULL is in the SQL (tier 2)


def segment_start(day: np.ndarray) -> np.ndarray:
    """Day number -> first day of its segment: the later of its week's Monday and its month's first day."""
    return np.maximum(_periods(day, "week"), _periods(day, "month"))


def segment_end(start: np.ndarray) -> np.ndarray:
    """First day of the next segment."""
    week = _periods(start, "week") + 7
    month = (start.astype("datetime64[D]").astype("datetime64[M]") + 1).astype("datetime64[D]").astype(np.int64)
    return np.minimum(week, month)


def build_rows(engine: Engine, where_sql: str, offers: bool = True, by_class: bool = False) -> tuple[dict, dict]:
    """(offer rows, mention rows) of the aggregate from the offers and mentions matching `where_sql`, a condition
    on observed_at, substance_id and region_id: what refresh stores, and reads build for cut or stale segments.
    `by_class`: the rows of the class tables, "substance_id" being a class code into `class_names(engine)`."""
    return rows_of(read_rows(engine, where_sql, offers), class_codes(engine) if by_class else None)


def read_rows(engine: Engine, where_sql: str, offers: bool = True) -> tuple[dict, dict, dict]:
    """(offers, mentions, their posts) matching `where_sql` as columns: what the aggregate's rows of every table
    are built from (`rows_of`, `reports.activity.source_rows_of`)."""
    dialect = engine.dialect.name
    day = _day_sql(engine)
    v = _Values(DEFAULT_TIERS, per_unit=True)
    real = "DOUBLE PRECISION" if dialect == "postgresql" else "REAL"
    qty = v.compile(case((T_OFFER.c.unit == "g", func.coalesce(T_OFFER.c.grams, T_OFFER.c.quantity)),
                         else_=T_OFFER.c.quantity), dialect)
    o = read_columns(engine, f"SELECT {day} AS day, substance_id, COALESCE(region_id, 0) AS region_id, post_id, "
                             f"COALESCE(unit, '') AS unit, COALESCE(currency, '') AS currency, "
                             f"CAST(COALESCE({v.compile(v.price, dialect)}, -1.0) AS {real}) AS price, "
                             f"CAST(COALESCE({v.compile(v.usd, dialect)}, -1.0) AS {real}) AS usd, "
                             f"CAST(COALESCE({qty}, {_NO_QTY}) AS {real}) AS qty FROM offer WHERE {where_sql}"
                             + ("" if offers else " AND 0 = 1"))
    seconds = _SECONDS_PG if dialect == "postgresql" else _SECONDS_SQLITE
    me = read_columns(engine, f"SELECT {day} AS day, substance_id, COALESCE(region_id, 0) AS region_id, post_id, "
                              f"{seconds} AS at FROM mention WHERE {where_sql}")
    posts = read_posts(engine, np.r_[me["post_id"].astype(np.int64), o["post_id"].astype(np.int64)],
                       f"SELECT post_id FROM mention WHERE {where_sql} UNION SELECT post_id FROM offer "
                       f"WHERE {where_sql}{'' if offers else ' AND 0 = 1'}")
    return o, me, posts


def rows_of(read: tuple[dict, dict, dict], lut: tuple[np.ndarray, list[str]] | None = None) -> tuple[dict, dict]:
    """(offer rows, mention rows) of `read_rows`' columns; with `lut` (`class_codes`) those of the class tables."""
    o, me, posts = read
    if lut is not None:
        o, me = as_classes(o, lut), as_classes(me, lut, all_regions=True)
    return _offer_rows(o), _mention_rows(me, posts)


def class_names(engine: Engine) -> list[str]:
    """The class tables' classes, sorted: '*' (every substance) and each stored substance class."""
    from npswatch.storage.tables import T_SUBSTANCE as S

    with engine.connect() as c:
        return sorted({"*"} | {k for k in c.execute(select(S.c["class"]).distinct()).scalars() if k})


def class_codes(engine: Engine) -> tuple[np.ndarray, list[str]]:
    """(per substance id its class's code into the names, -1 for none; the names: `class_names`)."""
    from npswatch.storage.tables import T_SUBSTANCE as S

    names = class_names(engine)
    pos = {n: i for i, n in enumerate(names)}
    with engine.connect() as c:
        rows = c.execute(select(S.c.id, S.c["class"])).all()
    lut = np.full(max([i for i, _ in rows], default=0) + 1, -1, dtype=np.int64)
    for i, k in rows:
        lut[i] = pos.get(k, -1)
    return lut, names


def as_classes(cols: dict, lut: tuple[np.ndarray, list[str]], all_regions: bool = False) -> dict:
    """Columns of offers or mentions once under '*' and once under their substance's class (none: '*' only),
    "substance_id" the class code (`class_codes`); `all_regions`: each of those once more under region -1, the
    rows of a whole class over all regions (a period's totals read one row, not one per region)."""
    codes, names = lut
    sub = cols["substance_id"].astype(np.int64)
    if not len(sub):
        return cols
    cls = codes[np.minimum(sub, len(codes) - 1)]
    cls = np.where(sub < len(codes), cls, -1)
    has = np.flatnonzero(cls >= 0)
    star = names.index("*")
    out = {}
    for k, v in cols.items():
        if isinstance(v, Coded):
            out[k] = Coded(np.r_[v.codes, v.codes[has]], v.values)
        else:
            out[k] = np.r_[v, v[has]]
    out["substance_id"] = np.r_[np.full(len(sub), star, dtype=np.int64), cls[has]]
    if all_regions:
        out = {k: Coded(np.r_[v.codes, v.codes], v.values) if isinstance(v, Coded) else np.r_[v, v]
               for k, v in out.items()}
        out["region_id"][len(out["region_id"]) // 2:] = -1
    return out


# seconds since 1970, rounded (the first and last time seen of `reports.activity`)
_SECONDS_SQLITE = "CAST(ROUND((julianday(observed_at) - 2440587.5) * 86400) AS INTEGER)"
_SECONDS_PG = "CAST(ROUND(EXTRACT(EPOCH FROM observed_at)) AS BIGINT)"


def _row_keys(cols: dict, text: tuple[str, ...]) -> tuple[np.ndarray, list[np.ndarray]]:
    """Rows' keys (segment, substance, region, text columns' codes) as arrays, text columns coded by name."""
    seg = segment_start(cols["day"].astype(np.int64))
    keys = [seg, cols["substance_id"].astype(np.int64), cols["region_id"].astype(np.int64)]
    for t in text:
        c = cols[t]
        if not isinstance(c, Coded):
            c = Coded(np.zeros(len(seg), dtype=np.int64), [])
        rank = np.empty(len(c.values), dtype=np.int64)
        rank[np.argsort(np.array(c.values, dtype=object), kind="stable")] = np.arange(len(c.values))
        keys.append(rank[c.codes] if len(c.values) else c.codes)
    return seg, keys


def _groups_of(sorted_keys: list[np.ndarray]) -> np.ndarray:
    """Starts of the runs of equal keys (and the end) in rows sorted by them."""
    n = len(sorted_keys[0])
    change = np.zeros(n, dtype=bool)
    if n:
        change[0] = True
        for k in sorted_keys:
            change[1:] |= k[1:] != k[:-1]
    return np.r_[np.flatnonzero(change), n].astype(np.int64)


def _offer_rows(o: dict) -> dict:
    if not len(o["day"]):
        return _empty_offer_rows()
    _, keys = _row_keys(o, ("unit", "currency"))
    price, usd, qty = o["price"], o["usd"], o["qty"]
    unpriced = price < 0
    order = np.lexsort((price, unpriced) + tuple(reversed(keys)))  # per row: priced first, by price
    sk = [k[order] for k in keys]
    starts = _groups_of(sk)
    first = starts[:-1]
    p_sorted, unpriced_sorted = price[order], unpriced[order]
    priced_before = np.r_[0, np.cumsum(~unpriced_sorted)]
    out = {"day": sk[0][first], "substance_id": sk[1][first], "region_id": sk[2][first],
           "unit": _coded_sorted(o["unit"], sk[3][first]), "currency": _coded_sorted(o["currency"], sk[4][first]),
           "offers": np.diff(starts),
           "prices": Ragged(p_sorted[~unpriced_sorted], priced_before[starts]),
           "qty": Ragged(qty[order], starts)}
    # USD: the prices of a (segment, substance, region, unit) whatever their currency, on the first of its rows
    # (the others' USD arrays are empty): a cell never splits them, and one sorted array needs no merging
    group_start = _groups_of(sk[:4])[:-1]
    lead = np.repeat(group_start, np.diff(np.r_[group_start, len(order)]))  # the first offer of each one's group
    row_of = np.searchsorted(first, lead)
    has = usd[order] >= 0
    r, u, q = row_of[has], usd[order][has], qty[order][has]
    o2 = np.lexsort((u, r))
    out["usd"] = Ragged(u[o2], np.r_[0, np.cumsum(np.bincount(r, minlength=len(first)))].astype(np.int64))
    out["usd_qty"] = Ragged(q[o2], out["usd"].starts)
    return out


def _coded_sorted(c, ranks: np.ndarray) -> Coded:
    """Codes that are ranks into the sorted names of `c` (see `_row_keys`)."""
    values = sorted(c.values) if isinstance(c, Coded) else []
    return Coded(ranks, values)


def _mention_rows(me: dict, posts: dict) -> dict:
    if not len(me["day"]):
        return _empty_mention_rows()
    pid = me["post_id"].astype(np.int64)
    order = np.argsort(posts["id"])
    at = np.searchsorted(posts["id"], pid, sorter=order)
    at = order[np.minimum(at, max(len(order) - 1, 0))] if len(order) else np.zeros(len(pid), dtype=np.int64)
    found = (posts["id"][at] == pid) if len(order) else np.zeros(len(pid), dtype=bool)
    ad = np.where(found, posts["ad"].astype(np.int64)[at] if len(order) else 0, -pid)
    source = np.where(found, posts["source"].astype(np.int64)[at] if len(order) else 0, -1)
    _, keys = _row_keys(me, ())
    order = np.lexsort(tuple(reversed(keys)))
    sk = [k[order] for k in keys]
    starts = _groups_of(sk)
    first = starts[:-1]
    row_of = np.repeat(np.arange(len(first)), np.diff(starts))
    out = {"day": sk[0][first], "substance_id": sk[1][first], "region_id": sk[2][first]}
    at = me["at"].astype(np.int64)[order]
    out["first_seen"], out["last_seen"] = np.minimum.reduceat(at, first), np.maximum.reduceat(at, first)
    for name, col in (("post_ids", pid), ("ad_ids", ad), ("source_ids", source)):
        ids = _distinct_rows(row_of, col[order], len(first))
        out[name] = ids
        out[name.split("_")[0] + "s"] = ids.lens
    return out


def _distinct_rows(row: np.ndarray, values: np.ndarray, n: int) -> Ragged:
    """Per row its distinct values, sorted."""
    o = np.lexsort((values, row))
    r, v = row[o], values[o]
    keep = np.r_[True, (r[1:] != r[:-1]) | (v[1:] != v[:-1])] if len(r) else np.zeros(0, dtype=bool)
    r, v = r[keep], v[keep]
    return Ragged(v, np.r_[0, np.cumsum(np.bincount(r, minlength=n))].astype(np.int64))


def _empty_offer_rows() -> dict:
    z = np.zeros(0, dtype=np.int64)
    empty = Ragged(np.zeros(0), np.zeros(1, dtype=np.int64))
    return {"day": z, "substance_id": z, "region_id": z, "unit": Coded(z, []), "currency": Coded(z, []),
            "offers": z} | {k: empty for k in OFFER_BLOBS}


def _empty_mention_rows() -> dict:
    z = np.zeros(0, dtype=np.int64)
    empty = Ragged(z, np.zeros(1, dtype=np.int64))
    return {"day": z, "substance_id": z, "region_id": z, "posts": z, "ads": z, "sources": z, "first_seen": z,
            "last_seen": z} | {
        k: empty for k in MENTION_BLOBS}


def _concat_rows(a: dict, b: dict) -> dict:
    if not len(a["day"]):
        return b
    if not len(b["day"]):
        return a
    out = {}
    for k, va in a.items():
        if k not in b:
            continue
        vb = b[k]
        if isinstance(va, Ragged):
            out[k] = va.concat(vb)
        elif isinstance(va, Coded):
            out[k] = _sorted_coded(Coded(np.concatenate([va.codes, vb.codes + len(va.values)]),
                                         list(va.values) + list(vb.values)))
        else:
            out[k] = np.concatenate([va, vb])
    return out


def stale_days(engine: Engine) -> np.ndarray:
    """Days written since the aggregate was last refreshed (sorted day numbers)."""
    from npswatch.storage.tables import T_STALE

    with engine.connect() as c:
        return np.array(sorted(c.execute(select(T_STALE.c.day)).scalars()), dtype=np.int64)


def _ranges_where(starts: np.ndarray, ends: np.ndarray, dialect: str) -> str:
    """observed_at within any of the day ranges [start, end) (adjacent ranges joined)."""
    if not len(starts):
        return "0 = 1"
    order = np.argsort(starts)
    spans: list[list[int]] = []
    for a, b in zip(starts[order].tolist(), ends[order].tolist()):
        if spans and a <= spans[-1][1]:
            spans[-1][1] = max(spans[-1][1], b)
        else:
            spans.append([a, b])
    day = lambda d: _stamp(datetime.combine(_EPOCH + timedelta(days=d), datetime.min.time()), dialect)  # noqa: E731
    return "(" + " OR ".join(f"(observed_at >= {day(a)} AND observed_at < {day(b)})" for a, b in spans) + ")"


def _ids_where(scope: Scope) -> str:
    conds = []
    if scope.substance_ids is not None:
        conds.append(f"substance_id IN ({','.join(str(int(i)) for i in scope.substance_ids) or 'NULL'})")
    if scope.region_ids is not None:
        conds.append(f"region_id IN ({','.join(str(int(i)) for i in scope.region_ids) or 'NULL'})")
    return "".join(" AND " + c for c in conds)


def aggregate_rows(engine: Engine, scope: Scope, offers: bool = True, quantities: bool = True,
                   merged: bool = False, all_regions: bool = False) -> tuple[dict, dict]:
    """(offer rows, mention rows) of the scope: stored rows of whole, fresh segments; built from the offers and
    mentions for the segments the scope's time span cuts and those written since the last refresh. Without
    `offers`, the offer rows are empty (not read); without `quantities` they lack "qty" and "usd_qty", with
    `quantities=None` all their arrays (stored rows: counts only). `merged`:
    the caller never tells substances apart, so a class scope (or every substance) reads the class tables' rows,
    each its substances merged (their substance_id -1); with `all_regions` too (and no region filter), its
    mention rows are those of all regions merged (region -1: for totals over the whole scope)."""
    span, stale, fresh = aggregate_plan(engine, scope)
    arrays = "" if quantities is None else ", prices, usd, qty, usd_qty" if quantities else ", prices, usd"
    prefix, sub, ids = _aggregate_source(scope, merged, all_regions)
    no = " AND 0 = 1" if not offers or ids.endswith("region_id = -1") else ""
    stored_o = read_columns(engine, f"SELECT day, {sub}, region_id, unit, currency, offers{arrays} "
                                    f"FROM {prefix}offer_week WHERE 1 = 1{span}{ids}{no}")
    stored_m = read_columns(engine, f"SELECT day, {sub}, region_id, posts, ads, sources, first_seen, last_seen, "
                                    f"post_ids, ad_ids, source_ids FROM {prefix}mention_week WHERE 1 = 1{span}{ids}")
    stored_o = _as_rows(stored_o, OFFER_BLOBS, _empty_offer_rows)
    stored_m = _as_rows(stored_m, MENTION_BLOBS, _empty_mention_rows)
    if len(stale):
        stored_o = _drop_days(stored_o, stale)
        stored_m = _drop_days(stored_m, stale)
    if len(fresh):
        built_o, built_m = build_rows(engine, fresh_where(engine, scope, fresh), offers=offers)
        stored_o, stored_m = _concat_rows(stored_o, built_o), _concat_rows(stored_m, built_m)
    return stored_o, stored_m


def class_key(scope: Scope) -> str | None:
    """The class tables' key of the scope's substances: its class, '*' (every substance) or None (neither)."""
    return scope.cls if scope.cls is not None else "*" if scope.substance_ids is None else None


def _aggregate_source(scope: Scope, merged: bool, all_regions: bool = False) -> tuple[str, str, str]:
    """(the aggregate tables' name prefix, the substance column, the condition on substance and region)."""
    key = class_key(scope) if merged else None
    if key is None:
        return "trend_", "substance_id", _ids_where(scope)
    regions = " AND region_id = -1" if all_regions and scope.region_ids is None else \
        _ids_where(Scope(None, scope.region_ids, None, None)) or " AND region_id >= 0"
    return "trend_class_", "-1 AS substance_id", " AND cls = '" + key.replace("'", "''") + "'" + regions


def aggregate_plan(engine: Engine, scope: Scope) -> tuple[str, np.ndarray, np.ndarray]:
    """How to read the scope from an aggregate table: (the SQL condition on `day` selecting the stored segments
    inside its time span, the stale segments to drop from them, the segments to build from the rows instead:
    stale ones inside the span and those the span cuts)."""
    stale = np.unique(segment_start(stale_days(engine)))
    lo = hi = None  # day numbers: the whole segments inside [since, until)
    cut: list[int] = []
    if scope.since is not None:
        d = (utc(scope.since).date() - _EPOCH).days
        s = int(segment_start(np.array([d]))[0])
        exact = s == d and utc(scope.since).time() == datetime.min.time()
        lo = d if exact else int(segment_end(np.array([s]))[0])
        if not exact:
            cut.append(s)
    if scope.until is not None:
        d = (utc(scope.until).date() - _EPOCH).days
        s = int(segment_start(np.array([d]))[0])
        exact = s == d and utc(scope.until).time() == datetime.min.time()
        hi = d if exact else s
        if not exact:
            cut.append(s)
    span = "".join([f" AND day >= {lo}" if lo is not None else "", f" AND day < {hi}" if hi is not None else ""])
    if lo is not None and hi is not None and lo >= hi:
        span = " AND 0 = 1"
    fresh = np.unique(np.r_[stale, np.array(cut, dtype=np.int64)]).astype(np.int64)
    if lo is not None or hi is not None:  # stale segments outside the span are not wanted
        keep = np.ones(len(fresh), dtype=bool)
        ends = segment_end(fresh)
        if scope.since is not None:
            keep &= ends > (utc(scope.since).date() - _EPOCH).days
        if scope.until is not None:
            keep &= fresh <= (utc(scope.until).date() - _EPOCH).days
        fresh = fresh[keep]
    return span, stale, fresh


def fresh_where(engine: Engine, scope: Scope, fresh: np.ndarray) -> str:
    """The condition on offers and mentions of the scope in the segments `fresh` (`aggregate_plan`)."""
    dialect = engine.dialect.name
    return f"{_where_sql(scope, dialect)} AND {_ranges_where(fresh, segment_end(fresh), dialect)}"


def _as_rows(cols: dict, blobs: dict, empty) -> dict:
    if not len(cols["day"]):
        return empty()
    out = {}
    for k, v in cols.items():
        if k in blobs:
            out[k] = Ragged.of_bytes(v.data, v.offsets, blobs[k]) if isinstance(v, Blobs) else v
        elif k in ("unit", "currency"):
            out[k] = _sorted_coded(v) if isinstance(v, Coded) else Coded(np.zeros(len(v), dtype=np.int64), [""])
        else:
            out[k] = v.astype(np.int64, copy=False) if isinstance(v, np.ndarray) else v
    return out


def _sorted_coded(c: Coded) -> Coded:
    """The same column with its values sorted and codes their ranks."""
    names = sorted(set(c.values))
    pos = {n: i for i, n in enumerate(names)}
    lut = np.array([pos[n] for n in c.values] or [0], dtype=np.int64)
    return Coded(lut[c.codes], names)


def _drop_days(rows: dict, days: np.ndarray) -> dict:
    keep = ~np.isin(rows["day"], days)
    return rows if keep.all() else _take_rows(rows, np.flatnonzero(keep))


def _only_offers(o: dict, unit: str, tier: int | None, bounds: dict[str, tuple[float, float]]) -> dict:
    """Aggregate offer rows of `unit` only, and with `tier` only their offers of that quantity tier (each row's
    arrays stay sorted; rows left without an offer dropped; the quantities then left out: all are of `tier`)."""
    u = o["unit"]
    mine = u.codes == (u.values.index(unit) if unit in u.values else -1)
    out = dict(o) if mine.all() else _take_rows(o, np.flatnonzero(mine))
    if tier is None or not len(out["day"]):
        return out
    units = out["unit"].values
    ucodes = out["unit"].codes
    q, prices = out["qty"], out["prices"]
    keep_q = _tier_of(q.values, np.repeat(ucodes, q.lens), units, bounds) == tier
    priced_q = _ragged_index(q.starts[:-1], prices.lens)  # a row's priced offers' quantities come first
    keep_p = keep_q[priced_q]
    keep_u = _tier_of(out["usd_qty"].values, np.repeat(ucodes, out["usd"].lens), units, bounds) == tier
    out["prices"] = _keep_values(prices, keep_p)
    out["usd"] = _keep_values(out["usd"], keep_u)
    out["offers"] = np.diff(np.r_[0, np.cumsum(keep_q)][q.starts])
    del out["qty"], out["usd_qty"]
    # a row without such offers may still hold its group's USD prices (they sit on the group's first row)
    keep = (out["offers"] > 0) | (out["usd"].lens > 0)
    return out if keep.all() else _take_rows(out, np.flatnonzero(keep))


def _keep_values(r: Ragged, keep: np.ndarray) -> Ragged:
    kept_before = np.r_[0, np.cumsum(keep)]
    return Ragged(r.values[keep], kept_before[r.starts].astype(np.int64))


def _take_rows(rows: dict, idx: np.ndarray) -> dict:
    out = {}
    for k, v in rows.items():
        if isinstance(v, Ragged):
            out[k] = v.take(idx)
        elif isinstance(v, Coded):
            out[k] = Coded(v.codes[idx], v.values)
        else:
            out[k] = v[idx]
    return out


def _tier_of(qty: np.ndarray, unit_of_value: np.ndarray, units: list[str],
             bounds: dict[str, tuple[float, float]]) -> np.ndarray:
    """Quantity tier (0 retail, 1 middle, 2 wholesale) of each value, as `_Values.tier` computes it in SQL."""
    lo = np.array([bounds.get(u, DEFAULT_TIERS["g"])[0] for u in units] or [0.0])
    hi = np.array([bounds.get(u, DEFAULT_TIERS["g"])[1] for u in units] or [0.0])
    if len(lo) == 1 or (len(unit_of_value) and (unit_of_value == unit_of_value[0]).all()):  # one unit: scalars
        lo, hi = lo[unit_of_value[0] if len(unit_of_value) else 0], hi[unit_of_value[0] if len(unit_of_value) else 0]
    else:
        lo, hi = lo[unit_of_value], hi[unit_of_value]
    return (qty > lo).astype(np.int64) + (qty > hi)


def _empty_table(ngroups: int) -> _Table:
    """The cells of a scope without offers or mentions."""
    none = np.zeros(0, dtype=np.int64)
    stats = {k: none for k in _INT_STATS + ("currency",)} | {k: np.zeros(0) for k in _FLOAT_STATS}
    return _Table(none, [[] for _ in range(ngroups)], [none] * ngroups, stats, [])


def _period_and_base_codes(engine: Engine, o: dict, me: dict, by: str, base: tuple[str, ...]):
    """The period and base-group codes shared by offers `o` and mentions `me`: their code columns (offers,
    mentions), the vocabulary and size of each group after the period, and the periods' values."""
    tables = [o, me]
    (po, pm), pvals = _shared_index([_periods(t["day"].astype(np.int64), by) for t in tables])
    idx_o, idx_m, vocab, sizes = [po], [pm], [], [len(pvals)]
    for g in base:
        (io, im), ids = _base_index(engine, g, tables)
        idx_o.append(io)
        idx_m.append(im)
        vocab.append(ids)
        sizes.append(max(len(ids), 1))
    return idx_o, idx_m, vocab, sizes, pvals


def _aggregate_cells(engine: Engine, o: dict, me: dict, by: str, base: tuple[str, ...], splits: tuple[str, ...],
                     bounds: dict[str, tuple[float, float]]) -> _Table:
    """The cells of the scope from its aggregate rows (`aggregate_rows`): the same table as `_columns_cells`."""
    groups = base + splits
    if not len(o["day"]) and not len(me["day"]):
        return _empty_table(len(groups))
    idx_o, idx_m, vocab, sizes, pvals = _period_and_base_codes(engine, o, me, by, base)
    nbase = len(sizes)
    units = o["unit"].values
    idx_o.append(o["unit"].codes)
    vocab.append([u or None for u in units])
    sizes.append(max(len(units), 1))
    tiers = "tier" in splits
    if tiers:
        vocab.append([0, 1, 2])
        sizes.append(3)
    nrow = len(o["day"])
    rcode = _combine(idx_o, sizes[:nbase + 1], nrow)  # a row's cell, without its tier
    ostats, ucode = _aggregate_offer_stats(o, rcode, tiers, bounds)
    mcode = _combine(idx_m, sizes[:nbase], len(me["day"]))
    mu, mstats = _aggregate_mention_stats(me, mcode)
    return _assemble(ucode, ostats, mu, mstats, sizes, nbase, pvals, vocab, list(o["currency"].values))


def _values_by_cell(rows: np.ndarray, rcode: np.ndarray, ragged: Ragged, tier: np.ndarray | None = None,
                    want=None) -> tuple[np.ndarray, np.ndarray]:
    """(cell code, value) of the values of `rows`, ordered by cell code and sorted within each cell. `tier` (per
    value of `ragged`) adds the tier to the code; `want(keys, row of each value)` keeps some values only."""
    order = rows[np.argsort(rcode[rows], kind="stable")]
    lens = ragged.lens[order]
    pos = _ragged_index(ragged.starts[order], lens)
    row_of = np.repeat(order, lens)
    keys = rcode[row_of]
    if tier is not None:
        keys = keys * 3 + tier[pos]
        o2 = np.argsort(keys, kind="stable")  # keeps each row's values sorted
        keys, pos, row_of = keys[o2], pos[o2], row_of[o2]
    if want is not None:
        keep = want(keys, row_of)
        keys, pos, row_of = keys[keep], pos[keep], row_of[keep]
    values = ragged.values[pos]
    if len(keys) > 1:
        # cells merging several rows: sort their values (a cell of one row is sorted already)
        new_cell = np.r_[True, keys[1:] != keys[:-1]]
        new_row = new_cell | np.r_[True, row_of[1:] != row_of[:-1]]
        cell_id = np.cumsum(new_cell) - 1
        multi = np.bincount(cell_id, weights=new_row)[cell_id] > 1
        if multi.any():
            sub = np.flatnonzero(multi)
            values[sub] = values[sub][np.lexsort((values[sub], keys[sub]))]
    return keys, values


def _run_quantiles(keys: np.ndarray, values: np.ndarray, qs=QUANTILES):
    """(keys, counts, [quantile arrays]) of values sorted within runs of equal keys (linear interpolation)."""
    if not len(keys):
        return keys, np.zeros(0, dtype=np.int64), [np.zeros(0) for _ in qs]
    starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])
    counts = np.diff(np.r_[starts, len(keys)])
    out = []
    for q in qs:
        pos = q * (counts - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, counts - 1)
        out.append(values[starts + lo] + (values[starts + hi] - values[starts + lo]) * (pos - lo))
    return keys[starts], counts, out


def _aggregate_offer_stats(o: dict, rcode: np.ndarray, tiers: bool, bounds) -> tuple[dict, np.ndarray]:
    """(stats per offer cell as `_offer_stats` gives them, the cells' codes)."""
    units = o["unit"].values
    ucodes = o["unit"].codes

    rows = np.arange(len(rcode))
    if tiers:
        q = o["qty"]
        row_of = np.repeat(rows, q.lens)
        codes_all = rcode[row_of] * 3 + _tier_of(q.values, ucodes[row_of], units, bounds)
    else:
        codes_all = rcode
    # cells: every (row cell, tier) with an offer
    ucode, inv = _dense(codes_all)
    n = len(ucode)
    at = np.zeros(int(ucode[-1]) + 1 if n else 1, dtype=np.int64)  # code -> index into ucode (a searchsorted)
    at[ucode] = np.arange(n)
    weights = None if tiers else o["offers"]
    out = {"offers": np.bincount(inv, weights=weights, minlength=n).astype(np.int64)}
    out |= {k: np.zeros(n, dtype=np.int64) for k in ("priced", "usd_offers")}
    out |= {k: np.full(n, np.nan) for k in _FLOAT_STATS}
    out["currency"] = np.full(n, -1, dtype=np.int64)
    cur = o["currency"].codes  # ranks into the sorted currency names (see _row_keys)
    ncur = max(len(o["currency"].values), 1)
    prices = o["prices"]
    price_tier = usd_tier = None
    if tiers:
        # the priced offers' quantities are the first of each row's
        q = o["qty"]
        price_tier = _tier_of(q.values[_ragged_index(q.starts[:-1], prices.lens)],
                              np.repeat(ucodes, prices.lens), units, bounds)
        usd_tier = _tier_of(o["usd_qty"].values, np.repeat(ucodes, o["usd"].lens), units, bounds)
        prow = np.repeat(rows, prices.lens)
        combo, count = _counts(at[rcode[prow] * 3 + price_tier] * ncur + cur[prow])
    else:
        combo, inv2 = _dense(at[rcode] * ncur + cur)
        count = np.bincount(inv2, weights=prices.lens, minlength=len(combo)).astype(np.int64)
        combo, count = combo[count > 0], count[count > 0]
    best = np.full(n, -1, dtype=np.int64)
    np.maximum.at(best, combo // ncur, count * ncur + (ncur - 1 - combo % ncur))
    local = np.where(best >= 0, ncur - 1 - best % ncur, -1)
    out["currency"] = local
    # local prices: the values in their cell's local currency
    if tiers:
        keys, values = _values_by_cell(np.flatnonzero(prices.lens > 0), rcode, prices, price_tier,
                                       want=lambda k, r: local[at[k]] == cur[r])
    else:
        mine = np.flatnonzero((local[at[rcode]] == cur) & (prices.lens > 0))
        keys, values = _values_by_cell(mine, rcode, prices)
    ks, ns, (q1, med, q3) = _run_quantiles(at[keys], values)
    out["priced"][ks], out["q1"][ks], out["median"][ks], out["q3"][ks] = ns, q1, med, q3
    usd = o["usd"]
    keys, values = _values_by_cell(np.flatnonzero(usd.lens > 0), rcode, usd, usd_tier)
    ks, ns, (q1, med, q3) = _run_quantiles(at[keys], values)
    out["usd_offers"][ks], out["usd_q1"][ks], out["usd_median"][ks], out["usd_q3"][ks] = ns, q1, med, q3
    return out, ucode


def _aggregate_mention_stats(me: dict, mcode: np.ndarray) -> tuple[np.ndarray, dict]:
    """(mention cells' codes, their distinct posts, ads and sources): a cell of one row takes the row's counts,
    a cell of several rows unites their id sets."""
    mu, inv = _dense(mcode)
    n = len(mu)
    out = {k: np.zeros(n, dtype=np.int64) for k in ("mentions", "ads", "sources")}
    if not n:
        return mu, out
    nrows = np.bincount(inv, minlength=n)
    single = nrows[inv] == 1
    for name, col, blob in (("mentions", "posts", "post_ids"), ("ads", "ads", "ad_ids"),
                            ("sources", "sources", "source_ids")):
        out[name][inv[single]] = me[col][single]
        multi = np.flatnonzero(~single)
        if len(multi):
            r = me[blob]
            lens = r.lens[multi]
            vals = r.values[_ragged_index(r.starts[multi], lens)]
            keys, counts = _distinct_per_key(np.repeat(inv[multi], lens), vals)
            out[name][keys] = counts
    return mu, out
