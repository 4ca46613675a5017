"""The substance lexicon (pipelines/data/lexicon.toml, plus the early-warning NPS entries of
pipelines/data/lexicon_nps.toml) as typed, cached objects, and the string folding shared by the matcher
(pipelines/substances.py), the form generator (tools/build_lexicon_forms.py) and the new-name detector
(pipelines/candidates.py).

The TOML files are the reviewed source of truth. lexicon.toml holds the market vocabulary (cues, negatives,
domains, suffixes) and the substances; lexicon_nps.toml holds only [[substance]] entries, in the same format.
Inflected forms of their phrases are precomputed by tools/build_lexicon_forms.py into lexicon_forms.json, so
nothing here imports pymorphy3; separator, alpha and look-alike variants of code names are cheap and are made at
load time by `variants()`.

>>> lex = load_lexicon()
>>> lex.by_key["mephedrone"].canonical, lex.by_key["mephedrone"].cls
('mephedrone', 'synthetic_cathinone')
>>> lex.by_key["salt"].canonical is None
True
>>> lex.by_key["flubromazepam"].cls, lex.by_key["flubromazepam"].canonical  # from lexicon_nps.toml
('sedative', 'flubromazepam')
>>> match_fold("Мефедрон 4-MMC")
'мефедрон 4-mmc'
>>> sorted(variants("5f-mdmb-pica"))[:4]
['5f mdmb pica', '5f mdmb-pica', '5f mdmbpica', '5f-mdmb pica']
>>> sorted(variants("alpha-pvp") & {"α-pvp", "a-pvp", "apvp", "alpha pvp", "a pvp"})
['a-pvp', 'alpha pvp', 'apvp', 'α-pvp']
>>> name_key("α-PVP") == name_key("alpha PVP")
True
"""
from __future__ import annotations

import hashlib
import itertools
import json
import re
import tomllib
import unicodedata
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path

from .text import TO_CYR, clean

__all__ = [
    "CLASSES", "LANGUAGES", "Alias", "Entry", "Lexicon", "load_lexicon", "parse_lexicon", "load_forms", "match_fold",
    "lower_same_length", "name_key", "variants", "phrase_forms", "join_words", "lexicon_sha256", "LEXICON_PATH",
    "NPS_LEXICON_PATH", "LEXICON_PATHS", "FORMS_PATH", "without_names",
]

DATA = Path(__file__).resolve().parent / "data"
LEXICON_PATH = DATA / "lexicon.toml"
NPS_LEXICON_PATH = DATA / "lexicon_nps.toml"
LEXICON_PATHS = (LEXICON_PATH, NPS_LEXICON_PATH)  # read in this order; the first holds everything but substances
FORMS_PATH = DATA / "lexicon_forms.json"

CLASSES = ("synthetic_cathinone", "synthetic_cannabinoid", "cannabis", "opioid", "stimulant", "hallucinogen",
           "dissociative", "sedative", "other")
LANGUAGES = ("ru", "kk", "ky", "uz", "uz_cyrl", "tg", "zh", "en", "intl", "emoji")


@dataclass(frozen=True, slots=True)
class Alias:
    text: str
    lang: str
    ambiguous: bool


@dataclass(frozen=True, slots=True)
class Entry:
    key: str
    canonical: str | None
    cls: str
    aliases: tuple[Alias, ...]
    systematic: str | None = None
    note: str | None = None
    domains: tuple[str, ...] = ()
    exclude_forms: frozenset[str] = frozenset()
    # ambiguous alias texts that name a product's form ("кристаллы"): next to another name they are no hit
    form_words: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Lexicon:
    entries: tuple[Entry, ...]
    suffixes: dict[str, tuple[str, ...]]
    cues_strong: tuple[tuple[str, str], ...]  # (lang, phrase)
    cues_weak: tuple[tuple[str, str], ...]
    salary: tuple[tuple[str, str], ...]
    negatives: tuple[tuple[str, str], ...]
    domains: dict[str, tuple[tuple[str, str], ...]]
    not_drugs: tuple[dict, ...]
    by_key: dict[str, Entry] = field(default_factory=dict)
    # [price_heads]: price words ("цена", "прайс") and the prepositions they take ("на"); a negative phrase that
    # starts with such a preposition does not apply right after such a word (see pipelines/substances.py)
    price_heads: tuple[tuple[str, str], ...] = ()
    head_prepositions: tuple[tuple[str, str], ...] = ()
    # [comparisons]: phrases after which a name is a comparison, not an offer ("same effect as", "лучше чем");
    # [strain_marks]: words that make a drug name next to them a cannabis strain's name ("LSD feminized")
    comparisons: tuple[tuple[str, str], ...] = ()
    strain_marks: tuple[tuple[str, str], ...] = ()

    def phrases(self) -> list[tuple[str, str]]:
        """Every (lang, phrase) that gets inflected forms: aliases, cues, salary words, negatives, domain words."""
        out = [(a.lang, a.text) for e in self.entries for a in e.aliases]
        out += list(self.cues_strong) + list(self.cues_weak) + list(self.salary) + list(self.negatives)
        out += list(self.price_heads)
        out += [p for words in self.domains.values() for p in words]
        return sorted(set(out))


def _by_lang(table: dict | None) -> tuple[tuple[str, str], ...]:
    return tuple((lang, text) for lang, texts in (table or {}).items() for text in texts)


def parse_lexicon(text: str, *more: str) -> Lexicon:
    """The lexicon of `text` (the full format) with the [[substance]] entries of each of `more` appended.

    A text in `more` may hold nothing but [[substance]] entries: cues, suffixes and domains live in one place.
    """
    data = tomllib.loads(text)
    substances = list(data["substance"])
    for i, extra_text in enumerate(more, 1):
        extra = tomllib.loads(extra_text)
        other = sorted(set(extra) - {"substance"})
        if other:
            raise ValueError(f"lexicon part {i}: only [[substance]] entries may be added, not {other}")
        substances += extra.get("substance", [])
    entries = []
    for raw in substances:
        aliases = [Alias(t, lang, False) for lang, ts in raw.get("aliases", {}).items() for t in ts]
        aliases += [Alias(t, lang, True) for lang, ts in raw.get("ambiguous", {}).items() for t in ts]
        entries.append(Entry(
            key=raw["key"], canonical=raw.get("canonical"), cls=raw["class"], aliases=tuple(aliases),
            systematic=raw.get("systematic"), note=raw.get("note"), domains=tuple(raw.get("domains", ())),
            exclude_forms=frozenset(match_fold(f) for f in raw.get("exclude_forms", ())),
            form_words=frozenset(raw.get("form_words", ())),
        ))
    lex = Lexicon(
        entries=tuple(entries),
        suffixes={k: tuple(v) for k, v in data.get("suffixes", {}).items()},
        cues_strong=_by_lang(data.get("cues", {}).get("strong")),
        cues_weak=_by_lang(data.get("cues", {}).get("weak")),
        salary=_by_lang(data.get("salary")),
        negatives=_by_lang(data.get("negatives")),
        domains={name: _by_lang(t) for name, t in data.get("domains", {}).items()},
        not_drugs=tuple(data.get("not_drug", ())),
        price_heads=_by_lang(data.get("price_heads", {}).get("words")),
        head_prepositions=_by_lang(data.get("price_heads", {}).get("prepositions")),
        comparisons=_by_lang(data.get("comparisons")),
        strain_marks=_by_lang(data.get("strain_marks")),
    )
    lex.by_key.update((e.key, e) for e in entries)
    return lex


def without_names(lexicon: Lexicon, names) -> Lexicon:
    """`lexicon` as if it had never known `names` (words or phrases, any case): the aliases they spell are dropped,
    and every entry excludes them and the forms of those aliases, so that neither an inflection of another alias
    (`марки` of `марка`) nor the fuzzy matcher (`амфетамин` as a transliteration of `amphetamine`) still knows
    them. For measuring what a mechanism finds without the lexicon's help (slang discovery)."""
    out = {match_fold(n) for n in names}
    gone = set(out)
    for entry in lexicon.entries:
        for alias in entry.aliases:
            if match_fold(alias.text) in out:
                gone.update(phrase_forms(alias.lang, alias.text))
    gone = frozenset(gone)
    entries = tuple(replace(e, aliases=tuple(a for a in e.aliases if match_fold(a.text) not in out),
                             exclude_forms=e.exclude_forms | gone) for e in lexicon.entries)
    lex = replace(lexicon, entries=entries, by_key={})
    lex.by_key.update((e.key, e) for e in entries)
    return lex


@lru_cache(maxsize=1)
def load_lexicon() -> Lexicon:
    return parse_lexicon(*(p.read_text(encoding="utf-8") for p in LEXICON_PATHS))


def lexicon_sha256() -> dict[str, str]:
    """SHA-256 of each lexicon file, by file name: the generated forms record what they were made from."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in LEXICON_PATHS}


@lru_cache(maxsize=1)
def load_forms() -> dict[str, list[str]]:
    """Precomputed inflected forms, keyed "lang<TAB>phrase" (see tools/build_lexicon_forms.py)."""
    try:
        return json.loads(FORMS_PATH.read_text(encoding="utf-8"))["forms"]
    except FileNotFoundError:  # before the first generation: every phrase stands for itself
        return {}


# -- folding ---------------------------------------------------------------------------------------------------

def lower_same_length(s: str) -> str:
    """str.lower(), but one character for one character, so offsets stay valid.

    Only U+0130 (İ) lowercases to two characters in all of Unicode; it becomes a plain i.
    """
    low = s.lower()
    if len(low) == len(s):
        return low
    return "".join(c.lower()[0] for c in s)


def match_fold(s: str) -> str:
    """What the matcher compares: clean(), lowercased (same length), ё read as е."""
    return lower_same_length(clean(s)).replace("ё", "е")


def name_key(name: str) -> str:
    """Spelling-insensitive key of a substance name: 'α-PVP', 'alpha PVP' and 'Alpha-pvp' are one name."""
    s = unicodedata.normalize("NFKC", name).lower().replace("α", "alpha")
    return "".join(ch for ch in s if ch.isalnum())


_SEP = re.compile(r"[-\s]+")
_CYR_OF = {lat: TO_CYR.get(lat.upper(), TO_CYR.get(lat, "")).lower() for lat in "abcdefghijklmnopqrstuvwxyz"}


def variants(form: str) -> set[str]:
    """Spelling variants of one folded form of a code name.

    - the parts of a name written with hyphens or with digits may be joined by '-', ' ' or nothing
      (5F-MDMB-PICA, 5F MDMB PICA, 5fmdmbpica), at most 4 separators;
    - a leading 'alpha' may be written α or a (but 'a pvp' with a space is the English article, so not that one);
    - a Latin code made only of letters that have a Cyrillic twin is also matched in Cyrillic (4-ММС, МХЕ).
    """
    out = {form}
    parts = _SEP.split(form)
    if 1 < len(parts) <= 5 and ("-" in form or any(ch.isdigit() for ch in form)):
        for seps in itertools.product(("-", " ", ""), repeat=len(parts) - 1):
            out.add(parts[0] + "".join(s + p for s, p in zip(seps, parts[1:])))
    for v in list(out):
        if v.startswith("alpha") and len(v) > 5:
            rest = v[5:]
            out.add("α" + rest)
            if not rest.startswith(" "):
                out.add("a" + rest)
    for v in list(out):
        letters = [ch for ch in v if ch.isalpha()]
        if letters and v.isascii() and all(_CYR_OF.get(ch) for ch in letters) and (len(letters) >= 3 or
                                                                                   any(c.isdigit() for c in v)):
            out.add("".join(_CYR_OF.get(ch, ch) for ch in v))
    return out


def phrase_forms(lang: str, phrase: str, forms: dict[str, list[str]] | None = None) -> list[str]:
    """All folded forms of a lexicon phrase: Russian inflections precomputed with pymorphy3 (`forms`, by default
    the generated file), the [suffixes] of the agglutinative languages appended to the phrase, else the phrase
    itself."""
    if lang == "ru":
        return (load_forms() if forms is None else forms).get(f"{lang}\t{phrase}") or [match_fold(phrase)]
    base = match_fold(phrase)
    return [base] + [base + s for s in load_lexicon().suffixes.get(lang, ())]


def join_words(lexicon: Lexicon, forms_of) -> list[str]:
    """Single-word alias forms of three or more letters: the words clean() may rebuild from spaced letters.
    `forms_of(lang, phrase)` gives a phrase's folded forms (`phrase_forms` once the forms are generated). The
    generator (tools/build_lexicon_forms.py) writes them beside the forms, where clean() reads them."""
    out = set()
    for entry in lexicon.entries:
        for alias in entry.aliases:
            for form in forms_of(alias.lang, alias.text):
                if len(form) >= 3 and form.isalpha():
                    out.add(form)
    return sorted(out)
