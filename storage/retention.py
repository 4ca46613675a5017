"""Retention in storage: post texts and raw page snapshots past their period go, facts stay.

- Post texts: `post.text` is set to NULL for posts older than the cut-off (age = `posted_at`, else
  `collected_at`), and so are the texts of their earlier versions (`post_version.text`), the example
  snippets quoted in stored signals (`signal.evidence.examples[].text`) observed before it, and the text read
  from pictures of posts (`image_hash.text`; the hashes stay). The rows stay:
  offers, mentions, regions, prices, the text hash (a re-crawled unchanged post is not stored again) and
  the pseudonymised author.
- Snapshots: `page_snapshot` rows fetched before their source's cut-off are deleted, then every body file
  of the snapshot folder that no row refers to any more, except files younger than an hour (a crawl writes
  the file before its row). Cut-offs are per source, with a default for the others (`None` key).

Every function has a counting twin for dry runs; updates go in batches of `batch` rows, so a crawl writing
at the same time (SQLite has one writer) waits for a short transaction, never for the whole clean-up.
"""
from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, and_, delete, func, not_, or_, select, update

from .snapshots import BlobStore
from .tables import T_IMAGE, T_POST, T_SIGNAL, T_SNAP, T_VERSION

__all__ = ["TextCounts", "SnapshotCounts", "count_texts", "clear_texts", "count_snapshots", "prune_snapshots"]

YOUNG_FILE_SECONDS = 3600  # snapshot files this young may not have their row yet


@dataclass
class TextCounts:
    posts: int = 0  # post texts
    versions: int = 0  # texts of earlier versions
    snippets: int = 0  # example snippets in signals
    pictures: int = 0  # text read from pictures of posts (`image_hash.text`)

    @property
    def total(self) -> int:
        return self.posts + self.versions + self.snippets + self.pictures


@dataclass
class SnapshotCounts:
    rows: int = 0
    files: int = 0
    bytes: int = 0  # size of those files (dry run only)


def _old_posts(before: datetime):
    return func.coalesce(T_POST.c.posted_at, T_POST.c.collected_at) < before


def _expired_examples(evidence, before: datetime) -> list[dict]:
    out = []
    for ex in (evidence or {}).get("examples") or []:
        if not isinstance(ex, dict) or not ex.get("text") or not ex.get("observed_at"):
            continue
        try:
            at = datetime.fromisoformat(str(ex["observed_at"]))
        except ValueError:
            continue
        if (at if at.tzinfo else at.replace(tzinfo=timezone.utc)) < before:
            out.append(ex)
    return out


def count_texts(engine: Engine, before: datetime) -> TextCounts:
    with engine.connect() as c:
        posts = c.execute(select(func.count()).where(T_POST.c.text.is_not(None), _old_posts(before))).scalar()
        versions = c.execute(select(func.count()).select_from(T_VERSION).where(
            T_VERSION.c.text.is_not(None),
            T_VERSION.c.post_id.in_(select(T_POST.c.id).where(_old_posts(before))))).scalar()
        snippets = sum(len(_expired_examples(ev, before)) for (ev,) in c.execute(
            select(T_SIGNAL.c.evidence).where(T_SIGNAL.c.evidence.is_not(None))))
        pictures = c.execute(select(func.count()).select_from(T_IMAGE).where(T_IMAGE.c.text.is_not(None),
                                                                              T_IMAGE.c.seen_at < before)).scalar()
    return TextCounts(posts or 0, versions or 0, snippets, pictures or 0)


def clear_texts(engine: Engine, before: datetime, *, batch: int = 5000) -> TextCounts:
    """Set the texts of posts older than `before` (and of their versions, and quoted snippets) to NULL."""
    done = TextCounts()
    while True:
        with engine.begin() as c:
            ids = c.execute(select(T_POST.c.id).where(T_POST.c.text.is_not(None), _old_posts(before))
                            .limit(batch)).scalars().all()
            if not ids:
                break
            c.execute(update(T_POST).where(T_POST.c.id.in_(ids)).values(text=None))
        done.posts += len(ids)
    while True:
        with engine.begin() as c:
            ids = c.execute(select(T_VERSION.c.id).where(
                T_VERSION.c.text.is_not(None),
                T_VERSION.c.post_id.in_(select(T_POST.c.id).where(_old_posts(before)))).limit(batch)).scalars().all()
            if not ids:
                break
            c.execute(update(T_VERSION).where(T_VERSION.c.id.in_(ids)).values(text=None))
        done.versions += len(ids)
    with engine.begin() as c:
        for sid, evidence in c.execute(select(T_SIGNAL.c.id, T_SIGNAL.c.evidence)
                                       .where(T_SIGNAL.c.evidence.is_not(None))).all():
            expired = _expired_examples(evidence, before)
            if not expired:
                continue
            ids = {id(e) for e in expired}
            new = dict(evidence)
            new["examples"] = [({**e, "text": None} if id(e) in ids else e) for e in evidence["examples"]]
            c.execute(update(T_SIGNAL).where(T_SIGNAL.c.id == sid).values(evidence=new))
            done.snippets += len(expired)
    while True:
        with engine.begin() as c:
            ids = c.execute(select(T_IMAGE.c.id).where(T_IMAGE.c.text.is_not(None), T_IMAGE.c.seen_at < before)
                            .limit(batch)).scalars().all()
            if not ids:
                break
            c.execute(update(T_IMAGE).where(T_IMAGE.c.id.in_(ids)).values(text=None))
        done.pictures += len(ids)
    return done


def _snap_expired(cutoffs: Mapping[str | None, datetime]):
    named = {k: v for k, v in cutoffs.items() if k is not None}
    conds = [and_(T_SNAP.c.source == s, T_SNAP.c.fetched_at < c) for s, c in named.items()]
    default = cutoffs.get(None)
    if default is not None:
        rest = T_SNAP.c.fetched_at < default
        if named:
            rest = and_(rest, T_SNAP.c.source.not_in(list(named)))
        conds.append(rest)
    return or_(*conds) if conds else None


def _orphans(blobs: BlobStore, keep: set[str], now: float) -> list:
    paths = []
    for sha in blobs.hashes():
        p = blobs.path(sha)
        try:
            if sha not in keep and p.stat().st_mtime < now - YOUNG_FILE_SECONDS:
                paths.append(p)
        except FileNotFoundError:
            pass
    return paths


def count_snapshots(engine: Engine, root, cutoffs: Mapping[str | None, datetime]) -> SnapshotCounts:
    """What `prune_snapshots` would delete: rows, body files, their bytes."""
    cond = _snap_expired(cutoffs)
    with engine.connect() as c:
        rows = c.execute(select(func.count()).select_from(T_SNAP).where(cond)).scalar() if cond is not None else 0
        q = select(T_SNAP.c.sha256).distinct()
        if cond is not None:
            q = q.where(or_(not_(cond), T_SNAP.c.fetched_at.is_(None)))
        keep = set(c.execute(q).scalars())
    files = _orphans(BlobStore(root), keep, time.time())
    return SnapshotCounts(rows or 0, len(files), sum(p.stat().st_size for p in files if p.exists()))


def prune_snapshots(engine: Engine, root, cutoffs: Mapping[str | None, datetime]) -> SnapshotCounts:
    """Delete the snapshot rows past their cut-off, then the body files no row refers to."""
    cond = _snap_expired(cutoffs)
    with engine.begin() as c:
        rows = (c.execute(delete(T_SNAP).where(cond)).rowcount or 0) if cond is not None else 0
        keep = set(c.execute(select(T_SNAP.c.sha256).distinct()).scalars())
    files = _orphans(BlobStore(root), keep, time.time())
    for p in files:
        p.unlink(missing_ok=True)
    return SnapshotCounts(rows, len(files))
