"""Bulk writer: RawPosts in, rows out, through SQLAlchemy Core with the dialect's `insert ... on conflict`.

One call writes one batch in one transaction, so a failure leaves nothing half-written:
- sources are created on first sight;
- a post new to (source, external id) is inserted; the same post again changes nothing but `last_seen`;
  a changed text keeps the old text in `post_version` and bumps `post.version`;
- facts (mentions, offers) are derived from the stored, pseudonymised text (and a web listing's structured
  fields: price, currency, quantity...) and replaced per post whenever the text is new or changed, or the same
  text comes with other structured fields (a definition edited, then `reparse`); candidates are counted once
  per post that first shows them.
Author handles and identifiers inside the text, the URL and every string of `extra` are pseudonymised here
(`scrub_post`), before anything reaches the database; channel names in `extra` count as handles there.
"""
from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, case, delete, select, update

from npswatch.pipelines.facts import Facts, RegionFact, SubstanceFact
from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.pipelines.weblinks import find_sites, site_origin

from .sites_found import record_sites
from .sqlupsert import _converted, _is_plain_datetime, insert_rows, upsert
from .tables import T_CANDIDATE, T_MENTION, T_OFFER, T_POST, T_REGION, T_SOURCE, T_SUBSTANCE, T_VERSION

# (text, hints, posted_at) -> Facts; called with a fourth argument, the post's `Structured` fields, when they show
# a price (an extractor for web listings must accept it: `pipelines.extract.Extractor.for_storage` does).
Extractor = Callable[..., Facts]

_CHUNK = 500  # rows per IN (...) lookup: well under SQLite's and PostgreSQL's parameter limits


@dataclass
class WriteResult:
    inserted: int = 0
    updated: int = 0  # text changed: a new version
    unchanged: int = 0
    mentions: int = 0
    offers: int = 0
    candidates: int = 0
    without_offer: int = 0  # posts whose facts were extracted and gave no offer

    def __iadd__(self, other: "WriteResult") -> "WriteResult":
        for f in self.__dataclass_fields__:
            setattr(self, f, getattr(self, f) + getattr(other, f))
        return self


def _chunks(items: Sequence, n: int = _CHUNK) -> Iterable[Sequence]:
    for i in range(0, len(items), n):
        yield items[i : i + n]


def _ids_by_key(conn: Connection, table, keys: Iterable[str]) -> dict[str, int]:
    keys = list(dict.fromkeys(keys))
    out: dict[str, int] = {}
    for chunk in _chunks(keys):
        out.update((k, i) for k, i in conn.execute(select(table.c.key, table.c.id).where(table.c.key.in_(chunk))))
    return out


# The columns of a new post row (`PostWriter._post_row`) and of a fact row (`PostWriter._facts`), in their tuples' order.
POST_KEYS = ("source_id", "external_id", "url", "author", "text", "text_hash", "version", "posted_at", "edited_at",
             "deleted_at", "collected_at", "first_seen", "last_seen", "extra", "extracted_at")
MENTION_KEYS = ("post_id", "substance_id", "region_id", "matched", "observed_at")
OFFER_KEYS = ("post_id", "substance_id", "region_id", "quantity", "unit", "grams", "price", "currency",
              "price_per_gram", "price_per_gram_usd", "observed_at")


def _insert_posts(conn: Connection, rows: list[tuple]) -> dict[tuple[int, str], int]:
    """Insert new post rows (a row another writer stored meanwhile is left alone); (source id, external id) -> post
    id of the rows this call inserted, from `RETURNING` (no second lookup)."""
    got = insert_rows(conn, T_POST, rows, keys=POST_KEYS, skip_conflicts=["source_id", "external_id"],
                      returning=["id", "source_id", "external_id"])
    return {(sid, ext): pid for pid, sid, ext in got}


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _extra(p: RawPost) -> dict[str, Any] | None:
    """The post row's `extra`: the collector's facts, and the structured fields (their change re-extracts)."""
    given = p.structured.given()
    out = {**p.extra, "structured": given} if given else dict(p.extra)
    return out or None


def _now() -> datetime:
    return datetime.now(timezone.utc)


# Keys of `extra` whose values name a channel or account: pseudonymised whole (they stay readable only in the
# source and discovery tables).
NAME_KEYS = frozenset({"channel", "username", "user"})


def scrub_post(ps: Pseudonymiser, p: RawPost) -> RawPost:
    """The post as it may be stored: text, URL and every string of `extra` scrubbed; the author is left to
    `PostWriter` (it becomes a pseudonym of its own)."""
    region = p.hints.country
    text = ps.scrub(p.text, region)
    url = ps.scrub(p.url, region) if p.url else p.url
    extra = ps.scrub_value(p.extra, region, names=NAME_KEYS) if p.extra else p.extra
    given = p.structured.given()
    fields = {k: ps.scrub(v, region) for k, v in given.items()}
    structured = p.structured if fields == given else p.structured.model_copy(update=fields)
    if text == p.text and url == p.url and extra == p.extra and structured is p.structured:
        return p
    return p.model_copy(update={"text": text, "url": url, "extra": extra, "structured": structured})


# SQLite's row triggers that mark the days of new facts stale for the weekly aggregate (migration 0015)
_STALE_TRIGGERS = ("trend_stale_mention_insert", "trend_stale_offer_insert")
_BULK_FACTS = 1_000  # facts in one batch from which the days are marked once, not by a trigger per row
_DAY_SQLITE = "CAST(julianday({x}) + 0.5 AS INTEGER) - 2440588"  # as the triggers compute it


@contextmanager
def _days_marked_once(conn: Connection, observed: list) -> Iterator[None]:
    """On SQLite, for a batch of at least `_BULK_FACTS` facts: the insert triggers that mark each fact's day stale
    are dropped for the inserts of the body and created again after them, and the batch's distinct days are
    marked by one statement (the triggers cost a sixth of inserting the facts of an import). All of it happens in
    the batch's transaction: other connections never see the triggers missing, and an interrupted batch rolls
    back to them. PostgreSQL's triggers already run once per statement."""
    if conn.dialect.name != "sqlite" or len(observed) < _BULK_FACTS or \
            not conn.connection.driver_connection.in_transaction:
        yield
        return
    triggers = conn.exec_driver_sql("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND name IN "
                                    f"({', '.join('?' * len(_STALE_TRIGGERS))})", _STALE_TRIGGERS).all()
    for name, _ in triggers:
        conn.exec_driver_sql(f'DROP TRIGGER "{name}"')
    yield  # (an error in the body rolls the batch back, the dropped triggers with it)
    for _, sql in triggers:
        conn.exec_driver_sql(sql)
    if triggers:
        days = list({o for o in observed if o is not None})
        impl = T_OFFER.c.observed_at.type.dialect_impl(conn.dialect)
        stamps = _converted(days, impl.bind_processor(conn.dialect), _is_plain_datetime(impl))
        for chunk in _chunks(sorted(set(stamps))):
            conn.exec_driver_sql("INSERT OR IGNORE INTO trend_stale(day) SELECT " + _DAY_SQLITE.format(x="column1")
                                 + " FROM (VALUES " + ", ".join(["(?)"] * len(chunk)) + ")", tuple(chunk))


class PostWriter:
    """Writes batches of RawPosts. Build once per process; `write()` is safe to call from any thread."""

    def __init__(self, engine: Engine, pseudonymiser: Pseudonymiser, extractor: Extractor | None = None) -> None:
        self.engine = engine
        self.pseudonymiser = pseudonymiser
        self.extractor = extractor

    # -- public ---------------------------------------------------------------------------------------
    def write(self, posts: Sequence[RawPost], *, source_kind: str = "web") -> WriteResult:
        if not posts:
            return WriteResult()
        batch: dict[tuple[str, str], RawPost] = {}
        for p in posts:  # the same post twice in a batch: the last one wins
            batch[(p.source, p.external_id)] = p
        with self.engine.begin() as conn:
            return self._write(conn, list(batch.values()), source_kind)

    # -- steps ----------------------------------------------------------------------------------------
    def _write(self, conn: Connection, posts: list[RawPost], source_kind: str) -> WriteResult:
        now = _now()
        source_ids = self._sources(conn, posts, source_kind, now)
        ps = self.pseudonymiser
        prepared = []
        for p in posts:
            p = scrub_post(ps, p)
            prepared.append((p, source_ids[p.source], p.text, text_hash(p.text)))

        existing = self._existing(conn, [(sid, p.external_id) for p, sid, _, _ in prepared])
        new_rows, changed, same, refields = [], [], [], []
        for p, sid, text, h in prepared:
            old = existing.get((sid, p.external_id))
            if old is None:
                new_rows.append(self._post_row(p, sid, text, h, now))
            elif old["text_hash"] != h:
                changed.append((p, old, text, h))
            else:
                same.append({"b_id": old["id"], "b_seen": now})
                if (old["extra"] or {}).get("structured") != (_extra(p) or {}).get("structured"):
                    refields.append((p, old, text))

        result = WriteResult(inserted=0, updated=len(changed), unchanged=len(same))
        if new_rows:
            inserted = _insert_posts(conn, new_rows)
            result.inserted = len(inserted)
        else:
            inserted = {}
        if changed:
            conn.execute(
                T_VERSION.insert(),
                [
                    {
                        "post_id": old["id"],
                        "version": old["version"],
                        "text": old["text"],
                        "text_hash": old["text_hash"],
                        "edited_at": old["edited_at"],
                        "collected_at": old["collected_at"],
                    }
                    for _, old, _, _ in changed
                ],
            )
            conn.execute(
                update(T_POST)
                .where(T_POST.c.id == bindparam("b_id"))
                .values(
                    text=bindparam("b_text"),
                    text_hash=bindparam("b_hash"),
                    version=T_POST.c.version + 1,
                    edited_at=bindparam("b_edited"),
                    collected_at=bindparam("b_collected"),
                    last_seen=bindparam("b_seen"),
                    extracted_at=bindparam("b_extracted"),
                ),
                [
                    {
                        "b_id": old["id"],
                        "b_text": text,
                        "b_hash": h,
                        "b_edited": p.edited_at or p.collected_at,
                        "b_collected": p.collected_at,
                        "b_seen": now,
                        "b_extracted": now if self.extractor is not None else None,  # else: pending
                    }
                    for p, old, text, h in changed
                ],
            )
        if same:
            conn.execute(update(T_POST).where(T_POST.c.id == bindparam("b_id")).values(last_seen=bindparam("b_seen")), same)
        if changed or refields:
            conn.execute(update(T_POST).where(T_POST.c.id == bindparam("b_id")).values(extra=bindparam("b_extra")),
                         [{"b_id": old["id"], "b_extra": _extra(p)} for p, old, *_ in changed + refields])

        # sites named by posts new to the store, or changed: the web discovery queue (`storage.sites_found`)
        fresh = [(p, text) for p, sid, text, _ in prepared if existing.get((sid, p.external_id)) is None]
        fresh += [(p, text) for p, _, text, _ in changed]
        sightings = []
        for p, text in fresh:
            found = find_sites(text)
            if found:  # the post's own site is worked out only when it names any
                own = site_origin(p.url) if p.url else None
                sightings += [(o, p.posted_at or p.collected_at, p.source) for o in found if o != own]
        if sightings:
            record_sites(conn, sightings)

        if self.extractor is not None:
            todo = []  # (post_id, RawPost, stored text, first sight of the post)
            by_key = {(sid, p.external_id): (p, text) for p, sid, text, _ in prepared}
            for key, pid in inserted.items():
                p, text = by_key[key]
                todo.append((pid, p, text, True))
            for p, old, text, _ in changed:
                todo.append((old["id"], p, text, False))
            for p, old, text in refields:
                todo.append((old["id"], p, text, False))
            self._facts(conn, todo, result)
        return result

    def extract_pending(self, batch: int = 500, limit: int | None = None) -> WriteResult:
        """Extract the facts of posts stored without them (`--no-extract`), oldest first, one transaction per
        batch; each is then marked extracted. Returns the facts written (`inserted`: posts extracted)."""
        if self.extractor is None:
            raise ValueError("extract_pending needs a writer with an extractor")
        total = WriteResult()
        P, S = T_POST, T_SOURCE
        last = 0
        while limit is None or total.inserted < limit:
            n = batch if limit is None else min(batch, limit - total.inserted)
            with self.engine.begin() as conn:
                rows = conn.execute(
                    select(P.c.id, P.c.external_id, P.c.text, P.c.version, P.c.posted_at, P.c.collected_at, S.c.key,
                           S.c.country, S.c.currency, S.c.language).join(S, S.c.id == P.c.source_id)
                    .where(P.c.extracted_at.is_(None), P.c.text.is_not(None), P.c.id > last)
                    .order_by(P.c.id).limit(n)).all()
                if not rows:
                    break
                last = rows[-1].id
                todo = []
                for r in rows:
                    hints = SourceHints(country=r.country, currency=r.currency, language=r.language)
                    p = RawPost(source=r.key, external_id=r.external_id, text=r.text, posted_at=r.posted_at,
                                collected_at=r.collected_at or _now(), hints=hints)
                    # fresh (no facts yet) unless an edit: its earlier version's facts stay until replaced here
                    todo.append((r.id, p, r.text, r.version == 1))
                result = WriteResult(inserted=len(todo))
                self._facts(conn, todo, result)
                conn.execute(update(P).where(P.c.id.in_([r.id for r in rows])).values(extracted_at=_now()))
            total += result
        return total

    def _sources(self, conn: Connection, posts: list[RawPost], kind: str, now: datetime) -> dict[str, int]:
        rows = {}
        for p in posts:
            rows.setdefault(
                p.source,
                {
                    "key": p.source,
                    "kind": kind,
                    "name": p.source,
                    "country": p.hints.country,
                    "currency": p.hints.currency,
                    "language": p.hints.language,
                    "created_at": now,
                },
            )
        upsert(conn, T_SOURCE, list(rows.values()), ["key"])
        return _ids_by_key(conn, T_SOURCE, rows)

    def _existing(self, conn: Connection, keys: list[tuple[int, str]]) -> dict[tuple[int, str], dict]:
        out: dict[tuple[int, str], dict] = {}
        cols = [T_POST.c.id, T_POST.c.source_id, T_POST.c.external_id, T_POST.c.text, T_POST.c.text_hash,
                T_POST.c.version, T_POST.c.edited_at, T_POST.c.collected_at, T_POST.c.extra]
        by_source: dict[int, list[str]] = {}
        for sid, ext in keys:
            by_source.setdefault(sid, []).append(ext)
        # One source at a time (a batch is mostly one channel or site): `source_id = ? AND external_id IN (...)`
        # walks the unique index, where a row-value IN over (source_id, external_id) pairs costs more to build
        # and to run.
        for sid, exts in by_source.items():
            for chunk in _chunks(exts):
                q = select(*cols).where(T_POST.c.source_id == sid, T_POST.c.external_id.in_(list(chunk)))
                for r in conn.execute(q).mappings():
                    out[(r["source_id"], r["external_id"])] = dict(r)
        return out

    def _post_row(self, p: RawPost, sid: int, text: str, h: str, now: datetime) -> tuple:
        return (sid, p.external_id, p.url, self.pseudonymiser.handle(p.author), text, h, 1, p.posted_at, p.edited_at,
                None, p.collected_at, now, now, _extra(p), now if self.extractor is not None else None)  # POST_KEYS

    def _facts(self, conn: Connection, todo: list[tuple[int, RawPost, str, bool]], result: WriteResult) -> None:
        if not todo:
            return
        x = self.extractor
        extracted = [(pid, p, fresh, x(text, p.hints, p.posted_at, p.structured) if p.structured.price
                      else x(text, p.hints, p.posted_at)) for pid, p, text, fresh in todo]
        result.without_offer += sum(1 for *_, f in extracted if not f.offers)
        substances: dict[str, SubstanceFact] = {}
        regions: dict[str, RegionFact] = {}
        for _, _, _, f in extracted:
            for s in f.substances:
                substances.setdefault(s.key, s)
            for o in f.offers:
                substances.setdefault(o.substance.key, o.substance)
                if o.region:
                    regions.setdefault(o.region.key, o.region)
            for rs in f.mention_regions.values():
                for r in rs:
                    regions.setdefault(r.key, r)
            for r in f.regions:
                regions.setdefault(r.key, r)
        upsert(conn, T_SUBSTANCE, [{"key": s.key, "canonical": s.canonical, "class": s.cls, "origin": "lexicon"}
                                   for s in substances.values()], ["key"])
        upsert(conn, T_REGION, [{"key": r.key, "level": r.level, "geonameid": r.geonameid, "name": r.name,
                                 "country": r.country} for r in regions.values()], ["key"])
        sub_ids = _ids_by_key(conn, T_SUBSTANCE, substances)
        reg_ids = _ids_by_key(conn, T_REGION, regions)

        # a post inserted by this batch has no facts yet: only re-extracted ones need their old facts removed
        post_ids = [pid for pid, p, fresh, _ in extracted if not fresh]
        for chunk in _chunks(post_ids):
            conn.execute(delete(T_MENTION).where(T_MENTION.c.post_id.in_(chunk)))
            conn.execute(delete(T_OFFER).where(T_OFFER.c.post_id.in_(chunk)))

        mentions, offers, cands = [], [], {}  # rows as tuples of MENTION_KEYS, OFFER_KEYS
        for pid, p, fresh, f in extracted:
            observed = p.posted_at or p.collected_at
            for s in f.substances:
                sid = sub_ids[s.key]
                matched = s.matched[:200]
                for r in f.mention_regions.get(s.key) or (None,):
                    mentions.append((pid, sid, reg_ids[r.key] if r else None, matched, observed))
            for o in f.offers:
                offers.append((pid, sub_ids[o.substance.key], reg_ids[o.region.key] if o.region else None,
                               o.quantity, o.unit, o.grams, o.price, o.currency, o.price_per_gram,
                               o.price_per_gram_usd, observed))
            for c in f.candidates:
                key = c.name.casefold()
                row = cands.setdefault(key, {"key": key, "name": c.name, "class": c.cls, "first_seen": observed,
                                             "last_seen": observed, "posts": 0, "status": "new"})
                row["posts"] += 1 if fresh else 0
                if observed and row["first_seen"] and observed < row["first_seen"]:
                    row["first_seen"] = observed
                if observed and row["last_seen"] and observed > row["last_seen"]:
                    row["last_seen"] = observed
        with _days_marked_once(conn, [r[-1] for r in mentions] + [r[-1] for r in offers]):
            insert_rows(conn, T_MENTION, mentions, keys=MENTION_KEYS)
            insert_rows(conn, T_OFFER, offers, keys=OFFER_KEYS)
        if cands:
            c = T_CANDIDATE.c
            upsert(conn, T_CANDIDATE, list(cands.values()), ["key"], lambda ex: {
                "posts": c.posts + ex.posts,
                "first_seen": case((ex.first_seen < c.first_seen, ex.first_seen), else_=c.first_seen),
                "last_seen": case((ex.last_seen > c.last_seen, ex.last_seen), else_=c.last_seen),
            })
        result.mentions += len(mentions)
        result.offers += len(offers)
        result.candidates += len(cands)
