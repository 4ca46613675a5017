"""What the stored posts say about discovered channels: the evidence the discovery rules judge.

For each channel of the review queue (`discovered_channel`, status `new`) that posts of at least `min_channels`
of the given watched channels forward from or link to (`channel_link`): how many watched channels and posts
name it, how many of those posts were extracted and how many of them are market posts (a drug mention or a
price offer was found in them), and a sample of their texts (already pseudonymised, as stored) for the
language rule.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import Engine, String, and_, cast, exists, select

from .tables import T_DISCOVERED, T_LINK, T_MENTION, T_OFFER, T_POST, T_SOURCE

_CHUNK = 500


@dataclass
class Evidence:
    key: str
    username: str | None
    channel_id: int | None
    title: str | None
    channels: int  # distinct watched channels whose posts name it
    posts: int = 0  # their posts naming it (stored)
    extracted: int = 0  # of which had their facts extracted
    market: int = 0  # of which named a drug or an offer
    texts: list[str] = field(default_factory=list)

    @property
    def market_score(self) -> float | None:
        """Share of the extracted posts naming the channel that are market posts; None before any extraction."""
        return self.market / self.extracted if self.extracted else None


def evidence(engine: Engine, watched: Iterable[str], *, min_channels: int = 1, sample: int = 50) -> list[Evidence]:
    """Evidence for every new discovered channel named in at least `min_channels` watched channels, most
    channels first."""
    watched = sorted(set(watched))
    if not watched:
        return []
    lc, d = T_LINK.c, T_DISCOVERED.c
    out: dict[str, Evidence] = {}
    with engine.connect() as c:
        counts: dict[str, set[str]] = {}
        for i in range(0, len(watched), _CHUNK):
            for dst, src in c.execute(select(lc.dst, lc.src).where(lc.src.in_(watched[i : i + _CHUNK])).distinct()):
                counts.setdefault(dst, set()).add(src)
        keys = [k for k, srcs in counts.items() if len(srcs) >= min_channels]
        for i in range(0, len(keys), _CHUNK):
            rows = c.execute(select(d.key, d.username, d.channel_id, d.title)
                             .where(d.key.in_(keys[i : i + _CHUNK]), d.status == "new"))
            for key, uname, cid, title in rows:
                out[key] = Evidence(key, uname, cid, title, len(counts[key]))
        P, S = T_POST.c, T_SOURCE.c
        is_market = exists().where(T_MENTION.c.post_id == P.id) | exists().where(T_OFFER.c.post_id == P.id)
        for ev in out.values():
            q = (select(P.id, P.text, P.extracted_at.is_not(None), is_market).distinct()
                 .select_from(T_LINK.join(T_SOURCE, S.key == lc.src)
                              .join(T_POST, and_(P.source_id == S.id, P.external_id == cast(lc.message_id, String))))
                 .where(lc.dst == ev.key, lc.src.in_(watched), P.deleted_at.is_(None))
                 .order_by(P.id.desc()))
            for _pid, text, extracted, market in c.execute(q):
                ev.posts += 1
                ev.extracted += bool(extracted)
                ev.market += bool(extracted and market)
                if len(ev.texts) < sample and text:
                    ev.texts.append(text)
    return sorted(out.values(), key=lambda e: (-e.channels, -(e.market_score or 0), e.key))
