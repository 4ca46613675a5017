"""The early-warning NPS part of the lexicon (pipelines/data/lexicon_nps.toml): read together with lexicon.toml, every
systematic name parsed to a structure by OPSIN, no structure twice, and the labelled sets' new-name candidates kept
out (they test the grammar of pipelines/candidates.py)."""
import json
import shutil
import tomllib
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

import real_pages
from npswatch.pipelines.extract import default_extractor
from npswatch.pipelines.lexicon import (CLASSES, LEXICON_PATH, NPS_LEXICON_PATH, load_lexicon, name_key,
                               parse_lexicon, phrase_forms, variants)

LEX = load_lexicon()
NPS = tomllib.loads(NPS_LEXICON_PATH.read_text(encoding="utf-8"))["substance"]
BASE = tomllib.loads(LEXICON_PATH.read_text(encoding="utf-8"))["substance"]
REPO = Path(__file__).resolve().parent.parent
# structures that two entries may share on purpose (pairs of keys); none today
SAME_STRUCTURE_ON_PURPOSE: set[frozenset[str]] = set()


def _known_keys(entry) -> set[str]:
    """name_key of every spelling by which an entry is known: canonical, aliases and their generated variants."""
    out = {name_key(entry.canonical or "")}
    for alias in entry.aliases:
        for form in phrase_forms(alias.lang, alias.text):
            out |= {name_key(v) for v in variants(form)}
    return out - {""}


def _subs(text):
    return [(s["canonical"], s["class"]) for s in default_extractor().extract(text).to_json("t")["substances"]]


def test_the_lexicon_has_at_least_500_substances_read_from_both_files():
    assert len(NPS) >= 290 and len(LEX.entries) == len(BASE) + len(NPS) >= 500
    keys = {e.key for e in LEX.entries}
    assert {raw["key"] for raw in NPS} <= keys and {raw["key"] for raw in BASE} <= keys
    assert LEX.by_key["flubromazepam"].cls == "sedative" and LEX.by_key["mephedrone"].cls == "synthetic_cathinone"


def test_nps_entries_have_the_format_of_lexicon_toml_and_a_systematic_name():
    base_fields = {f for raw in BASE for f in raw}
    by_class = defaultdict(int)
    for raw in NPS:
        assert set(raw) <= base_fields, (raw["key"], set(raw) - base_fields)
        assert raw["class"] in CLASSES and raw.get("canonical") and raw.get("systematic"), raw["key"]
        by_class[raw["class"]] += 1
    for cls in ("synthetic_cathinone", "synthetic_cannabinoid", "opioid", "sedative", "dissociative",
                "hallucinogen", "stimulant"):
        assert by_class[cls] >= 10, (cls, by_class[cls])


def test_keys_and_canonical_names_are_unique_across_both_files():
    keys = [raw["key"] for raw in BASE + NPS]
    assert len(keys) == len(set(keys))
    canon = [name_key(raw["canonical"]) for raw in BASE + NPS if raw.get("canonical")]
    assert len(canon) == len(set(canon))


def test_the_nps_file_may_hold_only_substances():
    base = LEXICON_PATH.read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="only \\[\\[substance\\]\\]"):
        parse_lexicon(base, '[cues.strong]\nru = ["x"]\n')


def test_labelled_new_name_candidates_stay_out_of_the_nps_lexicon():
    gold_names = set()
    sources = [REPO / "tests" / "data" / "labelled.jsonl"]
    shared_real = real_pages.shared_real()  # ../shared/real, found as the real-page tests find it
    if shared_real is not None:
        sources.append(shared_real.parent / "eval" / "spec.jsonl")
    for path in sources:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                gold_names |= set(json.loads(line)["gold"].get("candidates") or [])
    assert len(gold_names) >= 10
    nps_keys = {raw["key"] for raw in NPS}
    known = {k: e.key for e in LEX.entries if e.key in nps_keys for k in _known_keys(e)}
    inside = {n: known[name_key(n)] for n in gold_names if name_key(n) in known}
    assert not inside, f"these test the new-name grammar; take them out of lexicon_nps.toml: {inside}"


def test_every_systematic_name_parses_with_opsin_and_no_structure_is_there_twice():
    if not shutil.which("java"):
        pytest.skip("OPSIN needs Java (Debian: apt-get install default-jre-headless)")
    py2opsin = pytest.importorskip("py2opsin", reason="py2opsin is in the `test` extra").py2opsin
    entries = [e for e in LEX.entries if e.systematic]
    assert len(entries) >= 500
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # OPSIN's own report of unparsable names; the assertion lists them
        keys = py2opsin([e.systematic for e in entries], output_format="StdInChIKey")
    unparsed = [(e.key, e.systematic) for e, k in zip(entries, keys) if not k]
    assert not unparsed, unparsed
    by_skeleton = defaultdict(set)
    for e, k in zip(entries, keys):
        by_skeleton[k.split("-")[0]].add(e.key)  # the connectivity block: stereoisomers count as one structure
    twice = [ks for ks in by_skeleton.values() if len(ks) > 1 and frozenset(ks) not in SAME_STRUCTURE_ON_PURPOSE]
    assert not twice, twice


@pytest.mark.parametrize("text, expected", [
    ("Флубромазепам 1мг, 20 шт — 3000₽", ("flubromazepam", "sedative")),
    ("в наличии флубромазепама нет", ("flubromazepam", "sedative")),
    ("Bromo-DragonFLY blotters x10", ("bromo-DragonFLY", "hallucinogen")),
    ("MDMB-4en-PICA 1г 3000₽", ("MDMB-4en-PICA", "synthetic_cannabinoid")),
    ("4F-MPH 20 pellets, 15mg each", ("4F-MPH", "stimulant")),
    ("метонитазепин 10 мг", ("metonitazepyne", "opioid")),
    ("Продам 3-HO-PCE 1g", ("3-HO-PCE", "dissociative")),
    ("alpha PBT 5г", ("alpha-PBT", "synthetic_cathinone")),
    ("4FMPH 1g", ("4F-MPH", "stimulant")),
    ("艾司唑仑 1盒 200元", ("estazolam", "sedative")),
])
def test_nps_names_are_found_as_substances(text, expected):
    assert expected in _subs(text)


@pytest.mark.parametrize("text", [
    "DOI: 10.1000/182, статья 2021 года",
    "Включите 2FA в настройках аккаунта",
    "TCP/IP и UDP: основы сетей",
    "Det er godt vejr i dag",
    "Смешной мем про кота",
    "PMMA plexiglass sheet 3mm",
    "Зашёл на 2ch почитать новости",
    "Выпускник MIPT, работает в Москве",
])
def test_short_codes_that_are_ordinary_words_need_a_market_context(text):
    assert _subs(text) == []


def test_met_stays_methamphetamine_slang():
    assert ("methamphetamine", "stimulant") in _subs("мет 1г 3000₽ клад")
