"""Generate pipelines/data/slang_background.tsv.gz: how common each everyday word is, the background against which
slang discovery (pipelines/slang.py) tells a market word from ordinary language.

Run:  .venv/bin/python tools/build_slang_background.py   (needs the generator-only package `wordfreq`; nothing at
run time imports it). tests/test_slang.py fails while the committed file is not what this script writes.

What goes in: every word of wordfreq's Russian and English lists with a Zipf frequency >= 2.5 (about
once in three million words and more common), folded as the matcher folds words (lowercase, ё -> е), letters and
inner hyphens only, at least 2 letters; a word in several lists keeps its highest value, written with one decimal.
Rarer words are left out: slang discovery treats an absent word as rare (Zipf below 2.5). The depth matters: with
the list cut at 3.0, everyday words a little rarer than that ("предзаказ", "хостинге") counted as unheard-of and
crowded the names out of the best candidates.
"""
from __future__ import annotations

import gzip
import re
import sys
from importlib import metadata
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "pipelines" / "data" / "slang_background.tsv.gz"
LANGUAGES = ("ru", "en")
MIN_ZIPF = 2.5
HEADER = "#npswatch-slang-background 1"
_WORD = re.compile(r"[^\W\d_]{2,}(?:-[^\W\d_]+)*")


def build() -> bytes:
    """The data file's bytes (gzip with a fixed mtime, so the same input gives the same bytes)."""
    from wordfreq import top_n_list, zipf_frequency

    best: dict[str, float] = {}
    for lang in LANGUAGES:
        for word in top_n_list(lang, 400_000):
            z = zipf_frequency(word, lang)
            if z < MIN_ZIPF:
                break  # the list is ordered by frequency
            w = word.lower().replace("ё", "е")
            if _WORD.fullmatch(w) and z > best.get(w, 0.0):
                best[w] = z
    lines = [f"{HEADER} wordfreq {metadata.version('wordfreq')} {' '.join(LANGUAGES)} zipf>={MIN_ZIPF}"]
    lines += [f"{w}\t{z:.1f}" for w, z in sorted(best.items())]
    return gzip.compress(("\n".join(lines) + "\n").encode("utf-8"), mtime=0)


if __name__ == "__main__":
    data = build()
    OUT.write_bytes(data)
    print(f"wrote {OUT} ({len(data):,} bytes)", file=sys.stderr)
