"""Assign stored posts to distinct ads (pipelines/ads.py): incremental, so a scheduled run only reads new posts.

`assign_ads()` loads every ad's first-post signature into an `AdIndex`, then walks the posts that have text and
no ad yet in id order, in batches: each joins the ad it repeats or starts one. Posts whose text retention has
removed keep no ad and are counted as their own ad by the reports.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine, select, update

from npswatch.pipelines.ads import AdIndex, to_bytes

from .tables import T_AD, T_POST


@dataclass
class AdAssignment:
    posts: int = 0  # posts given an ad
    new_ads: int = 0  # of which started a new ad
    ads: int = 0  # ads stored afterwards


def assign_ads(engine: Engine, threshold: float = 0.4, batch: int = 2000) -> AdAssignment:
    P, A = T_POST, T_AD
    idx = AdIndex(threshold=threshold)
    result = AdAssignment()
    with engine.connect() as c:
        for ad_id, sig, key in c.execute(select(A.c.id, A.c.signature, A.c.exact_key)):
            idx.known(ad_id, sig, key)
            result.ads += 1
    last = 0
    while True:
        with engine.begin() as c:
            rows = c.execute(select(P.c.id, P.c.text, P.c.posted_at, P.c.first_seen)
                             .where(P.c.ad_id.is_(None), P.c.text.is_not(None), P.c.id > last)
                             .order_by(P.c.id).limit(batch)).all()
            if not rows:
                return result
            assigned: dict[int, list[int]] = {}
            for pid, text, posted, seen in rows:
                ad, m, key = idx.match(text)
                if ad is None:
                    ad = c.execute(A.insert().values(first_post_id=pid, first_seen=posted or seen,
                                                     signature=to_bytes(m) if m is not None else None,
                                                     exact_key=key).returning(A.c.id)).scalar_one()
                    idx.new(m, key, ad)
                    result.new_ads += 1
                    result.ads += 1
                assigned.setdefault(ad, []).append(pid)
                result.posts += 1
            for ad, pids in assigned.items():
                c.execute(update(P).where(P.c.id.in_(pids)).values(ad_id=ad))
            last = rows[-1][0]
