"""Spelling as shops write it: the names the exact matcher (pipelines/substances.py) misses because they are
stretched (`мефффф`, `н-бооом`), misspelt (`геройн`, `метамфитамин`, `alprozolam`), transliterated from Russian
into Latin letters or back (`mefedron`, `shishki`, `metadon`, `sirec`), or English names in Cyrillic (`экстаzи`).

Every word is reduced to a *skeleton*: Cyrillic letters are transliterated into Latin by one table, Latin digraphs
that spell one sound are read as that sound (ph f, th t, ck k, zh j, ts c, q k, w v, y i), and repeated letters
are written once. A Latin c may be ц or k and an x may be кс or х (`MARIXYANA`), so such words have up to four
skeletons. The lexicon's alias forms (and their two-word phrases) are indexed by skeleton. A word of the post then
matches an alias when:

1. its skeleton equals an alias skeleton (transliteration and stretching), and the word has at least four letters,
   or three when it was stretched (`мефффф`); or
2. its skeleton is within edit distance 1 (optimal string alignment, with rapidfuzz) of
   the skeleton of a strong alias as the lexicon writes it (not of its inflections, whose endings are one edit
   from ordinary words), both start with the same two letters (a new substance is often an old one with a
   prefix: metizolam is no etizolam, and the new-name detector reports it), the word has at least seven letters
   and the alias skeleton at least five, and no alias of another substance is as close (one edit only: two turn
   a known substance into a new one, flubromazolam into flubromazepam). Never within a distance
   of an ambiguous alias: those are ordinary words, brands or stamps already, and a word one letter away from
   one is another word (`Twesla` is no `Tesla`);

and in both cases it is not an ordinary word: words of wordfreq's English and Russian lists above a frequency
(pipelines/data/common_words.txt.gz, made by tools/build_common_words.py), the lexicon's excluded forms and its
not-drug words never match. Two adjacent words are tried together too (`н бооом`, `gorila glue`, `northen
light`) when one of them is no ordinary word; within an edit distance only when both have four letters or more
and each is within one edit of its alias word. The caller says when to look and what a hit counts as (the
matcher: in a post with a market cue or words of quantities and prices, as an ambiguous name, which counts only in
a market context). Results are memoised per word and per whitespace-separated chunk: shop vocabulary repeats.

>>> f = FuzzyNames([("мефедрон", 0, True, "a"), ("героин", 1, True, "b"), ("шишки", 2, False, "c"),
...                 ("н-бом", 3, True, "d")])
>>> [(s, e, i) for s, e, i, _ in f.find("mefedron 1g, геройн, shishki")]
[(0, 8, 0), (13, 19, 1), (21, 28, 2)]
>>> [(s, e, i) for s, e, i, _ in f.find("н бооом 2 шт")]
[(0, 7, 3)]
>>> f.find("plan, heroine, мефедрон", covered=[(15, 23)])  # ordinary words; the exact matcher's hits
[]
"""
from __future__ import annotations

import gzip
import re
from functools import lru_cache
from pathlib import Path
from typing import Iterable

from rapidfuzz import process
from rapidfuzz.distance import OSA

__all__ = ["FuzzyNames", "skeletons", "common_words", "COMMON_WORDS_PATH"]

COMMON_WORDS_PATH = Path(__file__).resolve().parent / "data" / "common_words.txt.gz"

# One transliteration table, Cyrillic (Russian and the region's other Cyrillic alphabets) to Latin, in the
# spelling Russian speakers use when they type Latin: ц c, х h, ж j (zh is read as j on the Latin side too).
_CYR_TO_LAT = {
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "j", "з": "z", "и": "i", "й": "i",
    "к": "k", "л": "l", "м": "m", "н": "n", "о": "o", "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f",
    "х": "h", "ц": "c", "ч": "ch", "ш": "sh", "щ": "sh", "ъ": "", "ы": "i", "ь": "", "э": "e", "ю": "iu", "я": "ia",
    "є": "e", "і": "i", "ї": "i", "ў": "u", "ә": "a", "ғ": "g", "қ": "k", "ң": "n", "ө": "o", "ұ": "u", "ү": "u",
    "һ": "h", "ҳ": "h", "ҷ": "j", "ӣ": "i", "ӯ": "u",
}
_TRANSLIT = str.maketrans(_CYR_TO_LAT)
# Latin spellings of one sound, read as that sound (in this order: "sch" before "ch", "tz"/"ts" before "z"/"s")
_DIGRAPHS = (("sch", "sh"), ("shch", "sh"), ("ph", "f"), ("th", "t"), ("ck", "k"), ("kh", "h"), ("zh", "j"),
             ("tz", "c"), ("ts", "c"), ("q", "k"), ("w", "v"), ("y", "i"))
_REPEAT = re.compile(r"(.)\1+")
_STRETCH = re.compile(r"([^\W\d_])\1\1")
_WORD = re.compile(r"[^\W\d_]+")

MIN_EXACT = 4  # letters of a word matched by skeleton alone (3 when stretched)
MIN_FUZZY = 7  # letters of a word matched within an edit distance
MIN_TARGET = 5  # letters of an alias skeleton that a word may be matched to within an edit distance
_MEMO_MAX = 1 << 16


def skeletons(word: str) -> tuple[str, ...]:
    """The skeletons of a lowercased word or phrase (words separated by spaces or hyphens).

    >>> skeletons("мефедрон"), skeletons("mefedron"), skeletons("methamfethamin"), skeletons("метамфетамин")
    (('mefedron',), ('mefedron',), ('metamfetamin',), ('metamfetamin',))
    >>> skeletons("sirec"), skeletons("сирец"), skeletons("экстаzи"), skeletons("нбоооом")
    (('sirec', 'sirek'), ('sirec',), ('ekstazi',), ('nbom',))
    >>> skeletons("marixyana")
    ('mariksiana', 'marihiana')
    """
    s = word.translate(_TRANSLIT).replace("-", " ")
    for a, b in _DIGRAPHS:
        if a in s:
            s = s.replace(a, b)
    out = [s]
    if "x" in s:
        out = [s.replace("x", "ks"), s.replace("x", "h")]
    if "c" in word:  # a Latin c (ц is c too, but only ever ц)
        out += [v.replace("c", "k") for v in out]
    return tuple(dict.fromkeys(_REPEAT.sub(r"\1", v) for v in out))


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Ordinary English and Russian words (see tools/build_common_words.py); empty before the first generation."""
    try:
        return frozenset(gzip.decompress(COMMON_WORDS_PATH.read_bytes()).decode("utf-8").split())
    except FileNotFoundError:  # pragma: no cover - before the first generation
        return frozenset()


class FuzzyNames:
    """Finds alias forms written with stretched letters, small misspellings or in the other script."""

    def __init__(self, forms: Iterable[tuple[str, int, bool, object]], blocked: Iterable[str] = (),
                 common: frozenset[str] | None = None):
        """`forms`: (folded alias form, entry index, strong, payload); `strong` is False for an ambiguous alias
        (matched by skeleton only), the payload is handed back with a hit (the matcher passes the form's
        ambiguity). A form claimed by several entries keeps its first. `blocked`: words never matched (beside the
        ordinary words of `common`, by default `common_words()`)."""
        self._common = common_words() if common is None else common
        self._blocked = frozenset(blocked)
        exact: dict[str, tuple[int, object]] = {}
        strong: set[str] = set()
        forms = list(forms)
        self._forms = frozenset(f for f, *_ in forms)  # written as the lexicon has them: the exact matcher's
        for form, entry, is_strong, payload in forms:
            words = form.replace("-", " ").split()
            if not 1 <= len(words) <= 2 or not all(w.isalpha() for w in words):
                continue
            for key in skeletons(" ".join(words)):
                if key not in exact:
                    exact[key] = (entry, payload)
                    if is_strong:
                        strong.add(key)
        self._exact = exact
        # targets within an edit distance, by (is a pair, length)
        by_len: dict[tuple[bool, int], list[str]] = {}
        for key in sorted(strong):
            if len(key) >= MIN_TARGET:
                by_len.setdefault((" " in key, len(key)), []).append(key)
        self._by_len = by_len
        self._memo: dict[str, tuple | None] = {}  # word -> `_word`
        self._pairs: dict[str, tuple] = {}  # "word word" -> `_pair`
        self._chunks: dict[str, tuple | None] = {}  # whitespace-separated chunk -> `_chunk`
        self._lines: dict[str, tuple] = {}  # line -> its matches (`_spans`)

    def find(self, low: str, covered: Iterable[tuple[int, int]] = ()) -> list[tuple[int, int, int, object]]:
        """(start, end, entry index, payload) of every match in `low` (lowercased, ё as е), in text order; words
        inside a `covered` (start, end) span (the exact matcher's hits) are left alone."""
        # A quick pass: lines and their whitespace-separated chunks have memoised verdicts (a shop repeats its
        # lines, and most chunks are ordinary or known words seen before; two words joined across a line break are
        # never tried); only a post with a match gets the word-by-word pass.
        lines = self._lines
        out = None
        at = 0
        for line in low.split("\n"):
            v = lines.get(line)
            if v is None:
                if len(lines) >= _MEMO_MAX:
                    lines.clear()
                v = lines[line] = tuple(self._spans(line)) if self._line_matches(line) else ()
            if v:
                if out is None:
                    out = []
                out.extend((s + at, e + at, i, p) for s, e, i, p in v)
            at += len(line) + 1
        if out is None:
            return []
        spans = sorted(covered)
        return [h for h in out if not any(s < h[1] and h[0] < e for s, e in spans)]

    def _line_matches(self, line: str) -> bool:
        chunks = self._chunks
        pair = self._pair
        prev = None
        for c in line.split():
            info = chunks.get(c, 0)
            if info == 0:
                info = self._chunk(c)
            if info is not None:
                if info[0] or (prev is not None and (prev[2] or info[1]) and pair(prev[4], info[3])):
                    return True
            prev = info
        return False

    def _spans(self, low: str) -> list[tuple[int, int, int, object]]:
        out = []
        status = self._word
        matches = list(_WORD.finditer(low))
        i, n = 0, len(matches)
        while i < n:
            m = matches[i]
            w = m.group()
            hit = status(w)
            end = m.end()
            if i + 1 < n:
                m2 = matches[i + 1]
                w2 = m2.group()
                if low[end:m2.start()] in (" ", "-", " - ") and (hit is not None or status(w2) is not None):
                    pair_hit = self._pair(w, w2)
                    if pair_hit:
                        hit, end = pair_hit, m2.end()
                        i += 1
            if hit:
                out.append((m.start(), end, hit[0], hit[1]))
            i += 1
        return out

    def _chunk(self, chunk: str):
        """None for a chunk without letters; else (has a match, starts with an unknown word, ends with one, first
        word, last word). Memoised."""
        words = _WORD.findall(chunk)
        info = None
        if words:
            st = [self._word(w) for w in words]
            hit = any(st) or any((a is not None or b is not None) and self._pair(w1, w2)
                                 for a, b, w1, w2 in zip(st, st[1:], words, words[1:]))
            info = (bool(hit), st[0] is not None, st[-1] is not None, words[0], words[-1])
        chunks = self._chunks
        if len(chunks) >= _MEMO_MAX:
            chunks.clear()
        chunks[chunk] = info
        return info

    def lookup(self, word: str) -> tuple | None:
        """(entry index, payload) when the lowercased `word` on its own reads as an alias, else None."""
        return self._word(word) or None

    def _word(self, word: str):
        """(entry, payload) when `word` matches, () when it does not but is an unknown word of three letters or
        more, None when it is ordinary, known to the exact matcher or short. Memoised."""
        memo = self._memo
        r = memo.get(word, 0)
        if r == 0:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            if len(word) < 3 or word in self._common or word in self._blocked or word in self._forms:
                r = None
            else:
                r = self._match(word, False)
            memo[word] = r
        return r

    def _pair(self, a: str, b: str):
        """Like `_word` for two adjacent words (either may be short or ordinary); () when there is no match."""
        if not a or not b:
            return ()
        pair = a + " " + b
        memo = self._pairs
        r = memo.get(pair)
        if r is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            r = memo[pair] = () if pair in self._forms else self._match(pair, True)
        return r

    def _match(self, word: str, pair: bool) -> tuple:
        """(entry, payload) of the alias `word` (one word, or two joined by a space) matches, else ()."""
        letters = len(word) - word.count(" ")
        if letters < 3:
            return ()
        stretched = _STRETCH.search(word) is not None
        keys = skeletons(word)
        if letters >= MIN_EXACT or stretched:
            for key in keys:
                hit = self._exact.get(key)
                if hit is not None:
                    return hit
        if letters < MIN_FUZZY:
            return ()
        if pair and min(map(len, word.split(" "))) < 4:
            return ()
        best, best_entry, tie = 3, None, False
        by_len = self._by_len
        for key in keys:
            limit = 2 if pair else 1
            choices = [c for n in range(len(key) - limit, len(key) + limit + 1) for c in by_len.get((pair, n), ())]
            if not choices:
                continue
            for choice, dist, _ in process.extract(key, choices, scorer=OSA.distance, score_cutoff=limit, limit=4):
                if choice[:2] != key[:2]:
                    continue  # a new substance is an old one with a prefix: metizolam is no etizolam
                if pair and any(OSA.distance(a, b) > 1 for a, b in zip(key.split(" "), choice.split(" "))):
                    continue  # two words: each within one edit ("northen light"), not one word rewritten
                entry = self._exact[choice]
                if dist < best:
                    best, best_entry, tie = dist, entry, False
                elif dist == best and entry[0] != best_entry[0]:
                    tie = True
        if best_entry is None or tie:
            return ()
        return best_entry
