"""Triage of signals: the analysts' inbox (stored signals with their evidence and review status, filtered) and
setting a signal's status with a note (who and when are stored; every change is in the audit log).

Statuses: `new` (no one has looked), `reviewed`, `escalated`, `dismissed`. The digest leaves out dismissed
signals (`dismissed_ids`, used by `npswatch.reporting.digest`); detecting a signal again keeps its review,
since the review is keyed by the signal's id and the signal's stable key keeps that id.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING

from sqlalchemy import String, cast, func, select

from npswatch.reports.scope import as_datetime
from npswatch.storage.tables import T_REVIEW, T_SIGNAL
from npswatch.storage.writer import upsert

from .accounts import audit, require
from .errors import WatchError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from .accounts import Account
    from .watch import Watch

__all__ = ["STATUSES", "InboxSignal", "inbox", "inbox_count", "set_status", "dismissed_ids"]

STATUSES = ("new", "reviewed", "escalated", "dismissed")


@dataclass
class InboxSignal:
    id: int
    kind: str
    substance: str
    cls: str
    title: str
    countries: list[str]
    period_start: datetime | None
    period_end: datetime | None
    first_seen: datetime | None
    last_seen: datetime | None
    posts: int
    sources: int
    evidence: dict = field(default_factory=dict)
    status: str = "new"
    note: str | None = None
    reviewed_by: str | None = None
    reviewed_at: datetime | None = None

    @property
    def examples(self) -> list[dict]:
        return list(self.evidence.get("examples") or [])

    @property
    def cities(self) -> list[str]:
        return list(self.evidence.get("cities") or [])

    @property
    def distinct_ads(self):
        return self.evidence.get("distinct_ads")


def _where(q, *, kind: str | None, cls: str | None, country: str | None, since: datetime | None,
           until: datetime | None, status: str | None, ids: list[int] | None):
    """`q` (over signal outer-joined to its review) narrowed to the filters, checked first."""
    from npswatch.reports.signals import KINDS

    if kind and kind not in KINDS:
        raise WatchError(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
    if status and status not in STATUSES:
        raise WatchError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    S, R = T_SIGNAL, T_REVIEW
    if ids is not None:
        q = q.where(S.c.id.in_(ids))
    if kind:
        q = q.where(S.c.kind == kind)
    if cls:
        q = q.where(S.c["class"] == cls)
    if country:
        # a JSON list of ISO codes: its text holds the code in quotes, alike on both databases (json, not jsonb)
        q = q.where(cast(S.c.countries, String).like(f'%"{country.strip().upper()}"%'))
    if since is not None:
        q = q.where(S.c.period_end > since)
    if until is not None:
        q = q.where(S.c.period_start < until)
    if status == "new":
        q = q.where((R.c.status.is_(None)) | (R.c.status == "new"))
    elif status:
        q = q.where(R.c.status == status)
    return q


def inbox(watch: "Watch", *, kind: str | None = None, cls: str | None = None, country: str | None = None,
          since: datetime | None = None, until: datetime | None = None, status: str | None = None,
          limit: int = 200, offset: int = 0, ids: list[int] | None = None) -> list[InboxSignal]:
    """Stored signals, newest period first, whose period overlaps [since, until), with their review: `limit`
    of them from the `offset`-th on (a page of the inbox)."""
    S, R = T_SIGNAL, T_REVIEW
    q = (select(S.c.id, S.c.kind, S.c.substance, S.c["class"], S.c.title, S.c.countries, S.c.period_start,
                S.c.period_end, S.c.first_seen, S.c.last_seen, S.c.posts, S.c.sources, S.c.evidence,
                R.c.status, R.c.note, R.c.reviewed_by, R.c.reviewed_at)
         .select_from(S.outerjoin(R, R.c.signal_id == S.c.id)))
    q = _where(q, kind=kind, cls=cls, country=country, since=since, until=until, status=status, ids=ids)
    q = q.order_by(S.c.period_end.desc(), S.c.kind, S.c.substance, S.c.id).limit(limit).offset(max(0, offset))
    out: list[InboxSignal] = []
    with watch.checked_engine().connect() as c:
        for r in c.execute(q):
            out.append(InboxSignal(
                r.id, r.kind, r.substance, r[3], r.title, list(r.countries or []), as_datetime(r.period_start),
                as_datetime(r.period_end), as_datetime(r.first_seen), as_datetime(r.last_seen), r.posts, r.sources,
                dict(r.evidence or {}), r.status or "new", r.note, r.reviewed_by, as_datetime(r.reviewed_at)))
    return out


def inbox_count(watch: "Watch", *, kind: str | None = None, cls: str | None = None, country: str | None = None,
                since: datetime | None = None, until: datetime | None = None, status: str | None = None) -> int:
    """How many stored signals `inbox` has for these filters, all pages."""
    S, R = T_SIGNAL, T_REVIEW
    q = select(func.count()).select_from(S.outerjoin(R, R.c.signal_id == S.c.id))
    q = _where(q, kind=kind, cls=cls, country=country, since=since, until=until, status=status, ids=None)
    with watch.checked_engine().connect() as c:
        return int(c.execute(q).scalar_one())


def set_status(watch: "Watch", signal_id: int, status: str, note: str | None = None, *,
               by: "Account | None" = None) -> InboxSignal:
    """Set a signal's triage status and note (analysts and admins); the previous state goes to the audit log."""
    actor = require(by, "analyst")
    if status not in STATUSES:
        raise WatchError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    note = (note or "").strip() or None
    if note and len(note) > 4000:
        raise WatchError("the note is longer than 4000 characters")
    now = datetime.now(timezone.utc)
    S, R = T_SIGNAL, T_REVIEW
    with watch.checked_engine().begin() as c:
        if c.execute(select(S.c.id).where(S.c.id == signal_id)).first() is None:
            raise WatchError(f"no signal {signal_id}")
        before = c.execute(select(R.c.status, R.c.note).where(R.c.signal_id == signal_id)).first()
        row = {"signal_id": signal_id, "status": status, "note": note, "reviewed_by": actor, "reviewed_at": now}
        upsert(c, R, [row], ["signal_id"], lambda ex: {k: getattr(ex, k) for k in row if k != "signal_id"})
        audit(c, actor, "signal.status", "signal", signal_id,
              {"status": status, "note": note, "before": {"status": before.status, "note": before.note}
               if before else None})
    return inbox(watch, ids=[signal_id])[0]


def dismissed_ids(engine: "Engine", ids: list[int]) -> set[int]:
    """Which of these signals an analyst dismissed."""
    R = T_REVIEW
    out: set[int] = set()
    with engine.connect() as c:
        for i in range(0, len(ids), 500):
            out.update(c.execute(select(R.c.signal_id).where(R.c.signal_id.in_(ids[i:i + 500]),
                                                             R.c.status == "dismissed")).scalars())
    return out
