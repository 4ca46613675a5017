"""Which of the places a listing names are the offer's places, and which are claims about the product.

`pipelines.regions.Gazetteer` finds every place name; this module reads how the listing uses each one. Its input
is the cleaned post, the gazetteer's spans and the spans of the substances named; its output is the spans that
stay regions, the countries a ships-from convention gives without naming a place the gazetteer knows (`US`, a
flag), and the origin claims (country codes, each next to the substance it describes).

| convention | reading |
|---|---|
| `Ships from: X`, `shipped from X`, `отправка из X` (X a place, an upper-case country code or a flag) | X is where the offer is |
| `X to Y`, `X✈Y`, `X → Y` (both sides places, codes, flags, or Y a region word: Europe, EU, worldwide) | X ships from, Y is a destination |
| `X domestic`, `from X`, `only X`, `X only` (X a code or a flag), the flags a title starts with (`🇬🇧 🇪🇺 MDMA`) | X ships from |
| `Ships to: ...`, `shipping to ...` up to the end of the line | destinations: no region |
| a place word next to strain vocabulary (`Durban Poison`, `Cali Kush`, `Hybrid Gagarin`, `White Russia Fem`) or after an adjective of origin | part of a product name |
| a place inside a substance name (`Ganja`) | the substance |
| an adjective of origin next to a substance (`Afghan hash`, `колумбийский кокаин`) | origin of that substance |
| a country next to a substance (`Morocco Hash`, `HEROIN IRAN`), a place after `import`/`импорт`/`прямиком с`, or before `import` | origin, no region |
| a listing that states its location (a ships-from convention, or a `Город:`/`City:`/`Location:`/`Ships from:` field, even `Ships from: Digital / Service`): a place of another country in its title (first line) or on a line that names a substance | a claim about the product (origin, strain, a document's country), no region |

>>> from npswatch.pipelines.regions import Gazetteer
>>> g = Gazetteer.default()
>>> def read(text, subs=()):
...     origins = []
...     spans = g.spans(text, origins=origins)
...     hits = [(text.index(s), text.index(s) + len(s)) for s in subs]
...     kept, shipped, claims = read_places(text, text.lower(), spans, g.place, hits, origins, ship_hint(text.lower()))
...     return [g.place(i)[2] for _, _, i in kept], shipped, [(text[s:e], cc) for s, e, cc in claims]
>>> read("5g Durban Poison\\nShips from: Germany\\nShips to: France, Spain")
(['Germany'], [], [])
>>> read("1g Afghan hash [US✈US]", ["hash"])
([], [(16, 18, 'US')], [('hash', 'AF')])
>>> read("Morocco Hash 1G\\nГород: Тбилиси", ["Hash"])
(['Tbilisi'], [], [('Hash', 'MA')])
"""
from __future__ import annotations

import re
from bisect import bisect_left
from functools import lru_cache
from pathlib import Path
from typing import Callable, Sequence

import pycountry

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None

from .text import is_bmp

__all__ = ["read_places", "ship_hint", "has_flag", "origin_forms", "SHIP_WORDS"]

_DATA = Path(__file__).resolve().parent / "data" / "demonyms.tsv"

_FLAG = re.compile(r"[\U0001F1E6-\U0001F1FF]{2}")
_FLAG_CHAR = re.compile(r"[\U0001F1E6-\U0001F1FF]")
_CODE = re.compile(r"(?:[A-Z]\.){1,2}[A-Z]\.?(?![A-Za-z])|[A-Z]{2,3}\b")  # US, GBR, U.K, U.S.A.
# Upper-case words that are also country codes but in an all-caps title mean the word.
_CODE_WORDS = frozenset("IT IN IS NO AT BE DO ME MY AM TO SO GO AS AN OR ON BY HI ID PE MA AL CA GE LA CO "
                        "THE AND FOR ARE CAN TOP NEW HOT BUY".split())
_REGION_WORDS = re.compile(r"(?:europe|eu|worldwide|world|ww|international|everywhere|anywhere|global|"
                           r"европ[аеуы]|весь мир|мир)\b")
# (two patterns, not one alternation of both: each of these starts with a literal letter in every branch, so re skips
# to the letters it can start at; an alternation of groups has no first character and is tried at every position)
_FROM_LABEL = re.compile(
    r"(?:ships?|shipping|shipped(?: out)?|sends?|sent|dispatch(?:es|ed)?|posted|mailed)\s+from\s*:?\s*")
_FROM_LABEL_RU = re.compile(r"(?:отправка|отправляем|отправляется|отправление|высылаем|доставка)\s+(?:из|с|со)\s+")
_TO_LABEL = re.compile(r"(?:ships?|shipping|shipped|deliver(?:s|y|ing)?)\s+to\b\s*:?")
# "X to Y", "X✈Y"; "X domestic": the word or sign only (`_padded` adds the spaces and brackets around it)
_ROUTE = re.compile(r"✈|→|->|=>|\bto\b", re.IGNORECASE)
_DOMESTIC = re.compile(r"(?:domestic|внутри страны)\b")
# A location field line; matched at line starts only (`_field_ends`)
_FIELD = re.compile(r"[ \t]*(?:город|city|location|локация|местоположение|ships from|ship from)[ \t]*:",
                    re.IGNORECASE)
_ORIGIN_WORDS = ("import", "импорт", "from", "made in", "прямиком", "привез", "родом")
_TOKEN_END = re.compile(r"(?:[\U0001F1E6-\U0001F1FF]{2}|\b(?:[A-Z]\.){1,2}[A-Z]\.?|\b[A-Z]{2,3})$")
_BARE_FROM = re.compile(r"\b(?:from|only)\s+")  # "FROM USA", "ONLY UK": a code or a flag after it
_ONLY_AFTER = re.compile(r"\s+only\b")  # "US ONLY"
_LEADING_FLAGS = re.compile(r"[^\w\n]*")  # the symbols and flags a title starts with
_ORIGIN_BEFORE = re.compile(
    r"(?:imported|import|импортн[а-я]*|импорт|made in|straight from|directly from|direct from|fresh from|"
    r"arrived from|прямиком|привезен[а-я]*|привезли|родом)\s*(?:from|из|с|со)?\s*[(\[]?\s*$")
_ORIGIN_AFTER = re.compile(r"[\s)\]]*(?:import|imported|импорт)\b")
# Words of cannabis strain and product names: a place word right next to one is part of the name.
_STRAIN = frozenset("""
    kush haze og skunk widow poison diesel cheese dream cookies cookie glue cake gelato runtz zkittlez auto autoflower
    autoflowering automatic fem feminized feminised feminizied hybrid hibrid sativa indica strain strains bud buds
    seed seeds kola cola gold golden white black blue purple green silver lemon cherry berry blueberry strawberry
    mango orange grape sour sweet sugar candy lights thunder punch ak widows fruit
    гибрид сатива индика куш хейз автоцвет автоцветущий феминизированный феминизированные
""".split())
# (the characters between a place word and the word next to it in a name, " \t-<>()[]\"'«»*_", are written out in
# read_places: compiled, a test against a literal is a C switch)
_WORD = re.compile(r"[^\W_]+")


_RU_ENDINGS = ("ий ый ой ая яя ое ее ие ые ого его ому ему ую юю ым им ом ем их ых ими ыми".split())
# Words of the ships-from/-to conventions, as found in the lowered post (`Gazetteer.spans(hints=...)`); a flag is
# tested apart (`ship_hint`).
SHIP_WORDS = ("ship", " to ", "✈", "→", "->", "=>", "domestic", "from", "only", "отправ", "высыла", "доставка из")


def origin_forms() -> list[tuple[str, list[str]]]:
    """(country, every lowered form of its adjectives of origin) from data/demonyms.tsv: an English adjective and its
    plural ("peruvians"), a Russian stem with every adjective ending. `pipelines.regions.Gazetteer` finds them in
    the same scan as the place names."""
    out = []
    for line in _DATA.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        cc, en, ru = line.split("\t")
        forms = []
        for w in en.split(","):
            w = w.strip().lower()
            forms += [w, w + "s"]
        for stem in ru.split(","):
            forms += [stem.strip() + e for e in _RU_ENDINGS]
        out.append((cc, forms))
    return out


_SPECIAL_CODES = {"UK": "GB", "EU": None}


@lru_cache(maxsize=4096)  # (a pycountry look-up each time a title starts with a code otherwise)
def _code_country(code: str) -> str | None:
    """ISO 3166 alpha-2 or alpha-3 code (and UK) -> alpha-2."""
    if code in _SPECIAL_CODES:
        return _SPECIAL_CODES[code]
    if code in _CODE_WORDS:
        return None
    c = pycountry.countries.get(alpha_2=code) if len(code) == 2 else pycountry.countries.get(alpha_3=code)
    return c.alpha_2 if c is not None else None


@lru_cache(maxsize=1024)
def _flag_country(flag: str) -> str | None:
    cc = "".join(chr(ord(ch) - 0x1F1E6 + ord("A")) for ch in flag)
    return cc if pycountry.countries.get(alpha_2=cc) is not None else None


def _is_adjective_at(demonyms: list, start: int, end: int) -> bool:
    """Is the word at [start, end) (up to glue characters) an adjective of origin?"""
    for ds, de, _ in demonyms:
        if ds == start and de <= end:
            return True
    return False


def ship_hint(low: str) -> bool:
    """Does the lowered post contain anything a ships-from or ships-to convention is made of?"""
    return any(w in low for w in SHIP_WORDS) or has_flag(low)


def has_flag(text: str) -> bool:
    """Is there a regional-indicator letter (half of a flag emoji) in the text?"""
    # (a text of Basic Multilingual Plane characters has none, and is_bmp() says so without reading it)
    return not is_bmp(text) and _FLAG_CHAR.search(text) is not None


def _field_ends(cleaned: str) -> list[int]:
    """The ends of the location field labels (`Город:`, `City:`, `Ships from:`) that start a line of `cleaned`. (Tried
    at the line starts only: a pattern that opens with `(?:^|\\n)` has no first character for re to skip to.)"""
    out = []
    at: cython.Py_ssize_t = 0
    while at >= 0:
        m = _FIELD.match(cleaned, at)
        if m is not None:
            out.append(m.end())
        at = cleaned.find("\n", at)
        if at >= 0:
            at += 1
    return out


def _line(cleaned: str, pos: int) -> tuple[int, int]:
    """(start, end) of the line around `pos`."""
    e = cleaned.find("\n", pos)
    return cleaned.rfind("\n", 0, pos) + 1, (len(cleaned) if e < 0 else e)


def read_places(cleaned: str, low: str, spans: list, place: Callable[[int], tuple], hits: Sequence,
                demonyms: list, hint: bool) -> tuple[list, list, list]:
    """Read the places of a cleaned post (see the module docstring).

    `low`: `cleaned` lowercased, same length; `spans`, `demonyms`: the spans and origins of
    `Gazetteer.spans(cleaned, origins=...)`; `place`: `Gazetteer.place`; `hits`: (start, end, ...) of the substances
    named, in text order; `hint`: `ship_hint(low)`.

    Returns (the gazetteer spans (start, end, place index) that stay regions, in text order; the ships-from countries
    given by a code or a flag, not by a gazetteer span, as (start, end, country); the origin claims as (substance
    start, substance end, country), each at the substance it describes).
    """
    drop: set[int] = set()  # starts of spans that are not regions
    shipped: list[tuple[int, int, str]] = []
    from_countries: set[str] = set()
    if hint:
        _ships(cleaned, low, spans, place, drop, shipped, from_countries)
    # countries stated by a location field line; `located`: the listing states where it is, even as no country
    # ("Ships from: Digital / Service", "Ships from: Worldwide")
    stated = from_countries
    field_lines: set[int] = set()
    if ":" in cleaned:
        for at in _field_ends(cleaned):
            s, e = _line(cleaned, at)
            field_lines.add(s)
            for ss, ee, i in spans:
                if ss >= at and ee <= e:
                    stated.add(place(i)[3])
    origin_words = None  # are there words of an origin claim in the post? (looked for when a place needs it)
    hit_starts = [h[0] for h in hits]
    origin_at: list[tuple[int, str]] = []  # (position of the claim, country)
    text: str = low
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    j: cython.Py_ssize_t
    ls: cython.Py_ssize_t
    le: cython.Py_ssize_t
    k: cython.Py_ssize_t
    prev_at: cython.Py_ssize_t
    nxt_at: cython.Py_ssize_t
    nxt_end: cython.Py_ssize_t
    for s, e, i in spans:
        if s in drop:
            continue
        level, _, _, cc = place(i)
        # inside a substance name
        j = bisect_left(hit_starts, e) - 1
        if j >= 0 and hits[j][1] > s:
            drop.add(s)
            continue
        # its line; the word before it and the word after it on that line, past glue characters
        # (this runs for most posts: compiled, these are loops in C)
        ls = cleaned.rfind("\n", 0, s) + 1
        le = cleaned.find("\n", s)
        if le < 0:
            le = len(cleaned)
        k = s
        while k > ls and text[k - 1] in " \t-<>()[]\"'«»*_":
            k -= 1
        prev_at = k
        while prev_at > ls and text[prev_at - 1].isalnum():
            prev_at -= 1
        prev = text[prev_at:k]
        nxt_at = e
        while nxt_at < le and text[nxt_at] in " \t-<>()[]\"'«»*_":
            nxt_at += 1
        nxt_end = nxt_at
        while nxt_end < le and text[nxt_end].isalnum():
            nxt_end += 1
        nxt = text[nxt_at:nxt_end]
        if prev in _STRAIN or nxt in _STRAIN or (demonyms and prev and _is_adjective_at(demonyms, prev_at, s)):
            # a product name ("Durban Poison", "Hybrid Gagarin"); after an adjective of origin a place word names
            # no place either ("Iranian X" is a product, not a town called X)
            drop.add(s)
            continue
        if origin_words is None:
            origin_words = ("import" in low or "from" in low or "импорт" in low or "made in" in low
                            or "прямиком" in low or "привез" in low or "родом" in low)
        if origin_words and (_ORIGIN_BEFORE.search(low, max(ls, s - 40), s) or _ORIGIN_AFTER.match(low, e)):
            origin_at.append((s, cc))
            drop.add(s)
            continue
        if level == "country" and hits and (_touches_hit(prev_at, s, hits) or _touches_hit(e, nxt_end, hits)):
            origin_at.append((s, cc))
            drop.add(s)
            continue
        if (field_lines or stated) and cc not in stated and ls not in field_lines and (
                ls == 0 or any(ls <= hs < le for hs in hit_starts)):
            drop.add(s)
    # adjectives of origin next to a substance
    if hits:
        for ds, de, cc in demonyms:
            le = _line(cleaned, ds)[1]
            j = bisect_left(hit_starts, de)
            if j < len(hits) and hits[j][0] < le and _few_words(low, de, hits[j][0]):
                origin_at.append((ds, cc))
    origins: list[tuple[int, int, str]] = []
    for pos, cc in origin_at:
        h = _nearest_hit(pos, hits, _line(cleaned, pos))
        if h is not None and (h[0], h[1], cc) not in origins:
            origins.append((h[0], h[1], cc))
    kept = [t for t in spans if t[0] not in drop] if drop else spans
    return kept, shipped, origins


def _ships(cleaned: str, low: str, spans: list, place, drop: set, shipped: list, from_countries: set) -> None:
    """The ships-from and ships-to conventions: adds the ships-from countries to `from_countries` (and to `shipped`
    when no gazetteer span names them) and the starts of destination spans to `drop`."""
    by_start = {s: (e, i) for s, e, i in spans}
    by_end = {e: (s, i) for s, e, i in spans}

    def token_at(pos: int) -> tuple[int, str | None, bool] | None:
        """A place-like token starting at `pos`: (end, country or None, is a gazetteer span)."""
        if pos in by_start:
            e, i = by_start[pos]
            return e, place(i)[3], True
        m = _FLAG.match(cleaned, pos)
        if m:
            return m.end(), _flag_country(m.group()), False
        m = _CODE.match(cleaned, pos)
        if m and (pos == 0 or not cleaned[pos - 1].isalnum()):
            code = m.group().replace(".", "")
            cc = _code_country(code)
            if cc is not None or code == "EU":
                return m.end(), cc, False
        return None

    def token_before(pos: int) -> tuple[int, str | None, bool] | None:
        i = pos
        while i > 0 and cleaned[i - 1] in " [(":
            i -= 1
        if i in by_end:
            s, idx = by_end[i]
            return s, place(idx)[3], True
        m = _TOKEN_END.search(cleaned[max(0, i - 6):i])
        if m:
            s = i - len(m.group())
            t = token_at(s)
            if t is not None and t[0] == i:
                return s, t[1], t[2]
        return None

    def ships_from(start: int, stop: int, cc: str | None, is_span: bool) -> None:
        if cc is None:
            return
        from_countries.add(cc)
        if not is_span:
            shipped.append((start, _end_of(cleaned, start, stop), cc))

    def drop_range(a: int, b: int) -> None:
        for s, e, _ in spans:
            if s >= a and e <= b:
                drop.add(s)

    # (each pattern is tried only where a word it cannot match without is in the post: the scans cost more
    # than the substring tests)
    has_from = "from" in low
    has_only = "only" in low
    # (the matches of the two never overlap: their ends in text order are those of one alternation of both)
    ends = [m.end() for m in _FROM_LABEL.finditer(low)] if has_from else []
    if "отправ" in low or "высылаем" in low or "доставка" in low:
        ends = sorted(ends + [m.end() for m in _FROM_LABEL_RU.finditer(low)])
    for end in ends:
        t = token_at(end)
        if t is not None:
            ships_from(end, t[0], t[1], t[2])
    if "ship" in low or "deliver" in low:
        for m in _TO_LABEL.finditer(low):
            drop_range(m.end(), _line(cleaned, m.start())[1])
    if "to" in low or "✈" in low or "→" in low or "->" in low or "=>" in low:
        for start, end in _padded(_ROUTE, cleaned, "", True):
            before = token_before(start)
            if before is None:
                continue
            after = token_at(end)
            if after is None:
                r = _REGION_WORDS.match(low, end)
                if r is None:
                    continue
                after = (r.end(), None, False)
            ships_from(before[0], start, before[1], before[2])
            drop_range(end, after[0])
    if "domestic" in low or "внутри страны" in low:
        for start, _ in _padded(_DOMESTIC, low, "])", False):
            before = token_before(start)
            if before is not None:
                ships_from(before[0], start, before[1], before[2])
    # a code or flag after a bare "from"/"only", or before "only" (a place name there is a region anyway)
    if has_from or has_only:
        for m in _BARE_FROM.finditer(low):
            t = token_at(m.end())
            if t is not None and not t[2]:
                ships_from(m.end(), t[0], t[1], t[2])
    if has_only:
        for m in _ONLY_AFTER.finditer(low):
            before = token_before(m.start())
            if before is not None and not before[2]:
                ships_from(before[0], m.start(), before[1], before[2])
    # the flags a title starts with ("🇬🇧 🇪🇺 MDMA ..."): the first country among them
    lead = _LEADING_FLAGS.match(cleaned)
    for m in _FLAG.finditer(cleaned, 0, lead.end()):
        cc = _flag_country(m.group())
        if cc is not None:
            ships_from(m.start(), m.end(), cc, False)
            break


def _padded(core: re.Pattern, text: str, also: str, after: bool) -> list[tuple[int, int]]:
    """The spans `re.finditer` gives for `[\\s<also>]*` + `core` (+ `\\s*` when `after`) in `text`, found by searching
    `core` alone: a pattern that opens with an optional run has no first character for re to skip to, so re tries it
    at every position of the text (about ten times slower). A core starts with no space, so the runs around one
    match are read by loops: back to the end of the previous match, on over the spaces after it."""
    out = []
    last: cython.Py_ssize_t = 0
    n: cython.Py_ssize_t = len(text)
    s: cython.Py_ssize_t
    e: cython.Py_ssize_t
    for m in core.finditer(text):
        s, e = m.span()
        if s < last:  # (inside the spaces after the previous match: cannot happen, a core starts with no space)
            continue
        while s > last and (text[s - 1].isspace() or text[s - 1] in also):
            s -= 1
        if after:
            while e < n and text[e].isspace():
                e += 1
        out.append((s, e))
        last = e
    return out


def _end_of(cleaned: str, start: int, stop: int) -> int:
    """End of the token that starts at `start` and is followed by spaces or brackets up to `stop`."""
    while stop > start and cleaned[stop - 1] in " [(":
        stop -= 1
    return stop


def _touches_hit(a: int, b: int, hits: Sequence) -> bool:
    """Does a substance span lie within [a, b) (the word next to a place)?"""
    if a >= b:
        return False
    for h in hits:
        if h[0] < b and h[1] > a:
            return True
    return False


def _few_words(low: str, a: int, b: int) -> bool:
    """At most two words, and nothing but spaces and hyphens, between an adjective and the substance it qualifies."""
    between = low[a:b]
    return len(_WORD.findall(between)) <= 2 and all(ch.isalnum() or ch in " -" for ch in between)


def _nearest_hit(pos: int, hits: Sequence, line: tuple[int, int]) -> tuple[int, int] | None:
    """The substance a claim at `pos` describes: the nearest one on its line, else the nearest in the post."""
    if not hits:
        return None
    on_line = [h for h in hits if line[0] <= h[0] < line[1]]
    pool = on_line or hits
    return min(pool, key=lambda h: abs(h[0] - pos))
