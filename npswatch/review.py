"""The review queue of the web app: candidates (`npswatch candidates`) with example snippets for each.

Slang candidates carry their examples from discovery; a new name's examples are read from the posts that
mention it (its `candidate:<name>` substance keeps them from the first post), newest first, cut around the name.
"""
from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING

from sqlalchemy import select

from npswatch.reports.candidates import candidate_key
from npswatch.reports.signals import snippet
from npswatch.storage.tables import T_MENTION, T_POST, T_SUBSTANCE

if TYPE_CHECKING:
    from .watch import Watch

__all__ = ["queue"]


def queue(watch: "Watch", status: str = "new", kind: str = "all", *, examples: int = 3, width: int = 160,
          limit: int | None = None, offset: int = 0) -> list:
    """The candidates (`Watch.candidates`; `limit` and `offset`: one page of them), each new name with up to
    `examples` snippets of posts naming it."""
    rows = watch.candidates(status, kind, limit=limit, offset=offset)
    Me, P, S = T_MENTION, T_POST, T_SUBSTANCE
    out = []
    with watch.checked_engine().connect() as c:
        keys = {f"candidate:{candidate_key(r.name)}" for r in rows if not r.examples and r.kind == "new_name"}
        # the substances' ids first: given the id, the (substance_id, observed_at) index finds the newest mentions
        # at once; given the key, PostgreSQL walked the mentions of every substance, newest first
        ids = dict(c.execute(select(S.c.key, S.c.id).where(S.c.key.in_(keys))).all()) if keys else {}
        for r in rows:
            if r.examples or r.kind != "new_name":
                out.append(r)
                continue
            sid = ids.get(f"candidate:{candidate_key(r.name)}")
            found: tuple = ()
            if sid is not None:
                q = (select(P.c.text, Me.c.matched).select_from(Me.join(P, P.c.id == Me.c.post_id))
                     .where(Me.c.substance_id == sid)
                     .order_by(Me.c.observed_at.desc(), Me.c.post_id).limit(examples))
                found = tuple(snippet(text, matched or r.name, width) for text, matched in c.execute(q) if text)
            out.append(dataclasses.replace(r, examples=found))
    return out
