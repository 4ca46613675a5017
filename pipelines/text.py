"""Meaning-keeping clean-up of a post's text: every other module of the extractor works on ``clean(text)``.

Sellers write drug names so that filters miss them; clean() undoes the cheap tricks and nothing else. It keeps
case and layout (newlines, spacing), so offsets found in the cleaned text are still meaningful to a reader.
Applied in this order (each step is skipped by a quick check when it has nothing to do):

1. format characters (Unicode category Cf: zero-width space/joiner, soft hyphen, bidi marks, tag characters)
   are deleted, and ´ and ` become the apostrophe ' (before NFKC, which would split ´ into a space and a mark);
2. NFKC: full-width forms, maths-alphabet letters (𝐦𝐞𝐟), superscripts, ligatures, no-break spaces;
3. what NFKC leaves: small capitals and negative circled/squared letters (ᴍᴇᴘʜ, 🅼🅴🅵) become plain letters,
   combining marks left over after composition (stress marks, strike-through, emoji variation selectors,
   keycap enclosers) are deleted, dashes become '-', and apostrophe look-alikes (’ ʻ ʼ ′) become ';
4. a word mixing Latin and Cyrillic look-alikes (мeфeдpoн with Latin e, p, o) is folded to the script of its
   other letters, using Unicode's confusables data (see tools/build_confusables_fold.py); a word that has
   letters found only in Latin *and* letters found only in Cyrillic (USDT-кошелёк) is a real mix and kept;
5. 0 (and 3) standing between letters of one script are read as letters: с0ль -> соль, Б0ШКИ -> БОШКИ,
   ска3ка -> сказка; codes and quantities (3-MMC, 5F-MDMB-PICA, JWH-018, 1г, 0.5гр) are not touched;
6. single letters spaced or dotted apart (м е ф, М.Е.Ф, с-о-л-ь) are joined, but only when there are at least
   three, the separator is the same throughout, and the joined word is a known lexicon word form: a rule on
   letters alone would glue Russian one-letter words ("я и в Москве", "и т.д.").

>>> clean("ме\\u200bф 1г — 4200р")
'меф 1г - 4200р'
>>> clean("ᴍᴇᴘʜᴇᴅʀᴏɴᴇ 2g")
'mephedrone 2g'
>>> clean("мeфeдpoн и с0ль, Б0ШКИ")
'мефедрон и соль, БОШКИ'
>>> clean("М.Е.Ф и с о л ь в наличии")
'МЕФ и соль в наличии'
>>> clean("3-MMC, 5F-MDMB-PICA, JWH-018: 0.5гр в г. Ош")
'3-MMC, 5F-MDMB-PICA, JWH-018: 0.5гр в г. Ош'
>>> clean("Oʻzbekiston, 250 ming so’m")
"O'zbekiston, 250 ming so'm"
"""
from __future__ import annotations

import json
import re
import sys
import unicodedata
from functools import lru_cache
from pathlib import Path

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
    _COMPILED = cython.compiled  # True in the module Cython built
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None
    _COMPILED = False

__all__ = ["clean", "fold_token"]

_DATA = Path(__file__).resolve().parent / "data"
_FOLD = json.loads((_DATA / "confusables_fold.json").read_text(encoding="utf-8"))
TO_CYR: dict[str, str] = _FOLD["to_cyrillic"]
_TO_LAT: dict[str, str] = _FOLD["to_latin"]

# -- step 1: before NFKC -------------------------------------------------------------------------------------


def _char_class(chars) -> str:
    """A regex character class of `chars` written as ranges: re scans a class of ranges much faster than a
    class of hundreds of single characters."""
    cps = sorted({ord(c) for c in chars})
    parts, i = [], 0
    while i < len(cps):
        j = i
        while j + 1 < len(cps) and cps[j + 1] == cps[j] + 1:
            j += 1
        lo, hi = re.escape(chr(cps[i])), re.escape(chr(cps[j]))
        parts.append(lo if i == j else f"{lo}-{hi}")
        i = j + 1
    return "[" + "".join(parts) + "]"


_PRE_MAP = {c: "" for c in _FOLD["format_chars"]} | {"\u00b4": "'", "`": "'"}
_PRE = re.compile(_char_class(_PRE_MAP))

# -- step 3: after NFKC --------------------------------------------------------------------------------------
_COMBINING_RANGES = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))
_POST_MAP: dict[str, str] = {}
for _lo, _hi in _COMBINING_RANGES:
    _POST_MAP.update({chr(c): "" for c in range(_lo, _hi + 1)})
_POST_MAP.update({"\ufe0e": "", "\ufe0f": ""})  # text/emoji presentation selectors
_POST_MAP.update({c: "-" for c in _FOLD["dashes"]})  # category Pd and the minus sign
_POST_MAP.update({c: "'" for c in "\u2018\u2019\u201b\u02bb\u02bc\u02bd\u02b9\u2032"})
_POST_MAP.update(_FOLD["small_caps"])
_POST = re.compile(_char_class(_POST_MAP))

# -- steps 1-3 at once: a post of ordinary characters --------------------------------------------------------
# Most posts hold only characters that steps 1-3 leave alone, once the usual dashes, ’ and the emoji variation
# selector are replaced and zero-width spaces deleted: printable, NFKC-stable, no combining mark, none of the tables'
# characters. One scan for anything else spares the five checks of steps 1-3. (None of these blocks holds a character
# that composes with a preceding one under NFKC: those are Indic, Myanmar, Balinese and Hangul letters.)
_ORDINARY_BLOCKS = ((0x20, 0x7E), (0xA0, 0x24F), (0x370, 0x3FF), (0x400, 0x52F), (0x2000, 0x2BFF),
                    (0x3000, 0x303F), (0x4E00, 0x9FFF), (0x1F000, 0x1FAFF))
_ORDINARY = [ch for ch in (chr(c) for lo, hi in _ORDINARY_BLOCKS for c in range(lo, hi + 1))
             if ch.isprintable() and ch not in _PRE_MAP and ch not in _POST_MAP and ch not in "`\u00b4"
             and not unicodedata.combining(ch) and unicodedata.normalize("NFKC", ch) == ch]
_NOT_ORDINARY = re.compile("[^\n" + _char_class(_ORDINARY)[1:])
# the same, stopping at a Latin letter too: one scan also tells step 4 whether a Cyrillic post has Latin letters
_NOT_ORDINARY_OR_LATIN = re.compile("[^\n" + _char_class(ch for ch in _ORDINARY if not ch.isascii()
                                                         or not ch.isalpha())[1:])
del _ORDINARY

# -- step 4: mixed-script words ------------------------------------------------------------------------------
_LAT = "A-Za-z"
_CYR = "\u0400-\u04ff"
# Two letters of different scripts with only digits, hyphens or apostrophes between them: any word that mixes
# the scripts contains such a pair, and the class in the middle excludes letters, so the search is linear. (One
# class first, the script told by a lookbehind: re then skips to letters at C speed.)
_MIXED = re.compile(f"[{_LAT}{_CYR}](?:(?<=[{_LAT}])[0-9'\\-]*[{_CYR}]|(?<=[{_CYR}])[0-9'\\-]*[{_LAT}])")
# The same test anchored on a Latin letter, which is rare in the Cyrillic posts where mixing happens, so re only
# tries at those few positions (three times faster than _MIXED there). A Cyrillic-to-Latin change is seen with at
# most one digit/hyphen in between (fixed-width lookbehind), enough for the obfuscations met in practice.
# (the first lookbehind, one class test, turns away the letters inside a Latin word before the two exact ones)
_MIXED_QUICK = re.compile(f"[{_LAT}](?:(?<=[{_CYR}0-9'\\-][{_LAT}])(?:(?<=[{_CYR}][{_LAT}])|(?<=[{_CYR}][0-9'\\-][{_LAT}]))"
                          f"|(?=[0-9'\\-]*[{_CYR}]))")
_HAS_LAT = re.compile(f"[{_LAT}]")
_ASCII_LETTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_HAS_CYR = re.compile(f"[{_CYR}]")

# -- step 5: digits as letters -------------------------------------------------------------------------------
_LETTER = r"[^\W\d_]"
_DIGIT_WORD = re.compile(rf"\b{_LETTER}+(?:[03@]{_LETTER}+)+\b")
# Quick checks start with a rare character (0/3, a separator) so that re can skip to candidates fast.
_DIGIT_PRE = re.compile(rf"[03@](?<={_LETTER}[03@])(?={_LETTER})")
# "@" inside a word is an "a" (сп@йс, m@ry): a handle starts a word, so it never stands between letters.
_DIGIT_AS = {"Cyrillic": {"0": "о", "3": "з", "@": "а"}, "Latin": {"0": "o", "3": "e", "@": "a"}}

# -- step 6: spaced letters ----------------------------------------------------------------------------------
_SEPS = r"[ .\-_*·•/|+]"
_SPACED = re.compile(rf"(?<!{_LETTER}){_LETTER}({_SEPS}{{1,2}})(?:{_LETTER}\1)+{_LETTER}(?!{_LETTER})")
_SPACED_PRE = re.compile(rf"{_SEPS}{_LETTER}{_SEPS}{{1,2}}{_LETTER}{_SEPS}{{1,2}}{_LETTER}(?!{_LETTER})")
_SEP_CHARS = frozenset(" .-_*·•/|+")  # the characters of _SEPS
_SPACED_HEAD = re.compile(rf"{_LETTER}{_SEPS}{{1,2}}{_LETTER}{_SEPS}{{1,2}}{_LETTER}(?!{_LETTER})")  # at the start

# -- the quick checks again, for texts of 1- and 2-byte characters (nearly all) ------------------------------------
# re tests a class of characters of the Basic Multilingual Plane with one table lookup, but \w and \d with Unicode
# database calls per character: with the classes written out for the BMP, the same patterns run faster on a text
# without characters beyond it (which sys.getsizeof tells in O(1)). \d is what str.isdecimal() says, and a letter,
# [^\W\d_], is what str.isalnum() says and str.isdecimal() does not, "_" excepted.


@lru_cache(maxsize=1)
def bmp_chars() -> tuple[str, str]:
    """(decimal digits, letters) of the BMP, as strings of characters (see `_char_class` for a regex class)."""
    bmp = [chr(c) for c in range(0x10000)]
    return ("".join(c for c in bmp if c.isdecimal()),
            "".join(c for c in bmp if c.isalnum() and not c.isdecimal() and c != "_"))


_UCS4_BASE = sys.getsizeof("\U00010000") - 4  # sys.getsizeof of a str of 4-byte characters: base + 4 a character


def is_bmp(s: str) -> bool:
    """Has `s` no character beyond the Basic Multilingual Plane? O(1): CPython stores such a str 1 or 2 bytes a
    character. (A str whose size also counts a cached UTF-8 copy may read as False, the safe answer.)"""
    return sys.getsizeof(s) < _UCS4_BASE + 4 * len(s)


_BMP_LETTER = _char_class(bmp_chars()[1])
_DIGIT_PRE_BMP = re.compile(_DIGIT_PRE.pattern.replace(_LETTER, _BMP_LETTER))
_SPACED_PRE_BMP = re.compile(_SPACED_PRE.pattern.replace(_LETTER, _BMP_LETTER))
_SPACED_HEAD_BMP = re.compile(_SPACED_HEAD.pattern.replace(_LETTER, _BMP_LETTER))


def _script(ch: str) -> str | None:
    if ("a" <= ch <= "z") or ("A" <= ch <= "Z"):
        return "Latin"
    if "\u0400" <= ch <= "\u04ff":
        return "Cyrillic"
    return None


def _fold_segment(seg: str) -> str:
    lat_anchor = cyr_anchor = lat = cyr = 0
    for ch in seg:
        sc = _script(ch)
        if sc == "Latin":
            lat += 1
            lat_anchor += ch not in TO_CYR
        elif sc == "Cyrillic":
            cyr += 1
            cyr_anchor += ch not in _TO_LAT
    if not (lat and cyr) or (lat_anchor and cyr_anchor):
        return seg
    if cyr_anchor or (not lat_anchor and cyr >= lat):
        return "".join(TO_CYR.get(ch, ch) for ch in seg)
    return "".join(_TO_LAT.get(ch, ch) for ch in seg)


def _segment_script(seg: str) -> str | None:
    scripts = {_script(ch) for ch in seg} - {None}
    return scripts.pop() if len(scripts) == 1 else None


@lru_cache(maxsize=4096)  # words repeat from post to post; bounded
def fold_token(token: str) -> str:
    """Fold the look-alike letters of one word to the script of its other letters.

    Letters with no look-alike in the other script are anchors: a word goes to the script of its anchors; with
    anchors in both scripts it is left alone; with none (all letters are look-alikes) the majority wins,
    Cyrillic on a tie. The parts of a hyphenated word are separate words (SMS-рассылка stays as it is), except
    that a part of one or two look-alike letters follows its neighbour (a-пвп with a Latin a -> а-пвп).

    >>> fold_token("a-пвп"), fold_token("mеphedrоne"), fold_token("USDT-кошелёк"), fold_token("СOЛЬ")
    ('а-пвп', 'mephedrone', 'USDT-кошелёк', 'СОЛЬ')
    """
    if "-" not in token:
        return _fold_segment(token)
    segs = [_fold_segment(s) for s in token.split("-")]
    scripts = [_segment_script(s) for s in segs]
    n_alnum = [sum(1 for ch in s if ch.isalnum()) for s in segs]
    for i, seg in enumerate(segs):
        if not (0 < n_alnum[i] <= 2 and scripts[i]) or any(_script(ch) and ch not in TO_CYR and ch not in _TO_LAT
                                                            for ch in seg):
            continue
        # only a part of three letters or digits leads, so short parts never chase each other
        near = [scripts[j] for j in (i + 1, i - 1) if 0 <= j < len(segs) and scripts[j] and n_alnum[j] > 2]
        if near and near[0] != scripts[i]:
            segs[i] = "".join((TO_CYR if near[0] == "Cyrillic" else _TO_LAT).get(ch, ch) for ch in seg)
    return "-".join(segs)


def _fold_mixed(s: str) -> str:
    spans: list[tuple[int, int]] = []
    n = len(s)
    for m in _MIXED.finditer(s):
        start, end = m.start(), m.end()
        if spans and start < spans[-1][1]:
            continue
        while start > 0 and (s[start - 1].isalnum() or s[start - 1] in "-'"):
            start -= 1
        while end < n and (s[end].isalnum() or s[end] in "-'"):
            end += 1
        spans.append((start, end))
    out, last = [], 0
    for start, end in spans:
        out.append(s[last:start])
        out.append(fold_token(s[start:end]))
        last = end
    out.append(s[last:])
    return "".join(out)


def _digit_word(m: re.Match) -> str:
    return _digit_word_of(m.group())


@lru_cache(maxsize=4096)
def _digit_word_of(word: str) -> str:
    scripts = {_script(ch) for ch in word if not ch.isdigit() and ch != "@"}
    if len(scripts) != 1 or None in scripts:
        return word
    table = _DIGIT_AS[scripts.pop()]
    out = list(word)
    for i, ch in enumerate(word):
        if ch in table:
            # Case follows the neighbours: С0ЛЬ -> СОЛЬ, с0ль -> соль.
            letter = table[ch]
            out[i] = letter.upper() if word[i - 1].isupper() and word[i + 1].isupper() else letter
    return "".join(out)


@lru_cache(maxsize=1)
def _join_words() -> tuple[frozenset[str], frozenset[str]]:
    """(words, all their prefixes): the lexicon words that spaced letters may form. They are generated with the
    lexicon's inflected forms (tools/build_lexicon_forms.py, key "join_words"), so that this module, which the
    lexicon itself uses, needs nothing from the lexicon."""
    try:
        words = frozenset(json.loads((_DATA / "lexicon_forms.json").read_text(encoding="utf-8"))["join_words"])
    except (FileNotFoundError, KeyError):  # before the first generation: no word is rebuilt
        words = frozenset()
    return words, frozenset(w[:k] for w in words for k in range(1, len(w) + 1))


def _spaced(m: re.Match) -> str:
    return _spaced_of(m.group(), m.group(1))


@lru_cache(maxsize=4096)
def _spaced_of(spaced: str, sep: str) -> str:
    letters = spaced[:: len(sep) + 1]
    key = fold_token(letters).lower().replace("ё", "е")
    words, prefixes = _join_words()
    out: list[str] = []
    i, n = 0, len(letters)
    while i < n:
        best, j = 0, i + 1
        while j <= n and key[i:j] in prefixes:  # bounded by the longest word, so linear overall
            if j - i >= 3 and key[i:j] in words:
                best = j
            j += 1
        if best:
            out.append(fold_token(letters[i:best]))
            i = best
        else:
            out.append(letters[i])
            i += 1
    return sep.join(out)


# -- the quick checks of steps 4-6 as loops over the characters: what the compiled module runs ------------------------
# Compiled, one typed loop over the characters beats a regex scan (which calls a class test per character); in pure
# Python the regexes are faster. Each says exactly what its regex says (tests/test_text.py checks that on random text).


def _mixed_quick(s: str) -> bool:
    """`_MIXED_QUICK.search(s) is not None`."""
    text: str = s
    n: cython.Py_ssize_t = len(text)
    i: cython.Py_ssize_t
    j: cython.Py_ssize_t
    c: cython.Py_UCS4
    for i in range(n):
        c = text[i]
        if not ("a" <= c <= "z" or "A" <= c <= "Z"):
            continue
        if i >= 1:
            c = text[i - 1]
            if "\u0400" <= c <= "\u04ff":
                return True
            if i >= 2 and ("0" <= c <= "9" or c == "'" or c == "-") and "\u0400" <= text[i - 2] <= "\u04ff":
                return True
        j = i + 1
        while j < n:
            c = text[j]
            if not ("0" <= c <= "9" or c == "'" or c == "-"):
                break
            j += 1
        if j < n and "\u0400" <= c <= "\u04ff":
            return True
    return False


def _digit_in_word(s: str) -> bool:
    """`_DIGIT_PRE.search(s) is not None`: a 0, 3 or @ between two letters (a letter: alphanumeric, not a digit)."""
    text: str = s
    n: cython.Py_ssize_t = len(text)
    i: cython.Py_ssize_t
    c: cython.Py_UCS4
    for i in range(1, n - 1):
        c = text[i]
        if c == "0" or c == "3" or c == "@":
            c = text[i - 1]
            if c.isalnum() and not c.isdecimal():
                c = text[i + 1]
                if c.isalnum() and not c.isdecimal():
                    return True
    return False


def _spaced_quick(s: str) -> bool:
    """`_SPACED_PRE.search(s) or (s[1:2] in _SEP_CHARS and _SPACED_HEAD.match(s))`: three letters, each pair
    parted by one or two separators, the last ending a word; the first after a separator or at the start."""
    text: str = s
    n: cython.Py_ssize_t = len(text)
    i: cython.Py_ssize_t
    c: cython.Py_UCS4
    # (_spaced_from(text, j, n) needs a separator right after the letter at j: tested here first, as a call costs a
    # Python call and a letter after a separator, the start of most words, is seldom followed by one)
    for i in range(n - 4):
        c = text[i]
        if i == 0 and c.isalnum() and not c.isdecimal() and text[1] in " .-_*\u00b7\u2022/|+" and _spaced_from(text, 0, n):
            return True
        if c in " .-_*\u00b7\u2022/|+":  # _is_sep(c), inlined: compiled, a call per character costs a Python call
            c = text[i + 1]
            if c.isalnum() and not c.isdecimal() and text[i + 2] in " .-_*\u00b7\u2022/|+" and _spaced_from(text, i + 1, n):
                return True
    return False


def _spaced_from(text: str, j: cython.Py_ssize_t, n: cython.Py_ssize_t) -> bool:
    """After the letter at j: 1-2 separators, a letter, 1-2 separators, a letter that ends a word?"""
    a: cython.Py_ssize_t
    b: cython.Py_ssize_t
    k1: cython.Py_ssize_t
    k2: cython.Py_ssize_t
    c: cython.Py_UCS4
    for k1 in range(1, 3):
        a = j + k1  # the last separator
        if a >= n or not _is_sep(text[a]):
            break
        b = a + 1  # the second letter
        if b >= n:
            break
        c = text[b]
        if not (c.isalnum() and not c.isdecimal()):
            continue
        for k2 in range(1, 3):
            a = b + k2
            if a >= n or not _is_sep(text[a]):
                break
            if a + 1 < n:
                c = text[a + 1]
                if c.isalnum() and not c.isdecimal():
                    if a + 2 >= n:
                        return True
                    c = text[a + 2]
                    if not (c.isalnum() and not c.isdecimal()):
                        return True
    return False





def _is_sep(c: cython.Py_UCS4) -> bool:
    """A character of `_SEPS` (compiled, a `Py_UCS4 in "literal"` test is a C switch)."""
    return c in " .-_*\u00b7\u2022/|+"


def _steps_1_to_3(s: str) -> str:
    # Format characters are not printable: two C-speed checks spare the regex scan on almost every post.
    if "\u00b4" in s or "`" in s or not (s.isprintable() or s.replace("\n", " ").isprintable()):
        s = _PRE.sub(lambda m: _PRE_MAP[m.group()], s)
    for _ in range(3):  # deleting marks can make a new composable pair: normalise until stable
        if not unicodedata.is_normalized("NFKC", s):
            s = unicodedata.normalize("NFKC", s)
        # the usual few first, at str.replace speed
        s = s.replace("\u2014", "-").replace("\u2013", "-").replace("\u2019", "'").replace("\ufe0f", "")
        if not _POST.search(s):
            break
        s = _POST.sub(lambda m: _POST_MAP[m.group()], s)
    return s


def clean(text: str) -> str:
    """Return the meaning-keeping clean-up of `text` (see the module docstring for what it does)."""
    s = text
    if not s.isascii():
        # the usual few first, at str.replace speed
        t = s.replace("\u2014", "-").replace("\u2013", "-").replace("\u2019", "'").replace("\ufe0f", "")
        if "\u200b" in t:  # the commonest format character: step 1 deletes it
            t = t.replace("\u200b", "")
        m = _NOT_ORDINARY_OR_LATIN.search(t)
        latin = m is not None and m.group() in _ASCII_LETTERS
        if m is None or latin and _NOT_ORDINARY.search(t, m.end()) is None:
            s = t  # what steps 1-3 would make of it
        else:
            s = _steps_1_to_3(s)
            latin = _HAS_LAT.search(s) is not None
        if latin and _HAS_CYR.search(s) and (_mixed_quick(s) if _COMPILED else _MIXED_QUICK.search(s)):
            s = _fold_mixed(s)
    elif "`" in s:
        s = s.replace("`", "'")
    if _COMPILED:
        if _digit_in_word(s):
            s = _DIGIT_WORD.sub(_digit_word, s)
        if _spaced_quick(s):
            s = _SPACED.sub(_spaced, s)
        return s
    bmp = is_bmp(s)
    if (_DIGIT_PRE_BMP if bmp else _DIGIT_PRE).search(s):
        s = _DIGIT_WORD.sub(_digit_word, s)
        bmp = is_bmp(s)
    # (_SPACED_HEAD needs a separator as the second character: test that before calling re)
    if (_SPACED_PRE_BMP if bmp else _SPACED_PRE).search(s) or (
            s[1:2] in _SEP_CHARS and (_SPACED_HEAD_BMP if bmp else _SPACED_HEAD).match(s)):
        s = _SPACED.sub(_spaced, s)
    return s
