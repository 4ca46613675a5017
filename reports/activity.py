"""Where and since when a substance (or class, or anything) was seen: per place, per source, and its latest posts.

The substance page and the map of the web app read these (through `Watch.places` and `Watch.substance_profile`),
as does `npswatch places`. All three take the same `Filters` as the trend reports and count from the `mention`
table (a post naming the substance), joined to `post` for distinct ads (reposts of one ad count once; a post
without an ad is an ad of its own, as in `reports.trends`) and sources; offers are counted from `offer`.

- `places()`: one row per region named (a city, or a country when the post named no city, or none), with the
  first and last time it was seen there, posts, distinct ads, sources and offers, and the city's coordinates
  (`pipelines.geo`); earliest first, so the first row is where it was seen first.
- `sources()`: one row per source (shop, board, channel) with the same counts.
- `latest_posts()`: the newest posts of the scope, their text as stored (pseudonymised when written).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, func, select

from npswatch.pipelines.geo import city_coordinates
from npswatch.storage.tables import T_MENTION, T_OFFER, T_POST, T_REGION, T_SOURCE

from .scope import Filters, as_datetime, resolve, where

NO_REGION = "(no region)"


@dataclass(frozen=True)
class PlaceActivity:
    place: str  # "Almaty (KZ)", "KZ (no city)" or "(no region)": the trend tables' city labels
    name: str | None  # the city (or country) name as stored
    country: str | None
    level: str | None  # city | country | None (no region named)
    geonameid: int | None
    lat: float | None  # where the city is (None for a country or no region)
    lon: float | None
    first_seen: datetime
    last_seen: datetime
    posts: int  # posts naming the substance(s) there
    ads: int  # distinct ads among them
    sources: int
    offers: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class SourceActivity:
    source: str  # the source's key: site name or channel
    kind: str  # web | telegram | export
    first_seen: datetime
    last_seen: datetime
    posts: int
    ads: int
    offers: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LatestPost:
    post_id: int
    seen: datetime  # when the mention was observed (the post's date)
    source: str
    source_kind: str
    places: tuple[str, ...]  # the places it names, as `PlaceActivity.place`
    substances: tuple[str, ...]  # the substances of the scope it names
    text: str | None  # as stored: pseudonymised when written; None once retention removed it
    url: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def place_label(name: str | None, country: str | None, level: str | None) -> str:
    """The label of a region as the trend tables write it."""
    if level is None:
        return NO_REGION
    return f"{name} ({country})" if level == "city" else f"{country} (no city)"


def _ad():
    # a post without an ad (its text gone before ads were assigned) is an ad of its own
    return func.coalesce(T_POST.c.ad_id, -T_POST.c.id)


def places(engine: Engine, filters: Filters = Filters(), method: str = "aggregate") -> list[PlaceActivity]:
    """Every region the scope's posts name, earliest first (ties: most ads first, then by label).

    `method` "aggregate" reads the weekly aggregate (`reports.trends.aggregate_rows`: first and last seen to the
    second); "rows" the mentions and offers themselves."""
    Me, P, R, O = T_MENTION, T_POST, T_REGION, T_OFFER
    scope = resolve(engine, filters)
    if method == "aggregate":
        seen, offers = _aggregate_places(engine, scope)
    elif engine.dialect.name == "sqlite":
        seen, offers = _sqlite_seen(engine, scope, "region_id"), _sqlite_offers(engine, scope, "region_id")
    else:
        q = (select(Me.c.region_id, func.min(Me.c.observed_at), func.max(Me.c.observed_at),
                    func.count(func.distinct(Me.c.post_id)), func.count(func.distinct(_ad())),
                    func.count(func.distinct(P.c.source_id)))
             .select_from(Me.join(P, P.c.id == Me.c.post_id))
             .where(Me.c.observed_at.is_not(None), *where(Me, scope)).group_by(Me.c.region_id))
        qo = (select(O.c.region_id, func.count()).where(O.c.observed_at.is_not(None), *where(O, scope))
              .group_by(O.c.region_id))
        with engine.connect() as c:
            seen, offers = c.execute(q).all(), dict(c.execute(qo).all())
    ids = [r[0] for r in seen if r[0] is not None]
    with engine.connect() as c:
        regions = {i: (name, cc, level, gid) for i, name, cc, level, gid in c.execute(
            select(R.c.id, R.c.name, R.c.country, R.c.level, R.c.geonameid).where(R.c.id.in_(ids)))} if ids else {}
    coords = city_coordinates()
    out = []
    for rid, first, last, posts, ads, sources in seen:
        name, cc, level, gid = regions.get(rid, (None, None, None, None))
        lat, lon = coords.get(gid, (None, None)) if level == "city" and gid is not None else (None, None)
        out.append(PlaceActivity(place_label(name, cc, level), name, cc, level, gid, lat, lon, as_datetime(first),
                                 as_datetime(last), posts, ads, sources, offers.get(rid, 0)))
    out.sort(key=lambda p: (p.first_seen, -p.ads, p.place))
    return out


def sources(engine: Engine, filters: Filters = Filters(), method: str = "aggregate") -> list[SourceActivity]:
    """Every source whose posts name the scope, most distinct ads first.

    `method` "aggregate" reads the weekly aggregate per source (`trend_source_week`, migration 0017; segments
    cut by the time span or written since the last refresh are built from the rows); "rows" the mentions and
    offers themselves."""
    Me, P, S, O = T_MENTION, T_POST, T_SOURCE, T_OFFER
    scope = resolve(engine, filters)
    if method == "aggregate":
        counted, offers = _aggregate_sources(engine, scope)
    elif engine.dialect.name == "sqlite":
        counted = {sid: row for sid, *row in _sqlite_seen(engine, scope, "source")}
        offers = _sqlite_offers(engine, scope, "source")
    else:
        q = (select(P.c.source_id, func.min(Me.c.observed_at), func.max(Me.c.observed_at),
                    func.count(func.distinct(Me.c.post_id)), func.count(func.distinct(_ad())))
             .select_from(Me.join(P, P.c.id == Me.c.post_id))
             .where(Me.c.observed_at.is_not(None), *where(Me, scope)).group_by(P.c.source_id))
        qo = (select(P.c.source_id, func.count()).select_from(O.join(P, P.c.id == O.c.post_id))
              .where(O.c.observed_at.is_not(None), *where(O, scope)).group_by(P.c.source_id))
        with engine.connect() as c:
            counted = {sid: row for sid, *row in c.execute(q).all()}
            offers = dict(c.execute(qo).all())
    with engine.connect() as c:
        names = {i: (k, kind) for i, k, kind in c.execute(select(S.c.id, S.c.key, S.c.kind)
                                                          .where(S.c.id.in_(list(counted))))} if counted else {}
    out = [SourceActivity(names[sid][0], names[sid][1], as_datetime(row[0]), as_datetime(row[1]), row[2], row[3],
                          offers.get(sid, 0)) for sid, row in counted.items()]
    out.sort(key=lambda s: (-s.ads, -s.posts, s.source))
    return out


# --- the weekly aggregate per source (trend_source_week, migration 0017) ----------------------------------------
SOURCE_BLOBS = {"post_ids": "int64", "ad_ids": "int64"}


def build_source_rows(engine: Engine, where_sql: str, by_class: bool = False) -> dict:
    """The rows of `trend_source_week` from the offers and mentions matching `where_sql` (as
    `reports.trends.build_rows`): per segment, substance, region (0: none) and source, the distinct post and ad
    ids of its mentions, their first and last time seen (0 in a row of offers only) and the offers. `by_class`:
    those of `trend_class_source_week`, "substance_id" a class code (`reports.trends.class_codes`), each also
    over all regions (region -1: a scope without a region filter reads those)."""
    from .trends import class_codes, read_rows

    return source_rows_of(read_rows(engine, where_sql), class_codes(engine) if by_class else None)


def source_rows_of(read: tuple[dict, dict, dict], lut=None) -> dict:
    """`build_source_rows` from `reports.trends.read_rows`' columns (`lut`: the class tables' rows)."""
    import numpy as np

    from .trends import _distinct_rows, _groups_of, as_classes, segment_start

    o, me, posts = read
    if not len(me["day"]) and not len(o["day"]):
        return _empty_source_rows()
    if lut is not None:
        me, o = as_classes(me, lut, all_regions=True), as_classes(o, lut, all_regions=True)
    pids = posts["id"].astype(np.int64)
    porder = np.argsort(pids)

    def of_posts(t: dict) -> tuple:
        pid = t["post_id"].astype(np.int64)
        at = porder[np.minimum(np.searchsorted(pids, pid, sorter=porder), max(len(pids) - 1, 0))] if len(pids) \
            else np.zeros(len(pid), dtype=np.int64)
        found = pids[at] == pid if len(pids) else np.zeros(len(pid), dtype=bool)  # as the raw readers' join
        return found, pid[found], posts["ad"].astype(np.int64)[at][found], posts["source"].astype(np.int64)[at][found]

    mfound, mpid, mad, msrc = of_posts(me)
    ofound, _, _, osrc = of_posts(o)
    seg = np.r_[segment_start(me["day"].astype(np.int64))[mfound], segment_start(o["day"].astype(np.int64))[ofound]]
    sub = np.r_[me["substance_id"].astype(np.int64)[mfound], o["substance_id"].astype(np.int64)[ofound]]
    reg = np.r_[me["region_id"].astype(np.int64)[mfound], o["region_id"].astype(np.int64)[ofound]]
    src = np.r_[msrc, osrc]
    nm = len(mpid)
    order = np.lexsort((src, reg, sub, seg))
    sk = [k[order] for k in (seg, sub, reg, src)]
    starts = _groups_of(sk)
    first = starts[:-1]
    n = len(first)
    row = np.repeat(np.arange(n), np.diff(starts))  # of each sorted element
    is_m = order < nm
    out = {"day": sk[0][first], "substance_id": sk[1][first], "region_id": sk[2][first], "source_id": sk[3][first],
           "offers": np.bincount(row[~is_m], minlength=n).astype(np.int64)}
    mrow, morder = row[is_m], order[is_m]
    at = me["at"].astype(np.int64)[mfound][morder] if nm else np.zeros(0, dtype=np.int64)
    lo, hi = np.full(n, np.iinfo(np.int64).max), np.full(n, np.iinfo(np.int64).min)
    np.minimum.at(lo, mrow, at)
    np.maximum.at(hi, mrow, at)
    out["post_ids"] = _distinct_rows(mrow, mpid[morder], n)
    out["ad_ids"] = _distinct_rows(mrow, mad[morder], n)
    out["posts"], out["ads"] = out["post_ids"].lens, out["ad_ids"].lens
    out["first_seen"] = np.where(out["posts"] > 0, lo, 0)
    out["last_seen"] = np.where(out["posts"] > 0, hi, 0)
    return out


def _empty_source_rows() -> dict:
    import numpy as np

    from .trends import Ragged

    z = np.zeros(0, dtype=np.int64)
    return {k: z for k in ("day", "substance_id", "region_id", "source_id", "posts", "ads", "offers", "first_seen",
                           "last_seen")} | {k: Ragged(z, np.zeros(1, dtype=np.int64)) for k in SOURCE_BLOBS}


def _aggregate_sources(engine: Engine, scope) -> tuple[dict, dict]:
    """({source id: (first seen, last seen, posts, distinct ads)}, {source id: offers}) of the scope from the
    aggregate: a source's posts and ads are the union of its rows' id sets."""
    import numpy as np

    from .trends import (_aggregate_source, _as_rows, _concat_rows, _distinct_per_key, _drop_days, _ragged_index,
                         aggregate_plan, fresh_where, read_columns)

    span, stale, fresh = aggregate_plan(engine, scope)
    prefix, _, ids = _aggregate_source(scope, merged=True, all_regions=True)
    rows = _as_rows(read_columns(engine, "SELECT day, source_id, posts, offers, first_seen, last_seen, post_ids, "
                                         f"ad_ids FROM {prefix}source_week WHERE 1 = 1{span}{ids}"),
                    {k: np.dtype(v) for k, v in SOURCE_BLOBS.items()}, _empty_source_rows)
    if len(stale):
        rows = _drop_days(rows, stale)
    if len(fresh):
        rows = _concat_rows(rows, build_source_rows(engine, fresh_where(engine, scope, fresh)))
    if not len(rows["day"]):
        return {}, {}
    keys, inv = np.unique(rows["source_id"], return_inverse=True)
    ns = np.bincount(inv, weights=rows["offers"], minlength=len(keys)).astype(np.int64)
    offers = {k: n for k, n in zip(keys.tolist(), ns.tolist()) if n}
    seen = rows["posts"] > 0
    if not seen.any():
        return {}, offers
    inv = inv[seen]
    first = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(keys), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, inv, rows["first_seen"][seen])
    np.maximum.at(last, inv, rows["last_seen"][seen])
    counts = []
    for blob in ("post_ids", "ad_ids"):
        r = rows[blob]
        full = np.zeros(len(keys), dtype=np.int64)
        rs = np.flatnonzero(seen)
        lens = r.lens[rs]
        ks, cs = _distinct_per_key(np.repeat(inv, lens), r.values[_ragged_index(r.starts[rs], lens)])
        full[ks] = cs
        counts.append(full)
    stamp = lambda v: datetime.fromtimestamp(int(v), timezone.utc)  # noqa: E731
    present = np.flatnonzero(counts[0] > 0)
    counted = {int(keys[i]): (stamp(first[i]), stamp(last[i]), int(counts[0][i]), int(counts[1][i]))
               for i in present.tolist()}
    return counted, offers


# --- SQLite: the scope's mentions read as columns (`read_columns`) and counted in numpy, as
# reports.trends does: SQLite's COUNT(DISTINCT ...) sorts once per column and group, ten times slower here.
_SECONDS = "CAST(ROUND((julianday(observed_at) - 2440587.5) * 86400) AS INTEGER)"


def _sqlite_seen(engine: Engine, scope, key: str) -> list[tuple]:
    """[(key value or None, first seen, last seen, posts, distinct ads, sources)] per region_id or source."""
    import numpy as np

    from .trends import _distinct_per_key, mention_columns_sql, read_columns

    sql = mention_columns_sql(scope, _SECONDS, ("city",))
    cols = read_columns(engine, sql)
    if not len(cols["day"]):
        return []
    cols["ad"], cols["source"] = _of_posts(engine, cols["post_id"].astype(np.int64), "mention", scope)
    keys, idx = np.unique(cols[key].astype(np.int64), return_inverse=True)
    order = np.argsort(idx, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(idx[order]) != 0])
    t = cols["day"].astype(np.int64)[order]
    first, last = np.minimum.reduceat(t, starts), np.maximum.reduceat(t, starts)
    counts = []
    for col in ("post_id", "ad", "source"):
        ks, ns = _distinct_per_key(idx, cols[col].astype(np.int64))
        full = np.zeros(len(keys), dtype=np.int64)
        full[ks] = ns
        counts.append(full)
    stamp = lambda v: datetime.fromtimestamp(int(v), timezone.utc)  # noqa: E731
    return [(None if key == "region_id" and k == 0 else int(k), stamp(a), stamp(b), int(p), int(ad), int(sr))
            for k, a, b, p, ad, sr in zip(keys.tolist(), first.tolist(), last.tolist(), *(c.tolist() for c in counts))]


def _aggregate_places(engine: Engine, scope) -> tuple[list[tuple], dict]:
    """`_sqlite_seen` per region and the offers per region, from the weekly aggregate: a region's posts, ads and
    sources are the union of its rows' id sets."""
    import numpy as np

    from .trends import _distinct_per_key, _ragged_index, aggregate_rows

    o, me = aggregate_rows(engine, scope, quantities=None, merged=True)  # offers: their counts only
    offers: dict = {}
    if len(o["day"]):
        ks, inv = np.unique(o["region_id"], return_inverse=True)
        ns = np.bincount(inv, weights=o["offers"]).astype(np.int64)
        offers = {(None if k == 0 else k): n for k, n in zip(ks.tolist(), ns.tolist())}
    if not len(me["day"]):
        return [], offers
    keys, inv = np.unique(me["region_id"], return_inverse=True)
    first = np.full(len(keys), np.iinfo(np.int64).max, dtype=np.int64)
    last = np.full(len(keys), np.iinfo(np.int64).min, dtype=np.int64)
    np.minimum.at(first, inv, me["first_seen"])
    np.maximum.at(last, inv, me["last_seen"])
    counts = []
    for blob in ("post_ids", "ad_ids", "source_ids"):
        r = me[blob]
        full = np.zeros(len(keys), dtype=np.int64)
        if len(r.values):
            ks, ns = _distinct_per_key(np.repeat(inv, r.lens), r.values[_ragged_index(r.starts[:-1], r.lens)])
            full[ks] = ns
        counts.append(full)
    stamp = lambda v: datetime.fromtimestamp(int(v), timezone.utc)  # noqa: E731
    seen = [(None if k == 0 else int(k), stamp(a), stamp(b), int(p), int(ad), int(sr))
            for k, a, b, p, ad, sr in zip(keys.tolist(), first.tolist(), last.tolist(), *(c.tolist() for c in counts))]
    return seen, offers


def _of_posts(engine: Engine, post_ids, table: str, scope) -> tuple:
    """(ad, source) of each post id, the ids being those of `table`'s (mention, offer) rows in `scope`."""
    import numpy as np

    from .trends import _where_sql, read_posts

    posts = read_posts(engine, post_ids, f"SELECT post_id FROM {table} WHERE {_where_sql(scope)}")
    order = np.argsort(posts["id"])
    at = order[np.searchsorted(posts["id"], post_ids, sorter=order)]
    return posts["ad"][at], posts["source"][at]


def _sqlite_offers(engine: Engine, scope, key: str) -> dict:
    """{region id or source id: offers of the scope}."""
    import numpy as np

    from .trends import _where_sql, read_columns

    col = "COALESCE(region_id, 0)" if key == "region_id" else "post_id"
    cols = read_columns(engine, f"SELECT {col} AS k FROM offer WHERE {_where_sql(scope)}")
    if not len(cols["k"]):
        return {}
    if key != "region_id":
        cols["k"] = _of_posts(engine, cols["k"].astype(np.int64), "offer", scope)[1]
    ks, ns = np.unique(cols["k"].astype(np.int64), return_counts=True)
    return {(None if key == "region_id" and k == 0 else k): n for k, n in zip(ks.tolist(), ns.tolist())}


def latest_posts(engine: Engine, filters: Filters = Filters(), limit: int = 20) -> list[LatestPost]:
    """The `limit` newest posts naming the scope, newest first (a post naming it twice is listed once)."""
    from npswatch.storage.tables import T_SUBSTANCE as Sub

    Me, P, S, R = T_MENTION, T_POST, T_SOURCE, T_REGION
    if limit <= 0:
        return []
    scope = resolve(engine, filters)
    cond = [Me.c.observed_at.is_not(None), *where(Me, scope)]
    with engine.connect() as c:
        picked: dict[int, datetime] = {}
        # newest mentions first, through the (observed_at, ...) index; a post has a few mentions at most
        for batch in (limit * 4, None):
            q = select(Me.c.post_id, Me.c.observed_at).where(*cond).order_by(Me.c.observed_at.desc(),
                                                                              Me.c.post_id.desc())
            picked.clear()
            for pid, at in c.execute(q.limit(batch) if batch else q):
                picked.setdefault(pid, at)
                if len(picked) == limit:
                    break
            if len(picked) == limit or batch is None:
                break
        if not picked:
            return []
        ids = list(picked)
        posts = {r.id: r for r in c.execute(select(P.c.id, P.c.text, P.c.url, S.c.key, S.c.kind)
                                            .select_from(P.join(S, S.c.id == P.c.source_id))
                                            .where(P.c.id.in_(ids)))}
        named: dict[int, tuple[set, set]] = {i: (set(), set()) for i in ids}
        for pid, name, cc, level, sub in c.execute(
                select(Me.c.post_id, R.c.name, R.c.country, R.c.level, func.coalesce(Sub.c.canonical, Sub.c.key))
                .select_from(Me.outerjoin(R, R.c.id == Me.c.region_id).join(Sub, Sub.c.id == Me.c.substance_id))
                .where(Me.c.post_id.in_(ids), *where(Me, scope))):
            named[pid][0].add(place_label(name, cc, level))
            named[pid][1].add(sub)
    out = []
    for pid in ids:
        p = posts[pid]
        out.append(LatestPost(pid, as_datetime(picked[pid]), p.key, p.kind, tuple(sorted(named[pid][0])),
                              tuple(sorted(named[pid][1])), p.text, p.url))
    return out
