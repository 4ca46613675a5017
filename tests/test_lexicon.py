"""Lexicon sanity: the reviewed TOML is complete, consistent, and its generated forms file is up to date."""
import importlib.util
import json
from collections import defaultdict
from pathlib import Path

import pytest

from npswatch.pipelines.lexicon import (CLASSES, FORMS_PATH, LANGUAGES, LEXICON_PATHS, load_lexicon, match_fold,
                                        name_key, phrase_forms, variants)

LEX = load_lexicon()
TOOLS = Path(__file__).resolve().parent.parent / "tools"


def _all_forms(entry):
    out = set()
    for alias in entry.aliases:
        for form in phrase_forms(alias.lang, alias.text):
            if form not in entry.exclude_forms:
                out |= variants(form)
    return out


def test_at_least_150_substances_in_every_class():
    assert len(LEX.entries) >= 150
    by_class = defaultdict(int)
    for e in LEX.entries:
        by_class[e.cls] += 1
    assert set(by_class) == set(CLASSES)


def test_every_class_is_valid_and_keys_are_unique_stable_ids():
    keys = [e.key for e in LEX.entries]
    assert len(keys) == len(set(keys))
    for e in LEX.entries:
        assert e.cls in CLASSES, e.key
        assert e.key == e.key.lower() and " " not in e.key, e.key
        assert e.aliases, f"{e.key} has no alias"


def test_canonical_names_are_unique():
    canon = [name_key(e.canonical) for e in LEX.entries if e.canonical]
    assert len(canon) == len(set(canon))


def test_the_design_names_are_in():
    wanted = {"alpha-PVP", "alpha-PHP", "alpha-PiHP", "mephedrone", "3-MMC", "3-CMC", "4-CMC", "4-MEC", "MDPV",
              "N-ethylhexedrone", "NEP", "eutylone", "MDMB-4en-PINACA", "ADB-BUTINACA", "4F-MDMB-BINACA",
              "5F-MDMB-PICA", "MDMB-CHMICA", "JWH-018", "AB-FUBINACA", "AMB-FUBINACA", "ADB-4en-PINACA", "heroin",
              "methadone", "morphine", "fentanyl", "carfentanil", "tramadol", "oxycodone", "codeine",
              "desomorphine", "isotonitazene", "metonitazene", "protonitazene", "cocaine", "amphetamine",
              "methamphetamine", "MDMA", "MDA", "LSD", "psilocybin", "mescaline", "2C-B", "DMT", "ketamine", "PCP",
              "GHB", "GBL", "pregabalin", "alprazolam", "clonazepam", "etizolam", "bromazolam", "phenibut"}
    have = {e.canonical for e in LEX.entries}
    assert wanted <= have, wanted - have


def test_kinds_have_no_canonical_name():
    kinds = {e.key: e for e in LEX.entries if e.canonical is None}
    assert {"salt", "speed-cathinone", "spice", "hashish", "cannabis-herb", "cannabis-oil"} <= set(kinds)
    assert kinds["salt"].cls == kinds["speed-cathinone"].cls == "synthetic_cathinone"
    assert kinds["spice"].cls == "synthetic_cannabinoid"


def test_every_listed_language_has_aliases():
    per_lang = defaultdict(int)
    for e in LEX.entries:
        for a in e.aliases:
            assert a.lang in LANGUAGES, (e.key, a)
            per_lang[a.lang] += 1
    assert set(per_lang) == set(LANGUAGES)


def test_no_alias_form_is_claimed_by_two_entries():
    owners = defaultdict(set)
    for e in LEX.entries:
        for form in _all_forms(e):
            owners[form].add(e.key)
    clashes = {form: keys for form, keys in owners.items() if len(keys) > 1}
    assert not clashes


def test_emoji_are_always_ambiguous():
    for e in LEX.entries:
        for a in e.aliases:
            if a.lang == "emoji":
                assert a.ambiguous, (e.key, a.text)


def test_domains_exist_and_do_not_block_their_own_names():
    for e in LEX.entries:
        own = _all_forms(e)
        for d in e.domains:
            assert d in LEX.domains, (e.key, d)
            words = {f for lang, w in LEX.domains[d] for f in phrase_forms(lang, w)}
            assert not (own & words), (e.key, d, own & words)


def test_exclude_forms_are_forms_that_would_be_generated():
    for e in LEX.entries:
        produced = {f for a in e.aliases for f in phrase_forms(a.lang, a.text)}
        assert e.exclude_forms <= produced, (e.key, e.exclude_forms - produced)


def test_form_words_are_ambiguous_aliases_of_their_entry():
    with_form_words = [e for e in LEX.entries if e.form_words]
    assert {"salt", "lsd", "cocaine", "methamphetamine"} <= {e.key for e in with_form_words}
    for e in with_form_words:
        assert e.form_words <= {a.text for a in e.aliases}, e.key


def test_price_heads_are_inflected_and_their_prepositions_start_negative_phrases():
    forms = {f for lang, p in LEX.price_heads for f in phrase_forms(lang, p)}
    assert {"цена", "цены", "цен", "прайс", "прайсы", "прайс-лист", "ценник"} <= forms
    preps = [p for _, p in LEX.head_prepositions]
    assert preps == ["на"]
    assert any(p.startswith("на ") for _, p in LEX.negatives)


def test_not_drugs_are_never_aliases():
    forms = set()
    for e in LEX.entries:
        forms |= _all_forms(e)
    keys = {nd["key"] for nd in LEX.not_drugs}
    assert "nasvay" in keys
    for nd in LEX.not_drugs:
        for words in nd["words"].values():
            for w in words:
                assert match_fold(w) not in forms, (nd["key"], w)


def test_inflected_russian_forms_are_there():
    forms = {e.key: _all_forms(e) for e in LEX.entries}
    assert {"мефедрона", "мефедроном", "мефа", "мефом"} <= forms["mephedrone"]
    assert {"солью", "соли"} <= forms["salt"]
    assert {"скорости", "скоростью"} <= forms["speed-cathinone"] and "скоростей" not in forms["speed-cathinone"]
    assert {"спайсом", "спайса", "курительной смеси", "курительных смесей"} <= forms["spice"]
    assert {"гашиша", "гашишем", "гашика"} <= forms["hashish"]
    assert {"шишек", "бошками"} <= forms["cannabis-herb"] and "шишка" not in forms["cannabis-herb"]
    assert "кета" not in forms["ketamine"]  # a fish, dropped by the generator
    assert {"тұзды", "тұзбен"} <= forms["salt"] and "tuzni" in forms["salt"]


def test_code_names_tolerate_separators_and_alpha_spellings():
    forms = _all_forms(LEX.by_key["5f-mdmb-pica"])
    assert {"5f-mdmb-pica", "5f mdmb pica", "5fmdmbpica"} <= forms
    forms = _all_forms(LEX.by_key["alpha-pvp"])
    assert {"alpha-pvp", "α-pvp", "a-pvp", "alpha pvp", "apvp", "а-пвп"} <= forms
    assert "a pvp" not in forms  # English article + gaming slang
    assert "4-ммс" in _all_forms(LEX.by_key["mephedrone"])  # Cyrillic look-alike letters


def test_committed_forms_file_is_up_to_date_with_the_lexicon():
    pytest.importorskip("pymorphy3")
    spec = importlib.util.spec_from_file_location("build_lexicon_forms", TOOLS / "build_lexicon_forms.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    expected = module.dumps(module.build())
    assert FORMS_PATH.read_text(encoding="utf-8") == expected, \
        "run: .venv/bin/python tools/build_lexicon_forms.py"
    # the forms are stale when either lexicon file changes: both files' hashes are recorded and compared
    recorded = json.loads(FORMS_PATH.read_text(encoding="utf-8"))["lexicon_sha256"]
    assert set(recorded) == {p.name for p in LEXICON_PATHS} == {"lexicon.toml", "lexicon_nps.toml"}
