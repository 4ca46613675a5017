"""Read-side queries shared by the CLI and reports."""
from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select

from . import models as m


def summary(engine: Engine) -> dict[str, Any]:
    """Counts and date span of what is stored: the demo's and `npswatch status`'s headline."""
    P, O, S, R, Me = (t.__table__ for t in (m.Post, m.Offer, m.Substance, m.Region, m.Mention))
    with engine.connect() as c:
        one = lambda q: c.execute(q).scalar_one()  # noqa: E731
        first, last = c.execute(select(func.min(P.c.posted_at), func.max(P.c.posted_at))).one()
        return {
            "sources": one(select(func.count()).select_from(m.Source.__table__)),
            "posts": one(select(func.count()).select_from(P)),
            "offers": one(select(func.count()).select_from(O)),
            "mentions": one(select(func.count()).select_from(Me)),
            "substances": one(select(func.count(func.distinct(Me.c.substance_id)))),
            "cities": one(select(func.count()).select_from(R).where(R.c.level == "city")),
            "countries": one(select(func.count(func.distinct(R.c.country)))),
            "currencies": one(select(func.count(func.distinct(O.c.currency)))),
            "candidates": one(select(func.count()).select_from(m.Candidate.__table__)),
            "first_post": first,
            "last_post": last,
        }


def top_substances(engine: Engine, limit: int = 10) -> list[tuple[str, str, int, int]]:
    """(name, class, mentions, offers) of the most mentioned substances."""
    S, Me, O = m.Substance.__table__, m.Mention.__table__, m.Offer.__table__
    offers = select(O.c.substance_id, func.count().label("n")).group_by(O.c.substance_id).subquery()
    q = (
        select(func.coalesce(S.c.canonical, S.c.key), S.c["class"], func.count(Me.c.id), func.coalesce(offers.c.n, 0))
        .join(Me, Me.c.substance_id == S.c.id)
        .outerjoin(offers, offers.c.substance_id == S.c.id)
        .group_by(S.c.id, S.c.canonical, S.c.key, S.c["class"], offers.c.n)
        .order_by(func.count(Me.c.id).desc())
        .limit(limit)
    )
    with engine.connect() as c:
        return [tuple(r) for r in c.execute(q)]
