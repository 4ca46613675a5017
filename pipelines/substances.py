"""Find the substances a post names: lexicon aliases (every inflected form) matched in the cleaned text, with
ordinary words ("соль", "фен", "шишки") counted only in a market context.

One Aho-Corasick automaton (pyahocorasick) holds every folded form of every lexicon phrase: aliases, market cues,
salary words, negative phrases and domain words, and the keys of the modules that ride on the same pass
(`scan()`: the words of offers, the fragments that wake the new-name grammars, optionally the gazetteer's place
names). find() runs it once over the lowercased cleaned text (lower_same_length keeps offsets, ё is read as е) and
decides:

1. word boundaries: a match must not continue a letter run or a digit run on either side (CJK text has no
   spaces, so CJK characters never break a boundary); negative phrases need only the left boundary;
2. overlapping names: leftmost-longest wins ("а-пвп" over "пвп", "курительной смеси" over "смеси");
3. negative phrases ("соль поваренная", "фен для волос", "скорость интернета") remove every hit they cover; one
   that starts with a preposition of [price_heads] ("на скорости") does not apply right after a price word of that
   table ("Цены на скорости": prices for "скорость", not "at speed");
4. strong aliases always count (news about an arrest with "мефедрона" names mephedrone);
5. an ambiguous alias counts with a strong cue (клад, закладка, наркотик, VHQ...), or, unless a word of one of
   its domains is in the post (сахар for "соль", волосы for "фен"), with weak evidence: a strong drug name in
   the same post, quantity+price pairs found by the caller (not in a job ad: a salary word cancels them), a weak
   e-commerce cue (магазин, бот, в наличии, оператор...) or a drug emoji;
6. an emoji alias (🧂 ❄ 🍫 🌿 🍄) counts only with a strong cue and when no word names a substance: emoji
   decorate every kind of post, and "❄" next to "мефедрон" is snow-white, not cocaine;
5a. words of the lexicon's not-drugs (ED pills, steroids, supplements, tobacco) are a domain of every entry: next
   to them an ambiguous name needs a strong cue ("Viagra, speed delivery, 10 pills $20" is no amphetamine);
7. a form word (an entry's `form_words`: "кристаллы", "марки", "snow", "ice", a strain name, an ecstasy stamp)
   attached to another counted name, before or after it, with nothing but spaces, brackets, dashes or grade
   words (VHQ, HQ) between, names that substance's form and is no hit of its own: "MDMA VHQ кристаллы" is MDMA,
   not MDMA and the salts kind, "марки 25I-NBOMe" are NBOMe blotters, "OG Kush hash" is hash
   (`drop_attached_form_words`; the extractor applies it to new-name candidates too). A strong alias may be a
   form word too (STRONG_FORM_WORD: "OG Kush" counts anywhere, but next to "hash" it is the hash's strain);
8. names the automaton misses because of their spelling (stretched, misspelt, transliterated: `мефффф`,
   `геройн`, `mefedron`, `экстаzи`) are found by pipelines/fuzzy.py in a post with a cue or words of quantities
   and prices, and count as ambiguous names do (rule 5);
9. a name right after a comparison of [comparisons] ("same effect as oxy", "like MDMA", "лучше чем") is what a
   product is compared with: no hit; a drug name attached to a strain mark of [strain_marks] ("LSD feminized",
   "Auto Opium") is part of a cannabis strain's name: no hit.

>>> m = SubstanceMatcher.default()
>>> [(h.matched, h.canonical, h.cls) for h in m.find("Мефедрон (меф) 1 гр 4000₽")]
[('Мефедрон', 'mephedrone', 'synthetic_cathinone'), ('меф', 'mephedrone', 'synthetic_cathinone')]
>>> [(h.matched, h.key) for h in m.find("соль 1г 3000", has_price_pairs=True)]
[('соль', 'salt')]
>>> m.find("соль 1г 3000"), m.find("Соль поваренная 1 кг 120₽", has_price_pairs=True)
([], [])
>>> [h.key for h in m.find("冰毒 每克 500元")]
['methamphetamine']
>>> [h.key for h in m.find("MDMA кристаллы 1г 3000₽")], [h.key for h in m.find("кристаллы 1г 3000₽", True)]
(['mdma'], ['salt'])
>>> [h.key for h in m.find("Цены на скорости: 1г 3000₽", True)], m.find("ехал на скорости 120 км/ч", True)
(['speed-cathinone'], [])
>>> [h.key for h in m.find("мефффф 1г 3000₽", True)], [h.key for h in m.find("NEP 1g 30$, feels like meth", True)]
(['mephedrone'], ['nep'])
"""
from __future__ import annotations

from bisect import bisect_left
from dataclasses import dataclass, fields
from functools import lru_cache
from typing import Iterable

import ahocorasick

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None

from .candidates import trigger_keys
from .fuzzy import FuzzyNames
from .lexicon import (CLASSES, Alias, Entry, Lexicon, load_lexicon, lower_same_length, match_fold, name_key,
                      phrase_forms, variants)
from .offers import word_keys

__all__ = ["FORM_WORD", "SubstanceHit", "SubstanceMatcher", "drop_attached_form_words"]


@dataclass(frozen=True, slots=True)
class SubstanceHit:
    start: int  # span in the cleaned text
    end: int
    matched: str  # the surface form as it stands in the cleaned text
    key: str  # stable lexicon entry id
    canonical: str | None  # international short name; None for a kind ("соль", "спайс", "гашиш")
    cls: str
    ambiguous: bool


# Roles of a form in the automaton. A form may have several (🧂 is an alias and a weak cue).
_STRONG_CUE, _WEAK_CUE, _SALARY = 1, 2, 4
# The `ambiguous` value of a form word's forms (truthy, like True: a form word is an ambiguous alias), and the
# `negative` value of a negative phrase that starts with a preposition of [price_heads] (plain ones: 1).
FORM_WORD = 2
# ... and of a strong alias that is also a form word ("OG Kush": counted anywhere, but next to "hash" it is the hash's
# strain); every value >= FORM_WORD is a form word
STRONG_FORM_WORD = 3
_HEADED_NEGATIVE = 2
# `negative` values of the phrases whose position matters to the hits next to them (rule 9): a comparison voids the
# name after it, a strain mark the drug name attached to it
_COMPARISON, _STRAIN_MARK = 3, 4


def _kind(ch: str) -> int:
    """0: anything that separates words; 1: a letter of a spaced script; 2: a digit. CJK (>= U+2E80) separates."""
    if ch.isalpha():
        return 1 if ch < "\u2e80" else 0
    return 2 if ch.isdigit() else 0


# Characters of cleaned, lowercased posts from most to least frequent (Russian letters by corpus frequency,
# then layout, digits, Latin, the rest of the region's Cyrillic): the order of the automaton's root children.
_FREQUENT = (" оеаинтсрвлкмдпуяызьбгчйхжшюцщэфъ\n0123456789.,-:;!?()/'\"+%№₽$*#@"
             "eaoinrstlhdcumpgfybwkvxzjq" "әғқңөұүһіўҳҷӣӯ")


def _is_emoji(form: str) -> bool:
    return not any(ch.isalnum() for ch in form)


@dataclass(slots=True)
class _Form:
    length: int
    left: int  # _kind of the first character: the character before the match must differ (0: no check)
    right: int  # same for the last character and the character after
    entry: int = -1  # index into entries, -1 when the form is not an alias
    ambiguous: int = False  # True, or FORM_WORD / STRONG_FORM_WORD for a form word
    emoji: bool = False
    rank: int = 9  # alias priority when two entries claim one form: lower wins
    flags: int = 0  # cue/salary bits
    domains: frozenset[str] = frozenset()
    negative: int = 0  # 1, or _HEADED_NEGATIVE for one that a price word right before it voids


class SubstanceMatcher:
    """Matches lexicon substances in cleaned text. Build once (`default()`), call `find()` per post."""

    def __init__(self, lexicon: Lexicon, extra: Iterable[dict] = (), places=None):
        """`places`: a `pipelines.regions.Gazetteer` whose place names should ride on `scan()` (see there)."""
        self.lexicon = lexicon
        self._extra = tuple(extra)
        self.places = places
        entries = list(lexicon.entries)
        overlay: dict[int, list[Alias]] = {}
        by_key = {e.key: i for i, e in enumerate(entries)}
        for item in self._extra:
            aliases = _overlay_aliases(item)
            if item["key"] in by_key:
                overlay.setdefault(by_key[item["key"]], []).extend(aliases)
            else:
                cls = item.get("class") or item.get("cls")
                if cls not in CLASSES:
                    raise ValueError(f"overlay entry {item['key']!r}: class {cls!r} is not one of {CLASSES}")
                by_key[item["key"]] = len(entries)
                entries.append(Entry(key=item["key"], canonical=item.get("canonical"), cls=cls, aliases=()))
                overlay[len(entries) - 1] = aliases
        self.entries: tuple[Entry, ...] = tuple(entries)
        self.entry_domains = tuple(frozenset(e.domains) for e in entries)
        forms: dict[str, _Form] = {}

        def slot(form: str) -> _Form:
            f = forms.get(form)
            if f is None:
                f = forms[form] = _Form(len(form), _kind(form[0]), _kind(form[-1]))
            return f

        known: set[str] = set()
        for i, entry in enumerate(self.entries):
            known.update(name_key(x) for x in (entry.key, entry.canonical or "") if x)
            for alias in entry.aliases + tuple(overlay.get(i, ())):
                base = match_fold(alias.text)
                if not base:
                    continue
                for form in phrase_forms(alias.lang, alias.text):  # overlay phrases: no stored inflections
                    if form in entry.exclude_forms:
                        continue
                    for v in variants(form):
                        known.add(name_key(v))
                        rank = (0 if form == base else 2) + alias.ambiguous
                        f = slot(v)
                        if rank < f.rank:
                            amb = alias.ambiguous if alias.text not in entry.form_words else \
                                FORM_WORD if alias.ambiguous else STRONG_FORM_WORD
                            f.entry, f.rank, f.ambiguous, f.emoji = i, rank, amb, _is_emoji(v)
        self._known = frozenset(k for k in known if k)
        self._status_memo: dict[str, tuple[str, bool]] = {}
        for flag, table in ((_STRONG_CUE, lexicon.cues_strong), (_WEAK_CUE, lexicon.cues_weak),
                            (_SALARY, lexicon.salary)):
            for lang, phrase in table:
                for form in phrase_forms(lang, phrase):
                    for v in variants(form):
                        slot(v).flags |= flag
        # price words and the prepositions they take ("цены на"): a negative phrase starting with one of those
        # prepositions is void right after one of those words (`_after_price_head`)
        self._price_heads = frozenset(f for lang, phrase in lexicon.price_heads for f in phrase_forms(lang, phrase))
        self._price_head_max = max(map(len, self._price_heads), default=0)
        preps = tuple(match_fold(p) + " " for _, p in lexicon.head_prepositions) if self._price_heads else ()
        for lang, phrase in lexicon.negatives:
            for form in phrase_forms(lang, phrase):
                headed = bool(preps) and form.startswith(preps)
                for v in variants(form):
                    f = slot(v)
                    f.negative = 1 if f.negative == 1 or not headed else _HEADED_NEGATIVE
        for name, words in lexicon.domains.items():
            for lang, phrase in words:
                for form in phrase_forms(lang, phrase):
                    f = slot(form)
                    f.domains = f.domains | {name}
        # Not-drug words (ED pills, steroids, supplements, nasvay): a domain of every entry, so an ambiguous name
        # next to them needs a strong cue ("Kamagra jelly, ice cold" is no methamphetamine)
        if lexicon.not_drugs:
            for nd in lexicon.not_drugs:
                for lang, texts in nd.get("words", {}).items():
                    for t in texts:
                        for form in phrase_forms(lang, t):
                            f = slot(form)
                            f.domains = f.domains | {"not_drug"}
            self.entry_domains = tuple(d | {"not_drug"} for d in self.entry_domains)
        for value, table in ((_COMPARISON, lexicon.comparisons), (_STRAIN_MARK, lexicon.strain_marks)):
            for _lang, phrase in table:
                slot(match_fold(phrase)).negative = value
        automaton = ahocorasick.Automaton()
        # pyahocorasick looks a character up among a node's children one by one, in insertion order, and most
        # characters of a post are looked up at the root. Inserting, first, never-matching keys for the most
        # frequent characters, then the forms by how common their first character is, makes the usual lookup
        # short: find() runs about three times faster than with the root children in arbitrary order.
        # Values: (length - 1, left check, right check, form record or None, rider or None); a rider is a key of
        # another module riding on this scan (see `scan()`).
        for ch in _FREQUENT:
            automaton.add_word(ch + "\x00", (1, 0, 0, None, None))
        rank = {ch: i for i, ch in enumerate(_FREQUENT)}
        roles: dict[str, list] = {k: list(v) for k, v in _riders().items()}
        if places is not None:
            for key, value in places.rider_keys():
                roles.setdefault(key, [None, None, None])[2] = value
        # a rider: (sink, payload) for a key of one role (sink 0: words, 1: anchors, 2: places), else
        # (-1, ((sink, payload), ...))
        riders: dict[str, tuple] = {}
        for key, payloads in roles.items():
            mine = tuple((i, p) for i, p in enumerate(payloads) if p is not None)
            riders[key] = mine[0] if len(mine) == 1 else (-1, mine)
        for key in sorted(forms.keys() | riders.keys(), key=lambda k: (rank.get(k[0], len(rank)), k)):
            f = forms.get(key)
            if f is None:
                automaton.add_word(key, (len(key) - 1, 0, 0, None, riders[key]))
                continue
            # A negative phrase needs no right boundary ("фен для волос" covers "фена для волосатых" too);
            # a form that is only a negative phrase gets no right check.
            right = 0 if f.negative in (1, _HEADED_NEGATIVE) and f.entry < 0 and not f.flags and not f.domains \
                else f.right
            automaton.add_word(key, (f.length - 1, f.left, right,
                                     (f.entry, f.ambiguous, f.emoji, f.flags, f.domains, f.negative), riders.get(key)))
        automaton.make_automaton()
        self._automaton = automaton
        self.form_count = len(forms)
        # rule 8: stretched, misspelt and transliterated names (pipelines/fuzzy.py); never an emoji, a form
        # excluded from an entry or a not-drug word
        blocked = {f for e in self.entries for f in e.exclude_forms}
        blocked.update(match_fold(w) for nd in lexicon.not_drugs for ws in nd.get("words", {}).values() for w in ws)
        # (within an edit distance only of the strong aliases as the lexicon writes them, rank 0: not of their
        # inflections, whose endings are one edit from ordinary words: "кодеини" is "кофейни")
        # A spelling-tolerant hit is an ambiguous one, whatever the alias: it counts only in a market context.
        self._fuzzy = FuzzyNames(((k, f.entry, f.rank == 0, FORM_WORD if f.ambiguous >= FORM_WORD else True)
                                  for k, f in forms.items() if f.entry >= 0 and not f.emoji), blocked)

    @classmethod
    def default(cls) -> "SubstanceMatcher":
        """The matcher of the packaged lexicon, built once per process."""
        return _default()

    def with_overlay(self, extra: list[dict]) -> "SubstanceMatcher":
        """A new matcher with extra aliases or substances (e.g. candidates an analyst confirmed).

        Each dict: {"key", "canonical", "class", "aliases": [...] or {lang: [...]}, "ambiguous": [...]}; a known
        key only adds aliases. Overlay aliases get spelling variants and, under a kk/ky/uz/uz_cyrl/tg language
        key, that language's suffixes, but no Russian inflection (pymorphy3 is not loaded at run time): list the
        inflected forms too, or move the name into lexicon.toml at the next review.
        """
        return SubstanceMatcher(self.lexicon, self._extra + tuple(extra), self.places)

    def with_places(self, places) -> "SubstanceMatcher":
        """The same matcher, with the place names of a `pipelines.regions.Gazetteer` riding on `scan()`."""
        return SubstanceMatcher(self.lexicon, self._extra, places)

    def is_known(self, name: str) -> bool:
        """Is `name` (any spelling: α-PVP, alpha pvp, 5fmdmbpica) an alias or canonical name in the lexicon?"""
        return name_key(name) in self._known

    def name_status(self, name: str) -> tuple[str, bool]:
        """(name_key(name), known), memoised: the same few new names recur in every price list. Known: an alias or
        canonical name of the lexicon, or a word the spelling-tolerant matcher reads as one ("alprozolam" is
        alprazolam misspelt, not a new benzodiazepine; "ketizolam" stays new: see pipelines/fuzzy.py)."""
        try:
            return self._status_memo[name]
        except KeyError:
            if len(self._status_memo) >= 4096:  # bounded
                self._status_memo.clear()
            key = name_key(name)
            known = key in self._known or (name.isalpha() and bool(self._fuzzy.lookup(name.lower())))
            v = self._status_memo[name] = (key, known)
            return v

    def find(self, cleaned: str, has_price_pairs: bool = False, low: str | None = None) -> list[SubstanceHit]:
        """All hits that count, in text order (see the module docstring for the rules).

        `low` may pass `match_fold`-style lowering of `cleaned` done by the caller (same length, ё as е), which
        spares doing it again.
        """
        scan = self.scan(cleaned, low)
        if scan is None:
            return []
        hit = _new_hit
        entries = self.entries
        out = []
        for start, end, entry, amb in self.select(scan, has_price_pairs):
            e = entries[entry]
            out.append(hit(start, end, cleaned[start:end], e.key, e.canonical, e.cls, amb in (True, FORM_WORD)))
        return out

    def scan(self, cleaned: str, low: str | None = None, words: list | None = None,
             anchors: list | None = None, places: list | None = None) -> tuple | None:
        """Rules 1-3, 8 and 9 of the module docstring, which do not depend on price pairs: an opaque scan for
        `select()`, None when no substance name stands in the text.

        The same pass finds the keys of `pipelines.offers.word_keys()` and `pipelines.candidates.trigger_keys()`
        (and, for a matcher made `with_places()`, the gazetteer's `rider_keys()`): their (end, payload) matches are
        appended to `words`, `anchors` and `places` when given, for `find_price_points(words=...)`,
        `find_candidates(anchors=...)` and `Gazetteer.spans(matches=...)`. One pass instead of four: a post is
        scanned by one automaton whose nodes stay in the processor's caches.
        """
        if low is None:
            low = lower_same_length(cleaned).replace("ё", "е")
        text: str = low
        last_index: cython.Py_ssize_t = len(text) - 1
        end: cython.Py_ssize_t
        start: cython.Py_ssize_t
        lm1: cython.Py_ssize_t
        left: cython.int
        right: cython.int
        c: cython.Py_UCS4
        flags: cython.int
        hits = []
        negatives = []
        marks = []
        flags = 0
        domains = None
        sinks = (words if words is not None else [], anchors if anchors is not None else [],
                 places if places is not None else [])
        add_hit = hits.append
        # The hot loop (about fifteen matches a post, a third of them inside a longer word): keep it lean.
        for end, (lm1, left, right, rec, rider) in self._automaton.iter(text):
            if rider is not None:
                sink, payload = rider
                if sink >= 0:
                    sinks[sink].append((end, payload))
                else:
                    for sink, p in payload:
                        sinks[sink].append((end, p))
                if rec is None:
                    continue
            # (the right side first: a form is more often the start of a longer word than its end)
            if right and end < last_index:
                c = text[end + 1]
                if (c.isalpha() and c < "\u2e80") if right == 1 else c.isdigit():
                    continue
            start = end - lm1
            if left and start:
                c = text[start - 1]
                if (c.isalpha() and c < "\u2e80") if left == 1 else c.isdigit():
                    continue
            if rec is None:
                continue
            entry, amb, emoji, fl, doms, neg = rec
            if entry >= 0:
                # (start, -end): a plain sort puts leftmost first, then longest
                add_hit((start, -end - 1, entry, amb, emoji))
                if not (fl or doms or neg):
                    continue
            if neg:
                if neg >= _COMPARISON:
                    marks.append((start, end + 1, neg))
                elif neg == 1 or not self._after_price_head(low, start):
                    negatives.append((start, end + 1))
            if fl:
                flags |= fl
            if doms:
                domains = doms if domains is None else domains | doms
        if flags or sinks[0]:
            # a market-looking post (a cue, or words of quantities and prices): try the names the automaton missed
            for s, e, entry, amb in self._fuzzy.find(text, ((h[0], -h[1]) for h in hits)):
                add_hit((s, -e, entry, amb, False))
        if not hits:
            return None
        hits.sort()
        chosen = []
        last = -1
        if negatives:
            # a hit is covered when some negative phrase starts at or before it and ends at or after it: with the
            # negatives by start, the furthest end among those started so far says so (linear, not hits x negatives)
            negatives.sort()
            j, n_neg, reach = 0, len(negatives), -1
        for h in hits:
            s = h[0]
            if s >= last:
                e = -h[1]
                if negatives:
                    while j < n_neg and negatives[j][0] <= s:
                        if negatives[j][1] > reach:
                            reach = negatives[j][1]
                        j += 1
                    if reach >= e:
                        continue
                chosen.append((s, e, h[2], h[3], h[4]))
                last = e
        if marks:
            chosen = self._unmarked(chosen, marks, low)
            if not chosen:
                return None
        return chosen, flags, domains, low

    def _unmarked(self, chosen: list, marks: list, low: str) -> list:
        """Rule 9: `chosen` without the names right after a comparison ("same effect as oxy", "like MDMA") and the
        drug names attached to a strain mark ("LSD feminized", "Auto Opium": a cannabis strain's name)."""
        entries = self.entries
        out = []
        for h in chosen:
            s, e = h[0], h[1]
            void = False
            for ms, me, kind in marks:
                if kind == _COMPARISON:
                    void = me <= s <= me + 3 and all(c in " :-«\"'" for c in low[me:s])
                else:
                    void = (entries[h[2]].cls != "cannabis" and not (ms < e and s < me)
                            and (_attached(low, e, ms) or _attached(low, me, s)))
                if void:
                    break
            if not void:
                out.append(h)
        return out

    def _after_price_head(self, low: str, start: int) -> bool:
        """Does a price word of [price_heads] stand right before `start`, with at most three spaces between? Reads
        a bounded stretch of text before `start`, so it stays constant-time per negative phrase."""
        i = start
        while i > 0 and low[i - 1] == " " and start - i < 3:
            i -= 1
        j = i
        limit = i - self._price_head_max
        while j > 0 and j > limit and (low[j - 1].isalpha() or low[j - 1] == "-"):
            j -= 1
        return i > j and low[j:i] in self._price_heads and not (j and low[j - 1].isalpha())

    def select(self, scan: tuple, has_price_pairs: bool = False) -> list[tuple[int, int, int, bool]]:
        """Rules 4-7 of the module docstring on a `scan()` (which applied 8 and 9): the hits that count, as (start,
        end, entry index, ambiguous) in text order (ambiguous is FORM_WORD or STRONG_FORM_WORD for a form word,
        else a bool)."""
        chosen, flags, domains, low = scan
        strong_cue = flags & _STRONG_CUE
        weak = flags & _WEAK_CUE or (has_price_pairs and not flags & _SALARY)
        if not weak:
            for h in chosen:
                if not h[3] and not h[4]:
                    weak = True  # a strong drug name in the post
                    break
        entry_domains = self.entry_domains
        out = []
        form_word = False
        for start, end, entry, amb, emoji in chosen:
            if emoji:
                continue
            if amb:
                if amb != STRONG_FORM_WORD and not (
                        strong_cue or (weak and not (domains and domains & entry_domains[entry]))):
                    continue
                if amb >= FORM_WORD:
                    form_word = True
            out.append((start, end, entry, amb))
        if form_word and len(out) > 1:
            out = drop_attached_form_words(out, low)
        if not out and strong_cue:
            out = [(s, e, i, True) for s, e, i, _, emoji in chosen if emoji]
        return out


# What may stand between a form word and the name it describes: "MDMA кристаллы", "МДМА-кристалл", "Меф (кристалл)",
# "кристаллы: MDMA". Not a comma, slash or newline: those separate the items of a list.
_ATTACHING = frozenset(" -()[]:«»\"'")
_ATTACH_GAP = 4


_GRADE_GAP = 16


def _attached(low: str, end: int, start: int) -> bool:
    """Is the name ending at `end` attached to the one starting at `start`: nothing between but attaching
    characters, or grade words ("MDMA VHQ кристаллы", "METADON - VHQ - (KRISTAL)")?"""
    if not 0 <= start - end <= _GRADE_GAP:
        return False
    gap = low[end:start]
    if all(c in _ATTACHING for c in gap):
        return start - end <= _ATTACH_GAP
    words = "".join(c if c not in _ATTACHING else " " for c in gap).split()
    return all(w in _grade_words() for w in words)


@lru_cache(maxsize=1)
def _grade_words() -> frozenset[str]:
    """Quality grades that may stand between a name and its form word: the one-word market cues of the lexicon
    (VHQ, HQ, качество...)."""
    lex = load_lexicon()
    return frozenset(match_fold(p) for _, p in lex.cues_strong + lex.cues_weak if " " not in p)


def drop_attached_form_words(hits: list, low: str, names=()) -> list:
    """Rule 7: `hits` ((start, end, entry, ambiguous, ...) tuples in text order, as `select()` makes them) without
    the form words attached to another name: a hit that is not a form word, or one of the (start, end) spans in
    `names` (new-name candidates). `low`: the lowered text the spans are in.

    >>> m = SubstanceMatcher.default()
    >>> [h.key for h in m.find("Альфа-ПВП кристаллы 1г")], [h.key for h in m.find("Мефедрон, кристаллы 1г")]
    (['alpha-pvp'], ['mephedrone', 'salt'])
    """
    spans = [(h[0], h[1]) for h in hits if h[3] < FORM_WORD]
    if names:
        spans = sorted(spans + [(s, e) for s, e in names])
    if not spans:
        return hits
    starts = [s for s, _ in spans]
    n = len(spans)
    out = []
    for h in hits:
        if h[3] >= FORM_WORD:
            s, e = h[0], h[1]
            k = bisect_left(starts, s)  # the first name starting at or after the form word, and the one before
            if (k < n and _attached(low, e, spans[k][0])) or (k and _attached(low, spans[k - 1][1], s)):
                continue
        out.append(h)
    return out


def _fast_constructor(cls):
    """cls(...) for a frozen slotted dataclass without its __init__ (which calls object.__setattr__ per field):
    slot descriptors set directly, about twice as fast. Same object, same equality."""
    new = object.__new__
    setters = tuple(getattr(cls, f.name).__set__ for f in fields(cls))
    if len(setters) != 7:  # pragma: no cover - guards the unrolled body below
        raise TypeError(cls)
    s0, s1, s2, s3, s4, s5, s6 = setters

    def make(a, b, c, d, e, f, g):
        o = new(cls)
        s0(o, a), s1(o, b), s2(o, c), s3(o, d), s4(o, e), s5(o, f), s6(o, g)
        return o

    return make


_new_hit = _fast_constructor(SubstanceHit)


@lru_cache(maxsize=1)
def _riders() -> dict[str, tuple]:
    """Keys of other modules that ride on the matcher's pass over a post: key -> (offers word payload or None,
    candidate trigger payload or None, place value or None). All take the text lowered with ё as е, as the
    matcher does."""
    out: dict[str, list] = {}
    for key, payload in word_keys():
        out.setdefault(key, [None, None, None])[0] = payload
    for key, payload in trigger_keys():
        out.setdefault(key, [None, None, None])[1] = payload
    return {k: tuple(v) for k, v in out.items()}


def _overlay_aliases(item: dict) -> list[Alias]:
    out = []
    for field, amb in (("aliases", False), ("ambiguous", True)):
        value = item.get(field) or ()
        pairs = value.items() if isinstance(value, dict) else [("overlay", value)]
        for lang, texts in pairs:
            out.extend(Alias(t, lang, amb) for t in texts)
    return out


@lru_cache(maxsize=1)
def _default() -> SubstanceMatcher:
    return SubstanceMatcher(load_lexicon())
