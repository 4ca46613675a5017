"""Find the substances a post names: lexicon aliases (every inflected form) matched in the cleaned text, with
ordinary words ("соль", "фен", "шишки") counted only in a market context.

One Aho-Corasick automaton (pyahocorasick) holds every folded form of every lexicon phrase: aliases, market cues,
salary words, negative phrases and domain words. find() runs it once over the lowercased cleaned text
(lower_same_length keeps offsets, ё is read as е) and decides:

1. word boundaries: a match must not continue a letter run or a digit run on either side (CJK text has no
   spaces, so CJK characters never break a boundary); negative phrases need only the left boundary;
2. overlapping names: leftmost-longest wins ("а-пвп" over "пвп", "курительной смеси" over "смеси");
3. negative phrases ("соль поваренная", "фен для волос", "скорость интернета") remove every hit they cover;
4. strong aliases always count (news about an arrest with "мефедрона" names mephedrone);
5. an ambiguous alias counts with a strong cue (клад, закладка, наркотик, VHQ...), or, unless a word of one of
   its domains is in the post (сахар for "соль", волосы for "фен"), with weak evidence: a strong drug name in
   the same post, quantity+price pairs found by the caller (not in a job ad: a salary word cancels them), a weak
   e-commerce cue (магазин, бот, в наличии, оператор...) or a drug emoji;
6. an emoji alias (🧂 ❄ 🍫 🌿 🍄) counts only with a strong cue and when no word names a substance: emoji
   decorate every kind of post, and "❄" next to "мефедрон" is snow-white, not cocaine.

>>> m = SubstanceMatcher.default()
>>> [(h.matched, h.canonical, h.cls) for h in m.find("Мефедрон (меф) 1 гр 4000₽")]
[('Мефедрон', 'mephedrone', 'synthetic_cathinone'), ('меф', 'mephedrone', 'synthetic_cathinone')]
>>> [(h.matched, h.key) for h in m.find("соль 1г 3000", has_price_pairs=True)]
[('соль', 'salt')]
>>> m.find("соль 1г 3000"), m.find("Соль поваренная 1 кг 120₽", has_price_pairs=True)
([], [])
>>> [h.key for h in m.find("冰毒 每克 500元")]
['methamphetamine']
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Iterable

import ahocorasick

from pipelines.lexicon import (CLASSES, Alias, Entry, Lexicon, load_lexicon, lower_same_length, match_fold,
                               name_key, phrase_forms, variants)

__all__ = ["SubstanceHit", "SubstanceMatcher"]


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
    ambiguous: bool = False
    emoji: bool = False
    rank: int = 9  # alias priority when two entries claim one form: lower wins
    flags: int = 0  # cue/salary bits
    domains: frozenset[str] = frozenset()
    negative: bool = False


class SubstanceMatcher:
    """Matches lexicon substances in cleaned text. Build once (`default()`), call `find()` per post."""

    def __init__(self, lexicon: Lexicon, extra: Iterable[dict] = ()):
        self.lexicon = lexicon
        self._extra = tuple(extra)
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
                            f.entry, f.rank, f.ambiguous, f.emoji = i, rank, alias.ambiguous, _is_emoji(v)
        self._known = frozenset(k for k in known if k)
        for flag, table in ((_STRONG_CUE, lexicon.cues_strong), (_WEAK_CUE, lexicon.cues_weak),
                            (_SALARY, lexicon.salary)):
            for lang, phrase in table:
                for form in phrase_forms(lang, phrase):
                    for v in variants(form):
                        slot(v).flags |= flag
        for lang, phrase in lexicon.negatives:
            for form in phrase_forms(lang, phrase):
                for v in variants(form):
                    slot(v).negative = True
        for name, words in lexicon.domains.items():
            for lang, phrase in words:
                for form in phrase_forms(lang, phrase):
                    f = slot(form)
                    f.domains = f.domains | {name}
        automaton = ahocorasick.Automaton()
        # pyahocorasick looks a character up among a node's children one by one, in insertion order, and most
        # characters of a post are looked up at the root. Inserting, first, never-matching keys for the most
        # frequent characters, then the forms by how common their first character is, makes the usual lookup
        # short: find() runs about three times faster than with the root children in arbitrary order.
        for ch in _FREQUENT:
            automaton.add_word(ch + "\x00", (2, 0, 0, None))
        rank = {ch: i for i, ch in enumerate(_FREQUENT)}
        for form, f in sorted(forms.items(), key=lambda kv: (rank.get(kv[0][0], len(rank)), kv[0])):
            # A negative phrase needs no right boundary ("фен для волос" covers "фена для волосатых" too);
            # a form that is only a negative phrase gets no right check.
            right = 0 if f.negative and f.entry < 0 and not f.flags and not f.domains else f.right
            automaton.add_word(form, (f.length, f.left, right,
                                      (f.entry, f.ambiguous, f.emoji, f.flags, f.domains, f.negative)))
        automaton.make_automaton()
        self._automaton = automaton
        self.form_count = len(forms)

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
        return SubstanceMatcher(self.lexicon, self._extra + tuple(extra))

    def is_known(self, name: str) -> bool:
        """Is `name` (any spelling: α-PVP, alpha pvp, 5fmdmbpica) an alias or canonical name in the lexicon?"""
        return name_key(name) in self._known

    def find(self, cleaned: str, has_price_pairs: bool = False) -> list[SubstanceHit]:
        """All hits that count, in text order (see the module docstring for the rules)."""
        low = lower_same_length(cleaned).replace("ё", "е")
        last_index = len(low) - 1
        hits = []
        negatives = []
        flags = 0
        domains: set[str] = set()
        for end, (length, left, right, rec) in self._automaton.iter(low):
            start = end - length + 1
            if left and start:
                c = low[start - 1]
                if (c.isalpha() and c < "\u2e80") if left == 1 else c.isdigit():
                    continue
            if right and end < last_index:
                c = low[end + 1]
                if (c.isalpha() and c < "\u2e80") if right == 1 else c.isdigit():
                    continue
            if rec is None:
                continue
            entry, amb, emoji, fl, doms, neg = rec
            if neg:
                negatives.append((start, end + 1))
            if fl:
                flags |= fl
            if doms:
                domains |= doms
            if entry >= 0:
                hits.append((start, end + 1, entry, amb, emoji))
        if not hits:
            return []
        hits.sort(key=lambda h: (h[0], h[0] - h[1]))
        chosen = []
        last = -1
        for h in hits:
            if h[0] >= last and not any(a <= h[0] and h[1] <= b for a, b in negatives):
                chosen.append(h)
                last = h[1]
        strong_cue = flags & _STRONG_CUE
        strong_word = any(not amb and not emoji for _, _, _, amb, emoji in chosen)
        weak = strong_word or flags & _WEAK_CUE or (has_price_pairs and not flags & _SALARY)
        out = []
        for start, end, entry, amb, emoji in chosen:
            if emoji:
                continue
            if amb and not (strong_cue or (weak and not (domains and domains & self.entry_domains[entry]))):
                continue
            out.append(self._hit(cleaned, start, end, entry, amb))
        if not out and strong_cue:
            out = [self._hit(cleaned, s, e, i, True) for s, e, i, _, emoji in chosen if emoji]
        return out

    def _hit(self, cleaned: str, start: int, end: int, entry: int, amb: bool) -> SubstanceHit:
        e = self.entries[entry]
        return SubstanceHit(start, end, cleaned[start:end], e.key, e.canonical, e.cls, bool(amb))


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
