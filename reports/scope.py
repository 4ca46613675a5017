"""What a report is about: filters from the command line resolved to ids, time spans and period keys.

Every report (trends, exports, signals) takes the same `Filters`; `resolve()` turns names into substance
and region ids once, so the big queries touch one table with `IN (...)` lists and a time range.

>>> parse_since("7d", now=datetime(2026, 3, 10, tzinfo=timezone.utc))
datetime.datetime(2026, 3, 3, 0, 0, tzinfo=datetime.timezone.utc)
>>> parse_since("2026-01-15")
datetime.datetime(2026, 1, 15, 0, 0, tzinfo=datetime.timezone.utc)
>>> period_start(date(2026, 3, 5), "week"), period_start(date(2026, 3, 5), "month")
(datetime.date(2026, 3, 2), datetime.date(2026, 3, 1))
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Engine, func, or_, select

from npswatch.storage.tables import T_REGION, T_SUBSTANCE


PERIODS = ("week", "month")
_AGO = re.compile(r"^\s*(\d+)\s*([dwmy])\s*$", re.I)  # 7d, 4w, 3m, 1y: a span back from now
_DAYS = {"d": 1, "w": 7, "m": 30, "y": 365}


class ScopeError(ValueError):
    """A filter that matches nothing stored; the message names it and what exists."""


@dataclass(frozen=True)
class Filters:
    substance: str | None = None  # canonical name or lexicon key, case-insensitive
    cls: str | None = None  # substance class (DESIGN.md)
    city: str | None = None  # city name (any stored spelling) or GeoNames id
    country: str | None = None  # ISO 3166 alpha-2
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class Scope:
    """Resolved filters: None means "no restriction"."""

    substance_ids: tuple[int, ...] | None
    region_ids: tuple[int, ...] | None
    since: datetime | None
    until: datetime | None
    cls: str | None = None  # the class filter when there is no substance filter: the substances are its class


def utc(d: datetime | date) -> datetime:
    """A timezone-aware UTC datetime (dates become midnight)."""
    if not isinstance(d, datetime):
        d = datetime.combine(d, time())
    return d.replace(tzinfo=timezone.utc) if d.tzinfo is None else d.astimezone(timezone.utc)


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """`7d`, `4w`, `3m`, `1y` (back from now, to midnight UTC) or an ISO date/datetime."""
    mo = _AGO.match(text)
    if mo:
        now = utc(now or datetime.now(timezone.utc))
        back = now - timedelta(days=int(mo.group(1)) * _DAYS[mo.group(2).lower()])
        return utc(back.date())
    try:
        return utc(datetime.fromisoformat(text.strip().replace("Z", "+00:00")))
    except ValueError:
        raise ScopeError(f"{text!r} is neither a span like 7d, 4w, 3m nor an ISO date like 2026-01-31") from None


def period_start(d: date, by: str) -> date:
    """Monday of the ISO week, or the first of the month."""
    if by == "week":
        return d - timedelta(days=d.weekday())
    if by == "month":
        return d.replace(day=1)
    raise ScopeError(f"period must be one of {', '.join(PERIODS)}, not {by!r}")


def as_datetime(v) -> datetime | None:
    """A timestamp read back from either dialect (SQLite returns text from raw SQL) as aware UTC."""
    if v is None or isinstance(v, datetime):
        return utc(v) if v is not None else None
    if isinstance(v, date):
        return utc(v)
    return utc(datetime.fromisoformat(str(v)))


def resolve(engine: Engine, f: Filters) -> Scope:
    """Look the names up once; raise ScopeError when a filter names nothing stored."""
    S, R = T_SUBSTANCE, T_REGION
    substance_ids = region_ids = None
    with engine.connect() as c:
        if f.substance or f.cls:
            q = select(S.c.id)
            if f.substance:
                name = f.substance.strip().casefold()
                q = q.where(or_(func.lower(S.c.canonical) == name, func.lower(S.c.key) == name))
            if f.cls:
                q = q.where(S.c["class"] == f.cls)
            substance_ids = tuple(c.execute(q).scalars())
            if not substance_ids:
                known = sorted({r for r in c.execute(select(func.coalesce(S.c.canonical, S.c.key))).scalars()})
                what = " and ".join(x for x in (f.substance and f"substance {f.substance!r}",
                                                  f.cls and f"class {f.cls!r}") if x)
                raise ScopeError(f"no stored substance matches {what}; stored: {', '.join(known[:30]) or 'none'}")
        if f.city or f.country:
            q = select(R.c.id)
            if f.city:
                city = f.city.strip()
                cond = func.lower(R.c.name) == city.casefold()
                if city.isdigit():
                    cond = or_(cond, R.c.geonameid == int(city))
                q = q.where(R.c.level == "city", cond)
            if f.country:
                q = q.where(R.c.country == f.country.strip().upper())
            region_ids = tuple(c.execute(q).scalars())
            if not region_ids:
                known = sorted(set(c.execute(select(R.c.name).where(R.c.level == "city")).scalars()))
                what = f"city {f.city!r}" if f.city else f"country {f.country!r}"
                raise ScopeError(f"no stored region matches {what}; stored cities: {', '.join(known[:30]) or 'none'}")
    return Scope(substance_ids, region_ids, f.since and utc(f.since), f.until and utc(f.until),
                 f.cls if f.cls and not f.substance else None)


def where(table, scope: Scope, time_col: str = "observed_at") -> list:
    """SQLAlchemy conditions restricting `table` (offer or mention) to the scope."""
    conds = []
    if scope.substance_ids is not None:
        conds.append(table.c.substance_id.in_(scope.substance_ids))
    if scope.region_ids is not None:
        conds.append(table.c.region_id.in_(scope.region_ids))
    if scope.since is not None:
        conds.append(table.c[time_col] >= scope.since)
    if scope.until is not None:
        conds.append(table.c[time_col] < scope.until)
    return conds


def period_sql(col, dialect: str, by: str):
    """A SQL expression for the start of `col`'s week (Monday) or month, as a date (PG) or 'YYYY-MM-DD' text."""
    if by not in PERIODS:
        raise ScopeError(f"period must be one of {', '.join(PERIODS)}, not {by!r}")
    if dialect == "postgresql":
        return func.date(func.date_trunc(by, func.timezone("UTC", col)))
    if by == "week":
        # SQLite: 'weekday 0' moves to the next Sunday (or stays on one); six days back is that week's Monday.
        return func.date(col, "weekday 0", "-6 days")
    return func.strftime("%Y-%m-01", col)


def as_date(v) -> date:
    return v if isinstance(v, date) and not isinstance(v, datetime) else date.fromisoformat(str(v)[:10])
