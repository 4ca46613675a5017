"""Generate pipelines/data/common_words.txt.gz: the ordinary words of English and Russian that the spelling-tolerant
matcher (pipelines/fuzzy.py) must never read as a misspelt drug name ("heroine", "plan", "marine").

Run after upgrading wordfreq:  .venv/bin/python tools/build_common_words.py
(tests/test_fuzzy.py fails while the committed file is out of date.) Needs wordfreq, a generator-only dependency
(the `test` extra): nothing at run time imports it.

What goes in: every word of wordfreq's English and Russian lists with a Zipf frequency of at least ZIPF of its
language (English 2.5, three times in ten million words: about 53,000 word forms; Russian 3.0, once per million:
about 62,000 forms, since Russian lists every inflection apart), made only of letters, at least MIN_LEN letters long
(shorter words are never matched), lowercased with ё as е, sorted, one a line. The thresholds are measured: English
at 3.0 let "reagent" (2.88) be read as "реагент" in an English harm-reduction post; no word of a real listing that
the matcher should read (sirec, shishki, mefedron, marixyana, cocain...) has a frequency above 2.1.
"""
from __future__ import annotations

import gzip
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "pipelines" / "data" / "common_words.txt.gz"
LANGS = ("en", "ru")
ZIPF = {"en": 2.5, "ru": 3.0}
MIN_LEN = 3


def build() -> list[str]:
    from wordfreq import top_n_list, zipf_frequency

    words: set[str] = set()
    for lang in LANGS:
        for w in top_n_list(lang, 300_000):
            if zipf_frequency(w, lang) < ZIPF[lang]:
                break  # the list is sorted by frequency
            w = w.lower().replace("ё", "е")
            if len(w) >= MIN_LEN and w.isalpha():
                words.add(w)
    return sorted(words)


def dumps(words: list[str]) -> bytes:
    # mtime=0: the same words give the same bytes, so the staleness test can compare files
    return gzip.compress(("\n".join(words) + "\n").encode("utf-8"), mtime=0)


def main() -> None:
    words = build()
    OUT.write_bytes(dumps(words))
    print(f"wrote {OUT}: {len(words)} words", file=sys.stderr)


if __name__ == "__main__":
    main()
