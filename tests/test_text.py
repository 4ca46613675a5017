"""clean(): what a reader would check: obfuscations undone, prices, codes and ordinary words left alone."""
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from npswatch.pipelines.text import clean, fold_token


@pytest.mark.parametrize("raw, expected", [
    # format characters inside a word: zero-width space/joiner/non-joiner, word joiner, soft hyphen, BOM, bidi
    ("гаш\u200bиш", "гашиш"), ("гаш\u200dиш", "гашиш"), ("гаш\u200cиш", "гашиш"), ("гаш\u2060иш", "гашиш"),
    ("гаш\u00adиш", "гашиш"), ("\ufeffгашиш", "гашиш"), ("гаш\u202eиш", "гашиш"),
    # NFKC: full-width, maths alphabets, circled letters, ligature, no-break space
    ("ＭＤＭＡ", "MDMA"), ("𝐦𝐝𝐦𝐚", "mdma"), ("𝕞𝕕𝕞𝕒", "mdma"), ("ⓜⓓⓜⓐ", "mdma"), ("ﬂakka", "flakka"),
    ("2\u00a0г", "2 г"),
    # what NFKC leaves: small capitals, negative squared letters
    ("ᴋᴇᴛᴀᴍɪɴᴇ", "ketamine"), ("🅼🅳🅼🅰", "MDMA"),
    # leftover combining marks (stress, strike-through) and emoji variation selectors
    ("му\u0301ка", "мука"), ("с\u0336о\u0336л\u0336ь\u0336", "соль"), ("❄\ufe0f", "❄"), ("1\ufe0f\u20e3г", "1г"),
    # dashes and apostrophes
    ("1г — 5000", "1г - 5000"), ("1г – 5000", "1г - 5000"), ("a\u2212b", "a-b"), ("a\u2011b", "a-b"),
    ("so\u2019m", "so'm"), ("oʻzbek", "o'zbek"), ("gʼ", "g'"), ("so`m", "so'm"), ("so\u00b4m", "so'm"),
    # Latin look-alikes in a Cyrillic word and the reverse
    ("гaшиш", "гашиш"), ("ГAШИШ", "ГАШИШ"), ("кoкaин", "кокаин"), ("СOЛЬ", "СОЛЬ"), ("Cоль", "Соль"),
    ("kеtаminе", "ketamine"), ("НЕRОIN", "HEROIN"),
    # a one-letter part of a hyphenated word follows its neighbour: Latin a + Cyrillic пвп
    ("a-пвп", "а-пвп"),
    # digits used as letters inside a word of one script
    ("с0ль", "соль"), ("С0ЛЬ", "СОЛЬ"), ("гаш0к", "гашок"), ("ка3ино", "казино"), ("h0ney", "honey"),
    # spaced and dotted letters that spell a lexicon word
    ("м е ф", "меф"), ("М.Е.Ф", "МЕФ"), ("г-а-ш-и-ш", "гашиш"), ("с о л ь", "соль"), ("м. е. ф.", "меф."),
    ("м е ф е д р о н а", "мефедрона"),
])
def test_obfuscations_are_undone(raw, expected):
    assert clean(raw) == expected


@pytest.mark.parametrize("text", [
    # prices, quantities, codes with digits
    "1г 4000₽", "0.5гр = 1600 сом", "1 г - нет", "3-MMC", "4F-ABUTINACA", "5F-MDMB-PICA", "JWH-018", "MDMB-4en-PINACA",
    "2C-B", "25I-NBOMe", "A3", "B12", "Ростов-на-Дону", "24/7", "+7 700 000 00 00", "10:30", "100%",
    # Russian one-letter words must not be glued
    "я и в Москве", "и т.д.", "в с к у о", "а в с", "к у о", "т. е. так", "г. Ош",
    # real mixes of scripts stay
    "USDT-кошелёк", "SMS-рассылка", "VIP-клиент", "iPhone-чехол", "Wi-Fi роутер",
    # letters that are digits of a code, digits between letters of two scripts
    "MDMB4en", "ка3ino",
    # CJK, emoji, Kazakh and Uzbek letters
    "冰毒 每克 500元", "🧂🔥💎", "Тұз 0.5гр 8000 теңге", "Oʻzbekiston",
])
def test_ordinary_text_is_kept(text):
    expected = text.replace("ʻ", "'")
    assert clean(text) == expected


def test_layout_and_case_are_kept():
    text = "СОЛЬ Алматы\n1г - 17 000 тг\n\n2г - 32 000 тг\tтоп"
    assert clean(text) == text


def test_fold_token_decides_by_the_other_letters():
    assert fold_token("мeф") == "меф"  # Latin e among Cyrillic letters
    assert fold_token("mеphedrone") == "mephedrone"  # Cyrillic е among Latin letters
    assert fold_token("USDT-кошелёк") == "USDT-кошелёк"  # each part has letters found only in its script


def test_clean_is_fast_enough_to_be_called_on_everything():
    # not a timing test: a long input with every feature must still come back unchanged in length order
    text = ("м е ф с0ль гaшиш 1г — 4000₽ " * 2000)
    out = clean(text)
    assert out.count("меф") == 2000 and out.count("соль") == 2000 and out.count("гашиш") == 2000


def test_adversarial_repeats_are_handled():
    for text in ("а " * 100_000, "a-" * 100_000, "0" * 100_000, "с0" * 100_000, "м.е." * 50_000):
        assert isinstance(clean(text), str)


def test_fold_table_comes_from_unicode_confusables():
    from npswatch.pipelines.text import _DATA
    data = json.loads((_DATA / "confusables_fold.json").read_text(encoding="utf-8"))
    assert data["to_cyrillic"]["a"] == "а" and data["to_latin"]["р"] == "p"
    assert "m" not in data["to_cyrillic"]  # lowercase m and м do not look alike: not folded
    assert data["small_caps"]["ᴍ"] == "m"


def test_committed_fold_table_is_up_to_date():
    pytest.importorskip("confusable_homoglyphs")
    import importlib.util
    from pathlib import Path
    tool = Path(__file__).resolve().parent.parent / "tools" / "build_confusables_fold.py"
    spec = importlib.util.spec_from_file_location("build_confusables_fold", tool)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    committed = json.loads(module.OUT.read_text(encoding="utf-8"))
    assert committed == module.build()


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_clean_never_crashes_and_is_idempotent(text):
    once = clean(text)
    assert clean(once) == once


_obfuscation_alphabet = st.sampled_from(list("меф соль гашиш aeopcxyMEOPCHTK03 .-\u200b\u00ad́\u2014ᴍᴇ𝐦"))


@settings(max_examples=400, deadline=None)
@given(st.text(_obfuscation_alphabet, max_size=40))
def test_idempotent_on_obfuscation_soup(text):
    once = clean(text)
    assert clean(once) == once


def test_at_sign_inside_a_word_is_a_letter_but_handles_stay():
    from npswatch.pipelines.text import clean

    assert clean("сп@йс 1г") == "спайс 1г"
    assert clean("m@ry jane") == "mary jane"
    assert clean("пиши @synthetic_vendor_01") == "пиши @synthetic_vendor_01"


# The compiled module runs loops instead of three quick-check regexes of clean() (pipelines/text.py): they must
# say what the regexes say. Text from the characters the checks look at, so that random text hits them often.
_QUICK_ALPHABET = st.sampled_from(list("aZmfCoeлсьмЁЯ03@9'- .-_*·•/|+\n²١漢\U0001d426") + ["ᵃ", "½"])


def _assert_quick_checks_agree(text: str) -> None:
    from npswatch.pipelines import text as t

    assert t._mixed_quick(text) == (t._MIXED_QUICK.search(text) is not None)
    assert t._digit_in_word(text) == (t._DIGIT_PRE.search(text) is not None)
    assert t._spaced_quick(text) == bool(t._SPACED_PRE.search(text)
                                         or (text[1:2] in t._SEP_CHARS and t._SPACED_HEAD.match(text)))


@settings(max_examples=3000, deadline=None)
@given(st.text(_QUICK_ALPHABET, max_size=14))
def test_quick_check_loops_say_what_the_regexes_say(text):
    _assert_quick_checks_agree(text)


@pytest.mark.parametrize("text", ["мeфeдpoн", "a-пвп", "м е ф", "м. е. ф", "с0ль", "g@nja", "ab", "a b c",
                                  "x a b c", "x a  b  c", "x a b cd", "мефедрон 1г 4500₽", "USDT-кошелёк"])
def test_quick_check_loops_on_examples(text):
    _assert_quick_checks_agree(text)
