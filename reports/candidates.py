"""Review of candidates, and the lexicon overlay stored in the database.

Two kinds of candidate share the queue (`candidate.kind`): new names, which the extractor reports when a name
looks like a substance but is not in the lexicon (`candidate` rows, and a `candidate:<name>` substance so their
mentions and prices are kept from the first post), and slang, words the lexicon does not know that markets keep
using where prices, weights and shop words are (`reports.slang.discover`, `npswatch candidates discover`).
An analyst then:

- confirms a name: it becomes an alias in the overlay (`substance_alias`, on a `substance` row of origin
  "overlay", or on an existing substance when `--canonical` names one: a stored substance or one of the packaged
  lexicon, whose class it then takes: `сирец --canonical heroin`), its mentions and offers move to that
  substance, and every extractor built through the application context loads the overlay
  (`load_overlay()` -> `Extractor.with_overlay()`), so the next run recognises it as a substance;
- dismisses a name: it is never reported again (signals skip it; the writer keeps its status).

The overlay goes into pipelines/data/lexicon.toml at the next lexicon review.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, delete, func, or_, select, update

from npswatch.pipelines.facts import CLASSES
from npswatch.pipelines.lexicon import Entry, Lexicon, load_lexicon
from npswatch.storage.writer import upsert
from npswatch.storage.tables import T_ALIAS, T_CANDIDATE, T_MENTION, T_OFFER, T_SIGNAL, T_SUBSTANCE


STATUSES = ("new", "confirmed", "dismissed")


class ReviewError(ValueError):
    """A review action that cannot be done; the message says why."""


KINDS = ("new_name", "slang")


@dataclass(frozen=True)
class CandidateRow:
    name: str
    cls: str
    status: str
    posts: int
    first_seen: datetime | None
    last_seen: datetime | None
    kind: str = "new_name"
    score: float | None = None
    examples: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"name": self.name, "class": self.cls, "status": self.status, "posts": self.posts,
                "first_seen": self.first_seen.isoformat() if self.first_seen else None,
                "last_seen": self.last_seen.isoformat() if self.last_seen else None,
                "kind": self.kind, "score": self.score, "examples": list(self.examples)}


@dataclass(frozen=True)
class Confirmed:
    name: str
    substance_key: str
    canonical: str
    cls: str
    moved_mentions: int
    moved_offers: int
    was_candidate: bool


def candidate_key(name: str) -> str:
    """The candidate's key as the writer stores it."""
    return name.strip().casefold()


def _filtered(q, status: str | None, kind: str | None):
    C = T_CANDIDATE
    if status:
        if status not in STATUSES:
            raise ReviewError(f"status must be one of {', '.join(STATUSES)}")
        q = q.where(C.c.status == status)
    if kind:
        if kind not in KINDS:
            raise ReviewError(f"kind must be one of {', '.join(KINDS)}")
        q = q.where(C.c.kind == kind)
    return q


def list_candidates(engine: Engine, status: str | None = "new", kind: str | None = None, *,
                    limit: int | None = None, offset: int = 0) -> list[CandidateRow]:
    """Candidates, most posts first (slang: best score first); `status=None` lists all, `kind=None` both kinds;
    `limit` of them from the `offset`-th on (None: all)."""
    C = T_CANDIDATE
    q = _filtered(select(C.c.name, C.c["class"], C.c.status, C.c.posts, C.c.first_seen, C.c.last_seen, C.c.kind,
                         C.c.score, C.c.examples), status, kind)
    order = (C.c.score.desc(), C.c.posts.desc()) if kind == "slang" else (C.c.posts.desc(),)
    q = q.order_by(*order, C.c.last_seen.desc(), C.c.name)
    if limit is not None:
        q = q.limit(limit)
    if offset:
        q = q.offset(offset)
    with engine.connect() as c:
        return [CandidateRow(*r[:8], tuple(r[8] or ())) for r in c.execute(q)]


def count_candidates(engine: Engine, status: str | None = "new", kind: str | None = None) -> int:
    """How many candidates `list_candidates` lists, all pages."""
    q = _filtered(select(func.count()).select_from(T_CANDIDATE), status, kind)
    with engine.connect() as c:
        return int(c.execute(q).scalar_one())


def confirm(engine: Engine, name: str, cls: str | None = None, canonical: str | None = None,
            lexicon: Lexicon | None = None) -> Confirmed:
    """Add `name` to the overlay as an alias of `canonical` (an existing substance, or a new one).

    `canonical` may name a substance of the packaged lexicon (`lexicon`, default the packaged one) by its canonical
    name or key: the alias then joins that lexicon entry, and `cls` may be left out (it is the entry's).
    """
    name = name.strip()
    if not name:
        raise ReviewError("the name is empty")
    canonical = (canonical or name).strip()
    entry = _lexicon_entry(lexicon or load_lexicon(), canonical) if canonical.casefold() != name.casefold() else None
    if cls is None:
        if entry is None:
            raise ReviewError(f"give --class: {canonical!r} is not a substance of the lexicon")
        cls = entry.cls
    if cls not in CLASSES:
        raise ReviewError(f"class must be one of {', '.join(CLASSES)}, not {cls!r}")
    ckey = candidate_key(name)
    S, A, C = T_SUBSTANCE, T_ALIAS, T_CANDIDATE
    now = datetime.now(timezone.utc)
    with engine.begin() as c:
        cand = c.execute(select(C.c.id, C.c.status).where(C.c.key == ckey)).first()
        # an existing substance with that canonical name (never another candidate) takes the alias
        target = c.execute(
            select(S.c.id, S.c.key, S.c.canonical, S.c["class"])
            .where(func.lower(S.c.canonical) == canonical.casefold(), ~S.c.key.like("candidate:%"))
            .order_by(S.c.id)).first()
        if target is None and entry is not None:
            upsert(c, S, [{"key": entry.key, "canonical": entry.canonical, "class": entry.cls, "origin": "lexicon"}],
                   ["key"])
            target = c.execute(select(S.c.id, S.c.key, S.c.canonical, S.c["class"]).where(S.c.key == entry.key)).one()
        if target is None:
            key = "overlay:" + canonical.casefold()
            upsert(c, S, [{"key": key, "canonical": canonical, "class": cls, "origin": "overlay"}], ["key"])
            target = c.execute(select(S.c.id, S.c.key, S.c.canonical, S.c["class"]).where(S.c.key == key)).one()
        tid, tkey, tcanonical, tcls = target
        upsert(c, A, [{"substance_id": tid, "alias": name, "ambiguous": False, "created_at": now}],
               ["substance_id", "alias"])
        moved_m = moved_o = 0
        old = c.execute(select(S.c.id).where(S.c.key == "candidate:" + ckey)).scalar()
        if old is not None and old != tid:
            moved_m = c.execute(update(T_MENTION).where(T_MENTION.c.substance_id == old).values(substance_id=tid)).rowcount
            moved_o = c.execute(update(T_OFFER).where(T_OFFER.c.substance_id == old).values(substance_id=tid)).rowcount
            c.execute(update(T_SIGNAL).where(T_SIGNAL.c.substance_id == old).values(substance_id=tid))
            c.execute(delete(S).where(S.c.id == old))
        if cand is not None:
            c.execute(update(C).where(C.c.id == cand.id).values(status="confirmed"))
    return Confirmed(name, tkey, tcanonical or tkey, tcls, moved_m, moved_o, cand is not None)


def _lexicon_entry(lexicon: Lexicon, canonical: str) -> Entry | None:
    """The lexicon entry whose canonical name or key is `canonical` (any case)."""
    want = canonical.casefold()
    for e in lexicon.entries:
        if (e.canonical and e.canonical.casefold() == want) or e.key.casefold() == want:
            return e
    return None


def dismiss(engine: Engine, name: str) -> None:
    """Mark a candidate dismissed: signals and `candidates list` stop reporting it."""
    with engine.begin() as c:
        n = c.execute(update(T_CANDIDATE).where(T_CANDIDATE.c.key == candidate_key(name))
                      .values(status="dismissed")).rowcount
    if not n:
        raise ReviewError(f"no candidate named {name!r} (see `npswatch candidates list --status all`)")


def load_overlay(engine: Engine) -> list[dict]:
    """The overlay as `SubstanceMatcher.with_overlay()` takes it: one dict per substance with database aliases.

    A lexicon key only gains aliases; an overlay substance brings its canonical name and class.
    """
    S, A = T_SUBSTANCE, T_ALIAS
    q = (select(S.c.key, S.c.canonical, S.c["class"], A.c.alias)
         .select_from(A.join(S, S.c.id == A.c.substance_id))
         .where(or_(S.c.origin == "overlay", ~S.c.key.like("candidate:%")))
         .order_by(S.c.key, A.c.id))
    out: dict[str, dict] = {}
    with engine.connect() as c:
        for key, canonical, cls, alias in c.execute(q):
            out.setdefault(key, {"key": key, "canonical": canonical, "class": cls, "aliases": []})["aliases"].append(alias)
    return list(out.values())
