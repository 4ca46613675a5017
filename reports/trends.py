"""Price and mention trends: per period (week or month), series and group, never mixing what cannot be mixed.

A price series is one substance (or one class, when the filters name a class: every offer of the class), in one
unit (g, piece, ml), optionally in one quantity tier (retail <= 1, 1-10, wholesale > 10 units; the bounds are
`[trends] tiers`). Without a substance or class filter a table grouped by city, country or nothing is also
grouped by substance (`mixing_note()` says so): a median across salts, hashish and MDMA describes no drug.

Each `TrendRow` gives the number of offers, the median and interquartile range of the price per unit in the
group's local currency (the currency most of its priced offers use; offers in other currencies count only in
USD) and in USD (offers whose rate was known on the day; for pieces and ml, offers priced in USD), and the
number of posts mentioning the series' substance(s) in the group (whatever the unit).

Quantiles are linear-interpolation quantiles (PostgreSQL's `percentile_cont`, numpy's default). PostgreSQL
computes them in the server. SQLite has no percentile function, so the offers of the scope are read as
columns (Arrow, through the ADBC SQLite driver when installed, else the stdlib driver) and grouped in numpy
in one sort; this is what makes week x city over a million offers take well under a second.

>>> q = _group_quantiles(np.array([1, 1, 1, 2]), np.array([3.0, 1.0, 2.0, 5.0]))
>>> q[0].tolist(), q[1].tolist(), [x.tolist() for x in q[2]]
([1, 2], [3, 1], [[1.5, 5.0], [2.0, 5.0], [2.5, 5.0]])
>>> tier_label("g", 0, DEFAULT_TIERS), tier_label("piece", 2, DEFAULT_TIERS), tier_label("g", None, DEFAULT_TIERS)
('retail <=1 g', 'wholesale >10 piece', 'all sizes')
"""
from __future__ import annotations

import urllib.parse
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import NamedTuple

import numpy as np
from sqlalchemy import Engine, and_, case, func, literal, select
from sqlalchemy.dialects import sqlite as sqlite_dialect


from .scope import Filters, Scope, ScopeError, as_date, period_sql, resolve, utc, where
from npswatch.storage.tables import T_MENTION, T_OFFER, T_POST, T_REGION, T_SUBSTANCE


GROUPS = ("city", "country", "substance", "none")
SPLITS = ("unit", "tier")  # offer-only groupings that come after GROUPS in `cells()`
DEFAULT_TIERS: dict[str, tuple[float, float]] = {"g": (1.0, 10.0), "piece": (1.0, 10.0), "ml": (1.0, 10.0)}
QUANTILES = (0.25, 0.5, 0.75)
NO_REGION = "(no region)"
_EPOCH = date(1970, 1, 1)


@dataclass(frozen=True, slots=True)
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
           tiers: bool = False, tier_bounds: dict[str, tuple[float, float]] | None = None) -> list[TrendRow]:
    """The trend table of `filters`: one row per period, series, group, unit (and tier with `tiers=True`),
    sorted by period, series, group, unit, tier. See `mixing_note()` for when substances become series."""
    if group not in GROUPS:
        raise ScopeError(f"group must be one of {', '.join(GROUPS)}, not {group!r}")
    bounds = tier_bounds or DEFAULT_TIERS
    per_substance = splits_by_substance(filters, group)
    base = tuple(g for g in (group, "substance" if per_substance else None) if g and g != "none") or ("none",)
    groups = base + (("unit", "tier") if tiers else ("unit",))
    labels = _labels(engine, group)
    names = _labels(engine, "substance") if (per_substance or group == "substance") else {}
    if filters.substance or filters.cls:
        series_name = _series_name(engine, filters)
    rows = []
    for (period, ids), c in cells(engine, filters, by, groups, tier_bounds=bounds).items():
        gid = ids[0] if group != "none" else 0
        label = labels.get(gid, NO_REGION if gid is None else str(gid))
        if group == "substance":
            series = label
        elif per_substance:
            series = names.get(ids[len(base) - 1], "all substances")
        else:
            series = series_name if (filters.substance or filters.cls) else "all substances"
        unit = ids[len(base)]
        tier = tier_label(unit, ids[len(base) + 1], bounds) if tiers and unit else "all sizes"
        rows.append(TrendRow(period=period, group=label, series=series, unit=unit, tier=tier, **c))
    rows.sort(key=lambda r: (r.period, r.series, r.group, r.unit or "~", r.tier))
    return rows


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
          tier_bounds: dict[str, tuple[float, float]] | None = None) -> dict:
    """{(period, (group id, ...)): cell dict} for any combination of groups, e.g. ("city", "substance").

    Group ids: region id (city; a country-level region stands for offers naming no city), ISO country code,
    substance id, or 0 (none); None where the offer or mention has no region. `groups` may end with "unit"
    (then prices are per unit: per gram, per piece, per ml) and "tier" (0 retail, 1 middle, 2 wholesale, by
    `tier_bounds`); mentions have neither, so a cell's mentions are those of its groups before them, and cells
    with mentions but no offer have None there."""
    base = tuple(g for g in groups if g not in SPLITS)
    splits = groups[len(base):]
    for g in base:
        if g not in GROUPS:
            raise ScopeError(f"group must be one of {', '.join(GROUPS)}, not {g!r}")
    if any(g not in SPLITS for g in splits) or ("tier" in splits and "unit" not in splits):
        raise ScopeError(f"unit and tier groupings come last, tier with unit: {groups!r}")
    period_sql(T_OFFER.c.observed_at, engine.dialect.name, by)  # validates `by`
    scope = resolve(engine, filters)
    exprs = _Values(tier_bounds or DEFAULT_TIERS, per_unit="unit" in splits)
    fn = _cells_sql if engine.dialect.name == "postgresql" else _cells_numpy
    if not splits:
        return fn(engine, scope, by, groups, exprs)
    offers = fn(engine, scope, by, groups, exprs, mentions=False)
    mentions = fn(engine, scope, by, base, exprs, offers=False)
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
        self.tier = case(*whens, (qty <= lo, 0), (qty <= hi, 1), else_=2)

    @staticmethod
    def sqlite(expr) -> str:
        """The expression as SQLite text (values inlined: they are numbers and unit names from the config)."""
        return str(expr.compile(dialect=sqlite_dialect.dialect(), compile_kwargs={"literal_binds": True}))


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


# --- SQLite: columns out, one sort in numpy --------------------------------------------------------------
def _sqlite_literal(d: datetime) -> str:
    # The text form SQLAlchemy stores on SQLite (UTC, no offset), so that comparisons are text comparisons.
    return "'" + utc(d).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f") + "'"


def _where_sql(scope: Scope) -> str:
    conds = ["observed_at IS NOT NULL"]
    # Ids and timestamps are typed values formatted here, never user text: safe to inline.
    if scope.substance_ids is not None:
        conds.append(f"substance_id IN ({','.join(str(int(i)) for i in scope.substance_ids) or 'NULL'})")
    if scope.region_ids is not None:
        conds.append(f"region_id IN ({','.join(str(int(i)) for i in scope.region_ids) or 'NULL'})")
    if scope.since is not None:
        conds.append(f"observed_at >= {_sqlite_literal(scope.since)}")
    if scope.until is not None:
        conds.append(f"observed_at < {_sqlite_literal(scope.until)}")
    return " AND ".join(conds)


# Day number since 1970-01-01 of the UTC date. unixepoch() (SQLite >= 3.38, always in the ADBC driver's SQLite)
# is about a quarter faster per row than julianday(), whose day starts at noon, hence +0.5.
_DAY_UNIXEPOCH = "unixepoch(observed_at) / 86400"
_DAY_JULIAN = "CAST(julianday(observed_at) + 0.5 AS INTEGER) - 2440588"


_GROUP_COLUMNS = {"city": ("region_id",), "country": ("region_id",), "substance": ("substance_id",), "none": (),
                  "unit": ("unit",), "tier": ("tier",)}


def _group_columns(groups: tuple[str, ...], values: "_Values | None" = None) -> str:
    # only the id columns the grouping needs: every column read costs
    cols = dict.fromkeys(c for g in groups for c in _GROUP_COLUMNS[g])
    special = {"region_id": ", IFNULL(region_id, 0) AS region_id", "unit": ", IFNULL(unit, '') AS unit"}
    if values is not None:
        special["tier"] = f", {values.sqlite(values.tier)} AS tier"
    return "".join(special.get(c, f", {c}") for c in cols)


def offer_columns_sql(scope: Scope, day: str = _DAY_JULIAN, groups: tuple[str, ...] = ("city", "substance"),
                      values: "_Values | None" = None) -> str:
    # NULLs become sentinels (-1, '') so the Arrow driver infers one type per column from any batch.
    price, usd = ("price_per_gram", "price_per_gram_usd") if values is None or not values.per_unit else (
        values.sqlite(values.price), values.sqlite(values.usd))
    return (f"SELECT {day} AS day{_group_columns(groups, values)}, "
            f"IFNULL(currency, '') AS currency, CAST(IFNULL({price}, -1.0) AS REAL) AS ppg, "
            f"CAST(IFNULL({usd}, -1.0) AS REAL) AS usd "
            f"FROM offer WHERE {_where_sql(scope)}")


def mention_columns_sql(scope: Scope, day: str = _DAY_JULIAN, groups: tuple[str, ...] = ("city", "substance")) -> str:
    # a post without an ad (its text gone before ads were assigned) is an ad of its own: -post id
    return (f"SELECT {day} AS day{_group_columns(groups)}, mention.post_id AS post_id, "
            "IFNULL(post.ad_id, -mention.post_id) AS ad, post.source_id AS source "
            f"FROM mention JOIN post ON post.id = mention.post_id WHERE {_where_sql(scope)}")


def _day_sql(engine: Engine) -> str:
    if _sqlite_file(engine) is not None and _adbc() is not None:
        return _DAY_UNIXEPOCH
    import sqlite3

    return _DAY_UNIXEPOCH if sqlite3.sqlite_version_info >= (3, 38) else _DAY_JULIAN


def _sqlite_file(engine: Engine) -> str | None:
    db = engine.url.database
    return None if not db or db == ":memory:" or db.startswith("file:") else db


class Coded(NamedTuple):
    """A text column as integer codes into its distinct values: a million currency codes cost one small array."""

    codes: np.ndarray
    values: list[str]

    def __len__(self) -> int:
        return len(self.codes)


def read_columns(engine: Engine, sql: str, *, use_arrow: bool | None = None) -> dict[str, np.ndarray | Coded]:
    """Run a SELECT on SQLite and return its columns as numpy arrays (text columns as `Coded`).

    With the ADBC SQLite driver installed the result arrives as Arrow columns (no Python object per value),
    read-only and outside SQLAlchemy's pool; otherwise the stdlib driver is used.
    """
    path = _sqlite_file(engine)
    if use_arrow is None:
        use_arrow = path is not None and _adbc() is not None
    if use_arrow and path:
        dbapi = _adbc()
        uri = "file:" + urllib.parse.quote(str(path)) + "?mode=ro"
        with dbapi.connect(uri) as conn, conn.cursor() as cur:
            # readers opening a WAL database at the same moment may briefly lock each other out
            cur.execute("PRAGMA busy_timeout = 30000")
            cur.execute(sql)
            table = cur.fetch_arrow_table()
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
        if isinstance(sample, str):
            lookup: dict[str, int] = {}
            codes = np.fromiter((lookup.setdefault(v, len(lookup)) for v in col), dtype=np.int64, count=len(col))
            out[name] = Coded(codes, list(lookup))
        else:
            out[name] = np.fromiter(col, dtype=np.float64 if isinstance(sample, float) else np.int64, count=len(col))
    return out


def _arrow_to_numpy(col) -> np.ndarray | Coded:
    import pyarrow as pa

    if pa.types.is_string(col.type) or pa.types.is_large_string(col.type):
        enc = col.combine_chunks().dictionary_encode()
        return Coded(enc.indices.to_numpy(zero_copy_only=False).astype(np.int64), enc.dictionary.to_pylist())
    if pa.types.is_null(col.type):  # an empty result
        return np.zeros(len(col), dtype=np.int64)
    return col.to_numpy()


_ADBC: list = []


def _adbc():
    if not _ADBC:
        try:
            import adbc_driver_sqlite.dbapi as dbapi
        except ImportError:
            dbapi = None
        _ADBC.append(dbapi)
    return _ADBC[0]


def _periods(day: np.ndarray, by: str) -> np.ndarray:
    """Day numbers -> day number of the period's first day."""
    if by == "week":
        return day - (day + 3) % 7  # 1970-01-01 was a Thursday (weekday 3)
    months = day.astype("datetime64[D]").astype("datetime64[M]")
    return months.astype("datetime64[D]").astype(np.int64)


def _combined_ids(cols: dict[str, np.ndarray], groups: tuple[str, ...], engine: Engine) -> tuple[np.ndarray, list]:
    """Per row one integer for the combination of groups, and the tuple of group ids of each integer."""
    idx = np.zeros(len(cols["day"]), dtype=np.int64)
    ids: list[tuple] = [()]
    for g in groups:
        gidx, gids = _group_ids(cols, g, engine)
        idx = idx * len(gids) + gidx
        ids = [t + (i,) for t in ids for i in gids]
    return idx, ids


def _group_ids(cols: dict[str, np.ndarray], group: str, engine: Engine) -> tuple[np.ndarray, list]:
    """Per row a small integer group index, and the group id (region id, country, substance id) of each index."""
    if group == "city":
        raw = cols["region_id"]
    elif group == "substance":
        raw = cols["substance_id"]
    elif group == "tier":
        raw = cols["tier"]
    elif group == "unit":
        return cols["unit"].codes, [v or None for v in cols["unit"].values]
    elif group == "none":
        return np.zeros(len(cols["day"]), dtype=np.int64), [0]
    else:
        with engine.connect() as c:
            region_country = {i: cc for i, cc in c.execute(select(T_REGION.c.id, T_REGION.c.country))}
        ids = _distinct(cols["region_id"])
        lut_idx = {}
        names: list = []
        for cc in sorted({region_country.get(int(i)) for i in ids}, key=lambda x: (x is None, x or "")):
            lut_idx[cc] = len(names)
            names.append(cc)
        lut = np.zeros(int(ids.max()) + 1 if len(ids) else 1, dtype=np.int64)
        for i in ids:
            lut[int(i)] = lut_idx[region_country.get(int(i))]
        return lut[cols["region_id"]], names
    uniq, inv = _dense(raw.astype(np.int64))
    ids = [None if (group == "city" and int(u) == 0) else int(u) for u in uniq]
    return inv, ids


def _cell_keys(cols: dict, groups: tuple[str, ...], by: str, engine: Engine):
    """Per row a compact cell index in [0, cells), and a function from that index to (period, group ids)."""
    gidx, gids = _combined_ids(cols, groups, engine)
    period = _periods(cols["day"].astype(np.int64), by)
    base = int(period.min())
    periods, pidx = _dense(period - base)
    cells, key = _dense(pidx * len(gids) + gidx)

    def cell_of(k: int) -> tuple:
        p, g = divmod(int(cells[k]), len(gids))
        return _EPOCH + timedelta(days=base + int(periods[p])), gids[g]

    return cell_of, key


def _dense(ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct ids, index of each row's id among them) for small non-negative ids, in O(n) (no sort)."""
    if not len(ids):
        return ids, ids
    if int(ids.max()) > 8 * len(ids) + (1 << 20):  # sparse: a sort costs less than a huge table
        uniq, inv = np.unique(ids, return_inverse=True)
        return uniq, inv.astype(np.int64)
    present = np.zeros(int(ids.max()) + 1, dtype=bool)
    present[ids] = True
    lut = np.cumsum(present) - 1
    return np.flatnonzero(present), lut[ids]


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


def _cells_numpy(engine: Engine, scope: Scope, by: str, groups: tuple[str, ...], values: "_Values",
                 offers: bool = True, mentions: bool = True) -> dict:
    out: dict = defaultdict(_empty_cell)
    day = _day_sql(engine)
    # mentions are read in a second thread while the offers are read and sorted (both drivers release the GIL)
    pool = ThreadPoolExecutor(1)
    if mentions:
        found = pool.submit(read_columns, engine, mention_columns_sql(scope, day, groups))
    try:
        if offers:
            _offer_cells(engine, scope, by, groups, day, out, values)
        if mentions:
            _mention_cells(engine, found.result(), by, groups, out)
    finally:
        pool.shutdown(wait=True)
    return out


def _offer_cells(engine: Engine, scope: Scope, by: str, groups: tuple[str, ...], day: str, out: dict,
                 values: "_Values | None" = None) -> None:
    o = read_columns(engine, offer_columns_sql(scope, day, groups, values))
    if len(o["day"]):
        cells_of, key = _cell_keys(o, groups, by, engine)

        def cell(k: int) -> dict:
            return out[cells_of(k)]

        keys, counts = _counts(key)
        for k, n in zip(keys.tolist(), counts.tolist()):
            cell(k)["offers"] = n

        # local currency: most frequent currency among the priced offers of each cell
        priced = o["ppg"] >= 0
        cur_names = o["currency"].values
        cur_code = o["currency"].codes[priced]
        n_cur = max(len(cur_names), 1)
        pkey = key[priced]
        combo, ccount = _counts(pkey * n_cur + cur_code)
        per_cell: dict = defaultdict(dict)
        for cb, n in zip(combo.tolist(), ccount.tolist()):
            per_cell[cb // n_cur][cur_names[cb % n_cur]] = n
        if per_cell:
            local = {k: _pick_currency(v) for k, v in per_cell.items()}
            code_of = {name: i for i, name in enumerate(cur_names)}
            want = np.full(int(key.max()) + 1, -1, dtype=np.int64)
            for k, cur in local.items():
                want[k] = code_of[cur]
            sel = want[pkey] == cur_code
            ks, ns, (q1, med, q3) = _group_quantiles(pkey[sel], o["ppg"][priced][sel])
            for k, n, a, b, c in zip(ks.tolist(), ns.tolist(), q1.tolist(), med.tolist(), q3.tolist()):
                cell(k).update(currency=local[k] or None, priced=n, q1=a, median=b, q3=c)

        has_usd = o["usd"] >= 0
        ks, ns, (q1, med, q3) = _group_quantiles(key[has_usd], o["usd"][has_usd])
        for k, n, a, b, c in zip(ks.tolist(), ns.tolist(), q1.tolist(), med.tolist(), q3.tolist()):
            cell(k).update(usd_offers=n, usd_q1=a, usd_median=b, usd_q3=c)


def _mention_cells(engine: Engine, me: dict, by: str, groups: tuple[str, ...], out: dict) -> None:
    if len(me["day"]):
        cells_of, key = _cell_keys(me, groups, by, engine)
        # distinct posts per cell: a post naming two cities of one country counts once for the country
        for name, col in (("mentions", "post_id"), ("ads", "ad"), ("sources", "source")):
            keys, counts = _distinct_per_key(key, me[col].astype(np.int64))
            for k, n in zip(keys.tolist(), counts.tolist()):
                out[cells_of(k)][name] = n


def _distinct_per_key(key: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(keys, number of distinct values of each)."""
    values = values - int(values.min())
    span = int(values.max()) + 1
    pairs = _distinct(key * span + values)
    return _counts(pairs // span)
