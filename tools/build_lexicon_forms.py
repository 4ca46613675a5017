"""Generate pipelines/data/lexicon_forms.json: the inflected forms of every phrase of the lexicon
(pipelines/data/lexicon.toml and pipelines/data/lexicon_nps.toml; the SHA-256 of each is recorded).

Run after editing the lexicon:  .venv/bin/python tools/build_lexicon_forms.py
(tests/test_lexicon.py fails while the committed file is out of date.)

How forms are made:
- Russian (ru): pymorphy3. A word the dictionary knows as a noun/adjective in the nominative (not a personal or
  place name) gets its dictionary lexeme; an alias given in the plural ("шишки", "марки") keeps only plural forms
  ("шишка" alone is a bump on the head). A word pymorphy3 does not know as such (slang: "меф", "спайс", "гер")
  is declined like a common noun of the same ending, with that noun's endings taken from pymorphy3 (the
  `_TEMPLATES` table); a form made that way that is itself a dictionary word of another lemma is dropped
  ("кет" would give "кета", a fish). Phrases: the leading nominative words (noun and its adjectives) are
  declined together through all cases and both numbers; words after a preposition or in an oblique case stay
  ("фен для волос" -> "фена для волос"). In a hyphenated word only the last part is declined
  ("бизнес-план" -> "бизнес-плана").
All forms are stored folded with pipelines.lexicon.match_fold (clean, lowercase, ё -> е), as the matcher reads them.
Only what needs pymorphy3 is stored; the suffixes of the agglutinative languages are appended at load time
(pipelines.lexicon.phrase_forms), and other languages' phrases stand for themselves.
"""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pymorphy3  # noqa: E402

from npswatch.pipelines.lexicon import (FORMS_PATH, LEXICON_PATHS, join_words, lexicon_sha256,  # noqa: E402
                                        match_fold, parse_lexicon, phrase_forms)

MORPH = pymorphy3.MorphAnalyzer(lang="ru")
CASES = ("nomn", "gent", "datv", "accs", "ablt", "loct")
PROPER = {"Name", "Surn", "Patr", "Geox", "Orgn", "Abbr", "Init", "Trad"}
PREPOSITIONS = {"для", "с", "со", "в", "во", "на", "из", "от", "до", "без", "по", "под", "над", "и", "к", "у", "о",
                "об"}
VOWELS = set("аеёиоуыэюя")

# Declension templates for words pymorphy3 cannot analyse: (ending of the unknown word, a common noun of the same
# declension). Only the choice of model noun is ours; its endings come from pymorphy3's dictionary.
_TEMPLATES = [
    (re.compile("ка$"), "шишка"), (re.compile("[гх]а$"), "книга"), (re.compile("[жшчщ]а$"), "каша"),
    (re.compile("ца$"), "улица"), (re.compile("а$"), "мама"), (re.compile("я$"), "неделя"),
    (re.compile("ь$"), "соль"), (re.compile("й$"), "чай"), (re.compile("[кгх]$"), "парк"),
    (re.compile("[жшчщ]$"), "нож"), (re.compile("ц$"), "шприц"), (re.compile("[бвдзлмнпрстф]$"), "стол"),
]


def _good_parse(word: str):
    for p in MORPH.parse(word):
        tag = p.tag
        if tag.POS in ("NOUN", "ADJF", "PRTF") and "nomn" in tag and not (PROPER & tag.grammemes):
            return p
    return None


def _template_forms(word: str) -> list[str]:
    for pattern, model in _TEMPLATES:
        if pattern.search(word):
            lexeme = [f.word for f in _good_parse(model).lexeme]
            stem = os.path.commonprefix(lexeme)
            nom_end = model[len(stem):]
            if not word.endswith(nom_end):
                return [word]
            base = word[: len(word) - len(nom_end)]
            forms = {base + f[len(stem):] for f in lexeme}
            return sorted(f for f in forms if f == word or not _other_word(f, word))
    return [word]


def _other_word(form: str, lemma: str) -> bool:
    """Is `form` a dictionary word of another lemma (a common noun, verb, ... not a proper name)?"""
    if not MORPH.word_is_known(form):
        return False
    return any(p.normal_form != lemma and not (PROPER & p.tag.grammemes) for p in MORPH.parse(form))


def inflect_word(word: str) -> list[str]:
    if len(word) <= 2 or not (VOWELS & set(word)) or not word.isalpha():
        return [word]
    p = _good_parse(word)
    if p is None:
        return _template_forms(word)
    if "Fixd" in p.tag:
        return [word]
    plural_only = p.tag.number == "plur" and "Pltm" not in p.tag
    forms = set()
    for f in p.lexeme:
        if plural_only and f.tag.number != "plur":
            continue
        if p.tag.POS != "NOUN" and (f.tag.POS != p.tag.POS or {"Supr", "Cmp2", "COMP"} & f.tag.grammemes):
            continue
        forms.add(f.word)
    forms.add(word)
    return sorted(forms)


def inflect_hyphenated(word: str) -> list[str]:
    head, _, last = word.rpartition("-")
    return sorted({f"{head}-{f}" for f in inflect_word(last)})


def inflect_ru(phrase: str) -> list[str]:
    words = phrase.lower().split()
    if len(words) == 1:
        w = words[0]
        return inflect_hyphenated(w) if "-" in w and not any(c.isdigit() for c in w) else inflect_word(w)
    # the agreeing head: leading words with a nominative parse, up to a preposition
    head = []
    for w in words:
        p = _good_parse(w) if w.isalpha() else None
        if w in PREPOSITIONS or p is None:
            break
        head.append(p)
    if not head:
        return [phrase.lower()]
    rest = words[len(head):]
    numbers = ("plur",) if head[0].tag.number == "plur" else ("sing", "plur")
    out = {phrase.lower()}
    for number in numbers:
        for case in CASES:
            inflected = [p.inflect({case, number}) for p in head]
            if all(inflected):
                out.add(" ".join([i.word for i in inflected] + rest))
    return sorted(out)


def forms_of(phrase: str) -> list[str]:
    return sorted({match_fold(f) for f in inflect_ru(phrase)})


def build() -> dict:
    lex = parse_lexicon(*(p.read_text(encoding="utf-8") for p in LEXICON_PATHS))
    forms = {}
    for lang, phrase in lex.phrases():
        if lang != "ru":
            continue
        f = forms_of(phrase)
        if f != [match_fold(phrase)]:  # a phrase with no other form is left out: the reader falls back to it
            forms[f"{lang}\t{phrase}"] = f
    return {"lexicon_sha256": lexicon_sha256(),
            "generator": "tools/build_lexicon_forms.py (pymorphy3 %s)" % pymorphy3.__version__,
            "forms": forms,
            "join_words": join_words(lex, lambda lang, phrase: phrase_forms(lang, phrase, forms))}


def dumps(data: dict) -> str:
    """JSON with one phrase per line, so a lexicon edit shows as a small diff."""
    head = {k: v for k, v in data.items() if k not in ("forms", "join_words")}
    lines = [json.dumps(k, ensure_ascii=False) + ": " + json.dumps(v, ensure_ascii=False)
             for k, v in sorted(data["forms"].items())]
    words = [json.dumps(w, ensure_ascii=False) for w in data["join_words"]]
    return (json.dumps(head, ensure_ascii=False)[:-1] + ', "forms": {\n' + ",\n".join(lines) + "\n},\n"
            + '"join_words": [\n' + ",\n".join(words) + "\n]}\n")


def main() -> None:
    data = build()
    FORMS_PATH.write_text(dumps(data), encoding="utf-8")
    n = sum(len(v) for v in data["forms"].values())
    print(f"wrote {FORMS_PATH}: {len(data['forms'])} phrases, {n} forms")


if __name__ == "__main__":
    main()
