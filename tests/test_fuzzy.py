"""Spelling as shops write it (pipelines/fuzzy.py through SubstanceMatcher.find) and its guards; the common-word
list it reads is up to date with its generator. All examples are made up."""
import importlib.util
from pathlib import Path

import pytest

from npswatch.pipelines.fuzzy import COMMON_WORDS_PATH, FuzzyNames, common_words, skeletons
from npswatch.pipelines.substances import SubstanceMatcher
from npswatch.pipelines.text import clean

M = SubstanceMatcher.default()
TOOLS = Path(__file__).resolve().parent.parent / "tools"


def keys(text, pairs=True):
    return [h.key for h in M.find(clean(text), has_price_pairs=pairs)]


@pytest.mark.parametrize("text, key", [
    ("мефффф 1г 3000₽", "mephedrone"),  # stretched
    ("Н-бооом 5 шт 2000₽", "25i-nbome"),
    ("н бооом, 5 шт - 2000₽", "25i-nbome"),  # stretched, in two words
    ("геройн 0.5г 2500₽", "heroin"),  # misspelt
    ("метамфитамин 1г 5000₽", "methamphetamine"),
    ("methamphetmine 1g $80", "methamphetamine"),
    ("alprozolam 2mg x 10 $30", "alprazolam"),
    ("mefedron 1g 4000 rub", "mephedrone"),  # Russian slang in Latin letters
    ("shishki 5g 3000₽", "cannabis-herb"),
    ("sirec 0.5g 100$", "heroin"),
    ("экстаzи 2 шт 3000₽", "mdma"),  # an English name in Cyrillic, with a Latin letter
    ("SUBOKSIN 8 ml 50$", "buprenorphine"),
    ("gorila glue 2g 30$", "cannabis-herb"),  # two words, one misspelt
])
def test_names_spelt_as_shops_write_them_are_found(text, key):
    assert keys(text) == [key]


@pytest.mark.parametrize("text", [
    "Heroine of the novel, 1 book $10",  # an ordinary word one letter from a name
    "Business plan 1 page $10",  # "plan" is "план" in Latin letters, and an English word
    "Mexica 2 tickets 20$",  # too short to be read within an edit
    "Twesla 1 pcs $20",  # one letter from a stamp (ambiguous): no
    "Ketizolam powder 10g $199",  # a (made-up) new substance one prefix from etizolam: left to the new-name detector
    "Zetonitazene 1g $120",
])
def test_guards_keep_ordinary_words_short_words_and_new_names_out(text):
    assert keys(text) == []
    # the same words in a name position that is really misspelt still match (the guards are not blanket)
    assert keys("геройн 1г 3000₽") == ["heroin"]


def test_only_in_a_market_context():
    assert keys("мефффф 1г 3000₽") == ["mephedrone"]
    assert keys("вчера у соседей было мефффф весело", pairs=False) == []  # no price, no unit, no cue


def test_skeletons_read_both_scripts_the_same():
    assert set(skeletons("mefedron")) & set(skeletons("мефедрон"))
    assert set(skeletons("methamfethamin")) & set(skeletons("метамфетамин"))
    assert skeletons("мефффф") == skeletons("меф")


def test_fuzzy_names_on_a_made_up_index():
    f = FuzzyNames([("зелибоба", 0, True, False), ("крутилка", 1, False, True)], common=frozenset({"крутилки"}))
    assert [(s, e, i) for s, e, i, _ in f.find("зелибобаа 1г")] == [(0, 9, 0)]
    assert [(i, p) for _, _, i, p in f.find("zelyboba 1g, krutilka 2g")] == [(0, False), (1, True)]
    assert f.find("крутилки 2г") == []  # an ordinary word of the given list
    assert f.find("крутилко 2г") == []  # within an edit of an ambiguous alias: no
    assert f.find("зелибоба 1г", covered=[(0, 8)]) == []  # the exact matcher's hit is left alone


def test_committed_common_words_file_is_up_to_date():
    pytest.importorskip("wordfreq")
    spec = importlib.util.spec_from_file_location("build_common_words", TOOLS / "build_common_words.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert COMMON_WORDS_PATH.read_bytes() == module.dumps(module.build()), \
        "run: .venv/bin/python tools/build_common_words.py"
    assert {"heroine", "plan", "кофе"} <= common_words()


def test_a_misspelt_name_is_no_new_name_but_a_new_prefix_is():
    from npswatch.pipelines.extract import Extractor
    x = Extractor.default()
    misspelt = x.extract("alprozolam 2mg, 10 pills $30")
    assert ([s.canonical for s in misspelt.substances], misspelt.candidates) == (["alprazolam"], ())
    assert [c.name for c in x.extract("Ketizolam powder 10g $199").candidates] == ["Ketizolam"]
