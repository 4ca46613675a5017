"""New-name detection: tokens that are built like the names of new psychoactive substances but are not in the
lexicon. An early-warning analyst reviews them; confirmed ones go into the matcher's overlay.

The grammars are small regexes over fragments of the naming schemes (every quantifier bounded, no nested
repetition, so each is linear in the text):

- synthetic cannabinoids, EMCDDA-style codes [ring prefix] head - [link] tail+core: 5F-EDMB-PICA,
  MDMB-4en-PINACA, 4F-ABUTINACA, CH-PIATA, ADB-5'Br-INACA, BZO-HEXOXIZID; heads MDMB/ADB/AB/AMB/EDMB/CUMYL/CH/
  BZO/A..., cores INACA (indazole-3-carboxamide), ICA (indole-3-carboxamide), IATA (indole-3-acetamide), AICA
  (7-azaindole), PEGACLONE, OXIZID (oxindole hydrazide: BZO-POXIZID, BZO-4en-POXIZID, 5F-BZO-POXIZID,
  BZO-CHMOXIZID); and the research-series codes JWH-xxx, AM-xxxx, RCS-x, EG-xxx, MN-xx...
- cathinones: alpha-pyrrolidinophenones α-/alpha-/a- + a short capital code with P (α-PHiP, α-PCYP, α-D2PV);
  N-alkyl names (N-ethylheptedrone, N-butylpentedrone, hexylone); ring-substituted x-MMC/x-CMC/x-MEC/x-BMC codes
  (2-MMC, 3-BMC; Cyrillic look-alike letters accepted);
- opioids: ...nitazene / ...nitazepyne (and Russian ...нитазен), ...fentanyl analogues;
- sedatives: designer benzodiazepines ...zolam / ...azepam;
- hallucinogens and dissociatives: xxX-NBOMe, 2C-X, 4-HO-/4-AcO-/5-MeO- tryptamines, xX-LSD,
  3-MeO-PCx arylcyclohexylamines.

A bare lowercase word (Chica, America) never matches: a cannabinoid-like token needs a digit, a hyphen or capitals.

>>> from npswatch.pipelines.substances import SubstanceMatcher
>>> m = SubstanceMatcher.default()
>>> [(c.name, c.cls) for c in find_candidates("Новинка: CH-PIATA и 4F-ABUTINACA, а также 5F-MDMB-PICA", m)]
[('CH-PIATA', 'synthetic_cannabinoid'), ('4F-ABUTINACA', 'synthetic_cannabinoid')]
>>> [c.name for c in find_candidates("α-PHiP, 2-MMC, N-ethylheptedrone, protonitazepyne", m)]
['α-PHiP', '2-MMC', 'N-ethylheptedrone', 'protonitazepyne']
"""
from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import ahocorasick

__all__ = ["CandidateMatch", "find_candidates", "trigger_keys"]


class KnownNames(Protocol):
    """What the detector asks of the substance matcher (`pipelines.substances.SubstanceMatcher`), which itself builds
    on this module's trigger keys: whether a name is in the lexicon."""

    def name_status(self, name: str) -> tuple[str, bool]: ...


@dataclass(frozen=True, slots=True)
class CandidateMatch:
    name: str
    cls: str
    start: int
    end: int


_B = r"(?<![\w\-'])"  # a name starts at a word start ...
_E = r"(?![\w\-])"  # ... and ends at a word end

_SC_HEAD = r"(?:MDMB|ADMB|EDMB|MMB|AMB|EMB|ADB|MDB|AB|APP|APICA|CUMYL|PX|CH|NNE|MPP|BZO|A)"
_SC_TAIL = r"(?:4EN-?P|PENT|PHET|HEX|CHM|FUB|BUT|BU|PH|CH|P|B|H)?"
_SC_CORE = r"(?:INACA|INAC|ICA|IATA|INATA|7AICA|AICA|CZCA|PEGACLONE|EGACLONE|OXIZID)"
_SC_GRAMMAR = (
    rf"{_B}(?:\d{{1,2}}'?(?:F|CL|BR|CN|I)[- ]?)?"  # ring/tail substituent: 5F-, 4F, 5Cl-
    rf"{_SC_HEAD}[- ]?"  # head group: MDMB-, ADB-, CH-
    rf"(?:\d{{1,2}}'?(?:EN|BR|CL|F|CN|I)-)?"  # linked substituent: 4en-, 5'Br-
    rf"{_SC_TAIL}{_SC_CORE}{_E}"  # tail + core + linker: PINACA, BUTINACA, PIATA
)
_SC_SERIES = rf"{_B}(?:JWH|AM|HU|RCS|MAM|EG|NM|THJ|FDU|MN|SDB|BB|PB|XLR|UR|AKB|STS|CP)-?\d{{2,4}}{_E}"

_PATTERNS: list[tuple[str, re.Pattern, str]] = [
    ("synthetic_cannabinoid", re.compile(_SC_GRAMMAR, re.IGNORECASE), "sc"),
    ("synthetic_cannabinoid", re.compile(_SC_SERIES), "sc_series"),
    # alpha-pyrrolidinophenones: a capital code with a P after alpha-/α-; after a bare 'a-' only codes ending
    # in P or PV, so that "a-PRO" is not one.
    ("synthetic_cathinone", re.compile(
        rf"{_B}(?:(?:alpha|Alpha|ALPHA|α)[- ]?(?=[A-Za-z0-9]{{0,5}}P)[A-Z0-9][A-Za-z0-9]{{1,5}}|"
        rf"a-[A-Z0-9][A-Za-z0-9]{{0,3}}PV?){_E}"), "alpha"),
    ("synthetic_cathinone", re.compile(
        rf"{_B}(?:N[- ]?(?:methyl|ethyl|propyl|isopropyl|butyl|pentyl|hexyl|benzyl|cyclohexyl)[- ]?)?"
        rf"(?:methyl|ethyl|propyl|butyl|pentyl|hexyl)?(?:nor)?(?:meth|eth|prop|but|pent|hex|hept|oct|non)"
        rf"(?:edrone|ylone){_E}", re.IGNORECASE), "nalkyl"),
    ("synthetic_cathinone", re.compile(
        rf"{_B}[2-4]-?(?:[MМ][MМ][CС]|[CС][MМ][CС]|[BВ][MМ][CС]|FMC|IMC|[EЕ][MМ][CС]|[MМ][EЕ][CС]|[CС][EЕ][CС]|"
        rf"[BВ][EЕ][CС]|FEC|MPD|MeOMC|DMC|TFMMC|MDMC){_E}", re.IGNORECASE), "ring"),
    ("opioid", re.compile(rf"{_B}(?:N-[a-z]+[- ]?)?[A-Za-z]{{2,24}}nitaze(?:ne|pyne|pine){_E}", re.IGNORECASE),
     "nitazene"),
    ("opioid", re.compile(rf"{_B}([а-яё]{{2,24}}нитаз(?:ен|епин))[а-яё]{{0,3}}{_E}", re.IGNORECASE), "nitazene_ru"),
    ("opioid", re.compile(rf"{_B}(?:\d-|[a-z]{{2,12}}-)?[a-z]{{2,20}}fentan[iy]l{_E}", re.IGNORECASE), "fentanyl"),
    ("opioid", re.compile(rf"{_B}([а-яё]{{2,20}}фентанил)[а-яё]{{0,3}}{_E}", re.IGNORECASE), "fentanyl_ru"),
    ("sedative", re.compile(rf"{_B}[A-Za-z]{{3,16}}(?:zolam|azepam){_E}", re.IGNORECASE), "benzo"),
    ("sedative", re.compile(rf"{_B}([а-яё]{{3,16}}(?:золам|азепам))[а-яё]{{0,3}}{_E}", re.IGNORECASE), "benzo_ru"),
    ("hallucinogen", re.compile(rf"{_B}\d{{2}}[A-Z]{{1,2}}-NBOM[eE]{_E}"), "nbome"),
    ("hallucinogen", re.compile(rf"{_B}2C-[A-Z]{{1,2}}(?:-\d{{1,2}})?{_E}"), "2c"),
    ("hallucinogen", re.compile(rf"{_B}\d[A-Za-z]{{1,3}}-LSD{_E}"), "lsd"),
    ("dissociative", re.compile(rf"{_B}\d-(?:MeO|HO|F|Cl|Me)-PC(?:E|P|Py|M|PY){_E}"), "pcx"),
    ("hallucinogen", re.compile(rf"{_B}\d-(?:HO|AcO|MeO)-(?!PC)[A-Za-z]{{2,6}}{_E}"), "tryptamine"),
]
# Fragments of the lowercased text that a grammar needs, each with the patterns it wakes up: one Aho-Corasick pass
# replaces sixteen regex scans, and a post without any fragment (most posts) costs about a microsecond.
_TRIGGERS = {
    "sc": ("inac", "ica", "iata", "aclone", "czca", "oxizid"),
    "sc_series": ("jwh", "am-", "am2", "hu-", "rcs", "mam", "eg-", "nm-", "nm2", "thj", "fdu", "mn-", "sdb", "bb-",
                  "pb-", "xlr", "ur-", "akb", "sts", "cp-"),
    "alpha": ("alpha", "α", "a-"),
    "nalkyl": ("edrone", "ylone"),
    # a ring code starts with its position digit: "2-m", "3c", "4-м"... (Cyrillic look-alikes included)
    "ring": tuple(f"{d}{sep}{c}" for d in "234" for sep in ("-", "") for c in "mcbfeidtмсве"),
    "nitazene": ("nitaze",), "nitazene_ru": ("нитаз",),
    "fentanyl": ("fentan",), "fentanyl_ru": ("фентан",),
    "benzo": ("zolam", "zepam"), "benzo_ru": ("золам", "зепам"),
    "nbome": ("nbom",), "2c": ("2c-",), "lsd": ("-lsd",), "pcx": ("-pc",), "tryptamine": ("-ho-", "-aco-", "-meo-"),
}
# A woken grammar is run only over a window around its fragments, not over the whole post. That is exact when every
# name the grammar matches contains one of its anchors (lowercased): the triggers, plus a fragment that wakes nothing
# (INATA, the one cannabinoid core without a trigger in it, is found only when another fragment woke the grammar).
# The series codes (UR144, AM2201) have no such fragment, and the nitazene grammar has no bounded length: those two
# are always run over the whole post.
_ANCHORS_ONLY = {"sc": ("inata",)}
_WHOLE_POST = {"sc_series", "nitazene"}
_KINDS = {kind: i for i, (_, _, kind) in enumerate(_PATTERNS)}


def _max_width(pattern: re.Pattern) -> int:
    """The most characters a match of `pattern` can consume (lookarounds consume none)."""
    return re.__dict__["_parser"].parse(pattern.pattern, pattern.flags).getwidth()[1]


# per pattern: the widest match, or None for "run over the whole post"
_WIDTH = [None if kind in _WHOLE_POST else _max_width(p) for _, p, kind in _PATTERNS]
# Letters that re.IGNORECASE matches to a Latin or Cyrillic letter but str.lower() does not turn into it (dotless ı,
# long ſ, old Cyrillic letter variants): a name spelled with them may hide its anchor, so windows are not used.
_CASE_ODD = re.compile("[\u0131\u017f\u1c80-\u1c88]")
_TRIGGER = ahocorasick.Automaton()
_fragment_kinds: dict[str, list[tuple[int, bool]]] = {}  # fragment -> [(pattern index, wakes it)]
for _kind, _fragments in _TRIGGERS.items():
    for _fragment in _fragments:
        _fragment_kinds.setdefault(_fragment, []).append((_KINDS[_kind], True))
for _kind, _fragments in _ANCHORS_ONLY.items():
    for _fragment in _fragments:
        _fragment_kinds.setdefault(_fragment, []).append((_KINDS[_kind], False))
_TRIGGER_KEYS = [(_fragment, (len(_fragment), tuple(_pairs))) for _fragment, _pairs in _fragment_kinds.items()]
for _fragment, _payload in _TRIGGER_KEYS:
    _TRIGGER.add_word(_fragment, _payload)
_TRIGGER.make_automaton()
_CYR_TO_LAT = str.maketrans("МСВЕмсве", "MCBEmcbe")


def trigger_keys() -> list[tuple[str, tuple]]:
    """The fragments that wake the grammars, as (fragment, payload) for an Aho-Corasick automaton over the lowered
    text. `pipelines.substances` puts them into its own automaton, so that one pass over a post finds both substance
    names and these fragments (see `find_candidates(anchors=...)`); that pass reads ё as е."""
    return list(_TRIGGER_KEYS)


def find_candidates(cleaned: str, matcher: KnownNames, low: str | None = None,
                    anchors=None, mentions: list | None = None) -> list[CandidateMatch]:
    """Substance-like names in `cleaned` that `matcher` does not know, in text order, each name once.

    A caller that has them already may pass `low`, `cleaned` lowercased (str.lower() or the same-length
    `pipelines.lexicon.lower_same_length`), and `anchors`, the (end, payload) matches of `trigger_keys()` in it.
    `mentions`, when given, receives the (start, end) span of every mention of those names, repeats included
    (unordered).
    """
    if low is None or len(low) != len(cleaned) or "\u0130" in cleaned:
        # İ is the one letter whose lowercase is longer; str.lower() is what decides which grammars wake
        low = cleaned.lower()
        anchors = None
    wake: dict[int, list[int]] = {}  # pattern index -> [first anchor end, last anchor start]
    spans: list[tuple[int, int, int]] = []
    # anchors found with ё read as е: one over a ё is no fragment of the text (no fragment has ё)
    yo = anchors is not None and "ё" in low
    for end, (length, kinds) in (_TRIGGER.iter(low) if anchors is None else anchors):
        if yo and "ё" in low[end + 1 - length:end + 1]:
            continue
        for i, wakes in kinds:
            if wakes:
                wake.setdefault(i, [])
            spans.append((i, end + 1 - length, end + 1))
    if not wake:
        return []
    windows = len(low) == len(cleaned) and _CASE_ODD.search(low) is None
    if windows:
        for i, s, e in spans:
            w = wake.get(i)
            if w is not None:
                if w:
                    w[0] = min(w[0], e)
                    w[1] = max(w[1], s)
                else:
                    w += (e, s)
    found: list[CandidateMatch] = []
    seen: set[str] = set()
    # spans already claimed, disjoint and sorted: their starts, and their ends (in the same order, since disjoint)
    taken_starts: list[int] = []
    taken_ends: list[int] = []
    n = len(cleaned)
    for i in sorted(wake):
        cls, pattern, kind = _PATTERNS[i]
        width = _WIDTH[i]
        if windows and width is not None:
            # a match contains an anchor, so it starts at most `width` before the first anchor's end and after
            # the last anchor's start; a match attempt reads at most width + 1 characters (the lookahead)
            first_end, last_start = wake[i]
            matches = pattern.finditer(cleaned, max(0, first_end - width), min(n, last_start + width + 1))
        else:
            matches = pattern.finditer(cleaned)
        for m in matches:
            start, end = m.span()
            name = m.group(1) if pattern.groups else m.group()
            if kind == "sc" and not _looks_like_code(name):
                continue
            if kind == "alpha" and not _looks_like_alpha_code(name):
                continue
            if kind == "ring":
                name = name.translate(_CYR_TO_LAT).upper()
            # overlaps a claimed span iff the last one starting before `end` ends after `start` (a scan of all of
            # them made a post repeating one name thousands of times quadratic)
            j = bisect_left(taken_starts, end)
            if j and taken_ends[j - 1] > start:
                continue
            taken_starts.insert(j, start)
            taken_ends.insert(j, end)
            key, known = matcher.name_status(name)
            if known:
                continue
            if mentions is not None:
                mentions.append((start, end))
            if key in seen:
                continue
            seen.add(key)
            found.append(CandidateMatch(name, cls, start, end))
    if len(found) > 1:
        found.sort(key=lambda c: c.start)
    return found


@lru_cache(maxsize=4096)  # names recur; bounded
def _looks_like_alpha_code(name: str) -> bool:
    """After alpha-: a code of capitals and digits with at most one lowercase letter (α-PHiP, not α-Pinene)."""
    code = name.split("-", 1)[-1] if "-" in name else name.lstrip("αalphALPH ")
    return sum(c.isupper() for c in code) >= 2 and sum(c.islower() for c in code) <= 1


@lru_cache(maxsize=4096)
def _looks_like_code(name: str) -> bool:
    """A cannabinoid code has a digit, a hyphen or is written in capitals; 'Chica' is a word."""
    letters = [c for c in name if c.isalpha()]
    return any(c.isdigit() or c == "-" for c in name) or sum(c.isupper() for c in letters) >= len(letters) - 2
