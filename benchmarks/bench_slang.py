"""Slang discovery on the real corpus, over many draws: how many taken-out aliases come back among the best 50.

    NPSWATCH_PURE_PYTHON=1 .venv/bin/python benchmarks/bench_slang.py [--seeds 1-10] [--top 50] [-v]

tests/test_slang.py measures one draw (seed 11, its list kept in the test). One draw of 20 from a pool of 45 says
little about a change, so this script repeats the measurement for other seeds: for each, 20 words drawn with
`random.Random(seed).sample(POOL, 20)` are taken out of the lexicon for good (`lexicon.without_names`: no
inflection of another alias and no fuzzy transliteration still knows them), discovery runs over
../shared/real/matanga-dev.jsonl, and the script prints how many of the 20 are in the top 50, then the mean and
range over the seeds. `-v` prints each taken-out word's rank.

POOL is the rule of the test applied once, with the lexicon of 2026-12-03 (the day the test's list was drawn):
the single-word aliases that occur as a word in at least two listings of the corpus, sorted. It is kept as a
list, like the test's: the lexicon grows, the measurement stays the same.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

POOL = ["alfa", "bud", "buds", "cocaine", "coke", "ecstasy", "ganja", "gashish", "geroin", "hash", "hashish",
        "heroin", "ice", "ketamine", "kush", "lsd", "marijuana", "mdma", "mephedrone", "metadon", "methadone",
        "opium", "pvp", "skunk", "snow", "speed", "subutex", "thc", "weed", "амфетамин", "бошки", "гашиш",
        "кетамин", "кокаин", "кристаллы", "лсд", "марихуана", "марки", "мдма", "метадон", "метамфетамин", "меф",
        "сатива", "тгк", "шишки"]


def corpus_path() -> Path:
    sys.path.insert(0, str(ROOT / "tests"))
    from real_pages import shared_real  # finds ../shared next to this checkout or the main one

    real = shared_real()
    if real is None or not (real / "matanga-dev.jsonl").exists():
        sys.exit("real corpus not found: expected ../shared/real/matanga-dev.jsonl or NPSWATCH_SHARED")
    return real / "matanga-dev.jsonl"


def seeds_of(spec: str) -> list[int]:
    out = []
    for part in spec.split(","):
        a, _, b = part.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", default="1-10", help="seeds, e.g. 1-10 or 11 or 1,3,5")
    ap.add_argument("--top", type=int, default=50)
    ap.add_argument("-v", action="store_true", help="print each taken-out word's rank")
    args = ap.parse_args()

    from npswatch.pipelines.lexicon import load_lexicon, without_names
    from npswatch.pipelines.regions import Gazetteer
    from npswatch.pipelines.substances import SubstanceMatcher
    from npswatch.reports.slang import count_posts, rank

    texts = [json.loads(line)["text"] for line in corpus_path().open(encoding="utf-8")]
    lexicon, gazetteer = load_lexicon(), Gazetteer.default()
    figures = []
    for seed in seeds_of(args.seeds):
        removed = random.Random(seed).sample(POOL, 20)
        matcher = SubstanceMatcher(without_names(lexicon, removed))
        ranked = rank(count_posts(((t, None) for t in texts), matcher, gazetteer), matcher)
        position = {s.word: i for i, s in enumerate(ranked)}
        found = sorted(w for w in removed if position.get(w, args.top) < args.top)
        figures.append(len(found))
        print(f"seed {seed:3}: {len(found):2} of 20 in the top {args.top}")
        if args.v:
            print("    " + ", ".join(f"{w} {position.get(w, '-')}" for w in sorted(removed)))
    print(f"mean {sum(figures) / len(figures):.1f}, range {min(figures)}-{max(figures)} over {len(figures)} seeds")


if __name__ == "__main__":
    main()
