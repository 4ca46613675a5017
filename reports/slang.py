"""Slang discovery over the stored posts: the corpus-level counting around the pure steps of `pipelines.slang`.

`discover()` reads every stored post (its current, pseudonymised text), has `read_post` find the unknown words in
market context, counts them over the corpus (market posts, posts without a known substance, slots, first and last
seen, a few example lines), ranks them with `score_words`, and files the best in the review queue: `candidate`
rows of kind "slang" with their number of market posts, first/last seen, score and examples. An analyst then
confirms one (`npswatch candidates confirm сирец --canonical heroin`: `reports.candidates.confirm`, the same path
as a new name) and the next extraction knows it; a dismissed word stays dismissed when discovery runs again.
The counting is over the whole corpus on each run, so a word's figures are replaced, not added up.
"""
from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable

from sqlalchemy import Engine, case, func, select

from npswatch.pipelines.slang import Background, NameShape, PostWords, SlangScore, WordCounts, read_post, score_words
from npswatch.storage.tables import T_CANDIDATE, T_POST
from npswatch.storage.writer import upsert

EXAMPLES = 3  # example lines kept per word
_EXAMPLE_CHARS = 160


@dataclass
class Corpus:
    """Counts of the unknown words of many posts (`add` one post at a time)."""

    counts: dict[str, WordCounts] = field(default_factory=lambda: defaultdict(WordCounts))
    known_slots: Counter = field(default_factory=Counter)
    all_slots: Counter = field(default_factory=Counter)
    first_seen: dict[str, datetime] = field(default_factory=dict)
    last_seen: dict[str, datetime] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    posts: int = 0
    market_posts: int = 0

    def add(self, post: PostWords, observed: datetime | None = None) -> None:
        self.posts += 1
        if post.market:
            self.market_posts += 1
            self.known_slots.update(post.known_slots)
            self.all_slots.update(post.slots)
        seen: set[str] = set()
        for w in post.words:
            c = self.counts[w.word]
            if post.market:
                c.slots[w.slot] += 1
            if w.word in seen:
                continue
            seen.add(w.word)
            if not post.market:
                c.other_posts += 1
                continue
            c.market_posts += 1
            if not post.named:
                c.unnamed_posts += 1
            ex = self.examples[w.word]
            if len(ex) < EXAMPLES and w.line not in ex:
                ex.append(w.line[:_EXAMPLE_CHARS])
            if observed is not None:
                if w.word not in self.first_seen or observed < self.first_seen[w.word]:
                    self.first_seen[w.word] = observed
                if w.word not in self.last_seen or observed > self.last_seen[w.word]:
                    self.last_seen[w.word] = observed


def count_posts(posts: Iterable[tuple[str, datetime | None]], matcher, gazetteer) -> Corpus:
    """Count (text, observed at) posts."""
    corpus = Corpus()
    for text, observed in posts:
        if text:
            corpus.add(read_post(text, matcher, gazetteer), observed)
    return corpus


def rank(corpus: Corpus, matcher, background: Background | None = None) -> list[SlangScore]:
    """The corpus's words as slang candidates, best first."""
    background = background or Background.default()
    shape = NameShape.of(matcher.lexicon, background)
    return score_words(corpus.counts, corpus.known_slots, corpus.all_slots, background, shape)


@dataclass(frozen=True)
class Discovery:
    posts: int  # posts read
    market_posts: int  # of them in market context
    candidates: list[SlangScore]  # the words filed, best first
    skipped: int  # words among the best that are already reviewed or listed as new names


def discover(engine: Engine, matcher, gazetteer, top: int = 50, since: datetime | None = None) -> Discovery:
    """Count the stored posts (posted or collected since `since`, if given) and file the `top` words as slang
    candidates (a word already confirmed, dismissed or listed as a new name keeps its row as it is)."""
    P = T_POST
    observed = func.coalesce(P.c.posted_at, P.c.collected_at)
    q = select(P.c.text, observed).where(P.c.text.is_not(None), P.c.deleted_at.is_(None)).order_by(P.c.id)
    if since is not None:
        q = q.where(observed >= since)
    with engine.connect() as c:
        corpus = count_posts(((text, when) for text, when in c.execute(q)), matcher, gazetteer)
    ranked = rank(corpus, matcher)
    C = T_CANDIDATE
    with engine.begin() as c:
        taken = {k for k, in c.execute(select(C.c.key).where((C.c.kind != "slang") | (C.c.status != "new")))}
        chosen = [s for s in ranked if s.word not in taken][:top]
        skipped = sum(1 for s in ranked[:top] if s.word in taken)
        rows = [{"key": s.word, "name": s.word, "class": "other", "kind": "slang", "status": "new",
                 "posts": s.market_posts, "score": s.score, "examples": corpus.examples.get(s.word, []),
                 "first_seen": corpus.first_seen.get(s.word), "last_seen": corpus.last_seen.get(s.word)}
                for s in chosen]
        if rows:
            upsert(c, C, rows, ["key"], lambda ex: {
                "posts": case((C.c.kind == "slang", ex.posts), else_=C.c.posts),
                "score": ex.score, "examples": ex.examples,
                "first_seen": ex.first_seen, "last_seen": ex.last_seen,
            })
    return Discovery(corpus.posts, corpus.market_posts, chosen, skipped)
