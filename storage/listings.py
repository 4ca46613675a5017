"""Listing life cycle and per-crawl observations of web listings (tables `listing`, `listing_observation`).

After a batch of web posts is written (`PostWriter.write`), `ListingTracker.observe(run_id, posts)` records
what this crawl saw of each one: its price (as shown, and as a number) and its stock count, and how they
changed since the listing's previous observation. At the end of a *complete* crawl of a site,
`mark_disappeared(site, since)` stamps `disappeared_at` on every listing of the site not seen since the
crawl began; a listing that shows up again has it cleared and its observation says "reappeared". Imported
snapshots of other scrapers (`npswatch import-listings`) go the same way, one crawl run per snapshot, with
the snapshot's time as `observed_at`.

Both are idempotent for one crawl run: observing the same listing twice in a run (a batch retried after a
crash of the writer) records one observation.

>>> price_number("4 500 ₽"), price_number("1.200,50 сом"), price_number("0.002 BTC"), price_number("договорная")
(4500.0, 1200.5, 0.002, None)
>>> change_status(None, price=4500.0, stock=5)
('new', False, None)
>>> change_status({"price": 4500.0, "stock": 5, "disappeared_at": None}, price=4000.0, stock=3)
('changed', True, -2)
"""
from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from price_parser import Price
from sqlalchemy import Engine, and_, bindparam, case, exists, func, select, tuple_, update

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost

from .writer import _chunks, upsert
from .tables import T_LISTING, T_OBS, T_OFFER, T_POST, T_SOURCE

__all__ = ["ListingTracker", "ObserveResult", "price_number", "change_status", "offer_coverage"]


_ZERO_POINT = re.compile(r"(?<![\d.,])0([.,])\d")


def price_number(text: str | None) -> float | None:
    """The amount in a price label ("4 500 ₽" -> 4500.0), None when it has no number."""
    if not text:
        return None
    # "0.002 BTC": a zero integer part makes the separator a decimal one (price-parser reads it as thousands)
    sep = m.group(1) if (m := _ZERO_POINT.search(text)) else None
    amount = Price.fromstring(text, decimal_separator=sep).amount_float
    return amount if amount is not None and amount >= 0 else None


def change_status(prev: dict[str, Any] | None, *, price: float | None, stock: int | None) -> tuple[str, bool, int | None]:
    """(status, price changed, stock delta) of an observation against the listing's previous state."""
    if prev is None:
        return "new", False, None
    price_changed = price is not None and prev["price"] is not None and price != prev["price"]
    delta = stock - prev["stock"] if stock is not None and prev["stock"] is not None else None
    if prev["disappeared_at"] is not None:
        return "reappeared", price_changed, delta
    return ("changed" if price_changed or delta else "seen"), price_changed, delta


@dataclass
class ObserveResult:
    observed: int = 0  # observations recorded (one per listing per crawl run)
    new: int = 0  # listings seen for the first time
    price_changes: int = 0
    stock_drops: int = 0  # listings whose stock went down since the previous crawl
    units_gone: int = 0  # sum of those drops
    reappeared: int = 0

    def __iadd__(self, other: "ObserveResult") -> "ObserveResult":
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self


def _now() -> datetime:
    return datetime.now(timezone.utc)


class ListingTracker:
    """Records observations of web listings; safe to call from any thread (one transaction per call).
    Price labels are scrubbed with `pseudonymiser` before they are stored, like every other scraped text."""

    def __init__(self, engine: Engine, pseudonymiser: Pseudonymiser) -> None:
        self.engine = engine
        self.pseudonymiser = pseudonymiser

    def observe(self, run_id: int, posts: Sequence[RawPost], observed_at: datetime | None = None) -> ObserveResult:
        """Record what crawl `run_id` saw of `posts` (already written by PostWriter). Price and stock come
        from the spider's `extra` ("price" text, "stock" count)."""
        result = ObserveResult()
        if not posts:
            return result
        at = observed_at or _now()
        latest: dict[tuple[str, str], RawPost] = {}
        for p in posts:
            latest[(p.source, p.external_id)] = p
        with self.engine.begin() as conn:
            sources = dict(conn.execute(select(T_SOURCE.c.key, T_SOURCE.c.id)
                                        .where(T_SOURCE.c.key.in_({s for s, _ in latest}))).all())
            keys = [(sources[s], e) for s, e in latest if s in sources]
            post_ids: dict[tuple[int, str], int] = {}
            for chunk in _chunks(keys):
                q = select(T_POST.c.source_id, T_POST.c.external_id, T_POST.c.id).where(
                    tuple_(T_POST.c.source_id, T_POST.c.external_id).in_(list(chunk)))
                post_ids.update(((sid, ext), pid) for sid, ext, pid in conn.execute(q))
            prev: dict[int, dict[str, Any]] = {}
            for chunk in _chunks(list(post_ids.values())):
                q = select(T_LISTING).where(T_LISTING.c.post_id.in_(chunk))
                prev.update((r["post_id"], dict(r)) for r in conn.execute(q).mappings())

            observations, new_listings, seen = [], [], []
            for (source, ext), p in latest.items():
                sid = sources.get(source)
                pid = post_ids.get((sid, ext)) if sid is not None else None
                if pid is None:  # not written (rejected by the writer): nothing to observe
                    continue
                old = prev.get(pid)
                if old is not None and old["last_run_id"] == run_id:
                    continue  # already observed in this crawl
                extra = p.extra or {}
                price_text = (extra.get("price") or None) and self.pseudonymiser.scrub(
                    str(extra["price"]), p.hints.country)[:200]
                price = price_number(price_text)
                stock = extra.get("stock") if isinstance(extra.get("stock"), int) else None
                status, price_changed, delta = change_status(old, price=price, stock=stock)
                observations.append({"crawl_run_id": run_id, "post_id": pid, "observed_at": at,
                                     "price_text": price_text, "price": price, "stock": stock, "status": status,
                                     "price_changed": price_changed, "stock_delta": delta})
                if old is None:
                    new_listings.append({"post_id": pid, "source_id": sid, "first_seen": at, "last_seen": at,
                                         "disappeared_at": None, "last_run_id": run_id, "price_text": price_text,
                                         "price": price, "stock": stock, "observations": 1})
                else:
                    seen.append({"b_post": pid, "b_seen": at, "b_run": run_id, "b_price_text": price_text,
                                 "b_price": price, "b_stock": stock})
                result.observed += 1
                result.new += status == "new"
                result.reappeared += status == "reappeared"
                result.price_changes += price_changed
                if delta is not None and delta < 0:
                    result.stock_drops += 1
                    result.units_gone -= delta
            upsert(conn, T_OBS, observations, ["crawl_run_id", "post_id"])
            upsert(conn, T_LISTING, new_listings, ["post_id"])
            if seen:
                c = T_LISTING.c
                conn.execute(update(T_LISTING).where(c.post_id == bindparam("b_post")).values(
                    last_seen=bindparam("b_seen"), disappeared_at=None, last_run_id=bindparam("b_run"),
                    price_text=bindparam("b_price_text"), price=bindparam("b_price"), stock=bindparam("b_stock"),
                    observations=c.observations + 1), seen)
        return result

    def last_seen(self, source: str) -> datetime | None:
        """When a listing of `source` was last observed (None: never), in UTC."""
        with self.engine.connect() as conn:
            at = conn.execute(select(func.max(T_LISTING.c.last_seen)).join(T_SOURCE, T_SOURCE.c.id == T_LISTING.c.source_id)
                              .where(T_SOURCE.c.key == source)).scalar()
        if isinstance(at, str):  # SQLite hands back text for an aggregate
            at = datetime.fromisoformat(at)
        return at.replace(tzinfo=timezone.utc) if at is not None and at.tzinfo is None else at

    def mark_disappeared(self, source: str, since: datetime, at: datetime | None = None) -> int:
        """Stamp `disappeared_at` on the site's listings not seen since `since` (the start of a complete
        crawl); returns how many disappeared now."""
        with self.engine.begin() as conn:
            sid = conn.execute(select(T_SOURCE.c.id).where(T_SOURCE.c.key == source)).scalar_one_or_none()
            if sid is None:
                return 0
            c = T_LISTING.c
            res = conn.execute(update(T_LISTING).where(and_(
                c.source_id == sid, c.disappeared_at.is_(None), c.last_seen < since)).values(disappeared_at=at or _now()))
            return res.rowcount or 0


def offer_coverage(engine: Engine, run_ids: Sequence[int]) -> dict[int, tuple[int, int]]:
    """Per crawl run: (listings it saw, how many of them have no offer stored). Runs that saw none are left out."""
    if not run_ids:
        return {}
    has_offer = exists().where(T_OFFER.c.post_id == T_OBS.c.post_id)
    q = (select(T_OBS.c.crawl_run_id, func.count(), func.sum(case((has_offer, 0), else_=1)))
         .where(T_OBS.c.crawl_run_id.in_(list(run_ids))).group_by(T_OBS.c.crawl_run_id))
    with engine.connect() as c:
        return {rid: (int(n), int(none or 0)) for rid, n, none in c.execute(q)}
