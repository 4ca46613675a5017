"""Extraction speed, load time and memory: the figures reported in README.

    .venv/bin/python benchmarks/bench_extract.py [--posts 50000] [--runs 5]      (or: make bench)

The hot modules run compiled when the package was built with Cython (setup.py; the first line printed says which);
NPSWATCH_PURE_PYTHON=1 measures the pure-Python modules instead. Each figure is the best of `--runs` passes: this
machine is shared, and the best pass is the one least disturbed by others.

The mix: the labelled test set's texts, the fixture market's listings and ordinary chatter without drugs
(most channel messages are), half of them joined into multi-listing posts of 2-6 lines (mean length
about 170 characters), shuffled with a fixed seed. One core, one process.
"""
from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CHATTER = [
    "Всем привет! Сегодня работаем до 22:00, пишите оператору.",
    "Отзывы в канале, спасибо что вы с нами ❤️",
    "Погода в городе отличная, всем хорошего дня",
    "Скидки на выходных, следите за обновлениями",
    "Technical break until tomorrow morning, stay tuned",
    "Курьеры нужны, зарплата от 150 000₽ в неделю, опыт не нужен",
    "Фен для волос 2000 Вт, 3500₽, доставка по городу",
    "Соль поваренная йодированная, 1 кг - 35 руб",
]


def corpus(kind: str = "mix") -> list[str]:
    """kind: "single" (one listing or message per post), "multi" (2-6 listings joined), "mix" (both)."""
    texts: list[str] = []
    labelled = ROOT / "tests" / "data" / "labelled.jsonl"
    if labelled.exists():
        texts += [json.loads(l)["text"] for l in labelled.read_text(encoding="utf-8").splitlines() if l.strip()]
    try:
        from npswatch.crawlers.fixture_market import build_market

        texts += [l.text for l in build_market().listings]
    except Exception as exc:  # noqa: BLE001
        print(f"(fixture market not available: {exc})")
    # about a quarter ordinary chatter: most channel messages name no drug at all
    singles = texts + CHATTER * max(1, len(texts) // (3 * len(CHATTER)))
    # channel posts are often several listings in one message: join 2-6 of them into price-list posts
    rng = random.Random(1)
    combined = ["\n".join(rng.sample(singles, rng.randint(2, 6))) for _ in range(len(singles))]
    return {"single": singles, "multi": combined, "mix": singles + combined}[kind]


def load_time() -> float:
    code = ("import time; t=time.perf_counter(); from pipelines.extract import Extractor; Extractor.default(); "
            "print(time.perf_counter()-t)")
    runs = [float(subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout) for _ in range(3)]
    return min(runs)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--posts", type=int, default=50_000)
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    lt = load_time()
    from npswatch import pipelines
    from npswatch.pipelines.extract import Extractor

    x = Extractor.default()
    print(f"compiled modules: {', '.join(pipelines.compiled_modules()) or 'none (pure Python)'}")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    for kind in ("single", "multi", "mix"):
        texts = corpus(kind)
        random.Random(0).shuffle(texts)
        posts = (texts * (args.posts // len(texts) + 1))[: args.posts]
        avg_len = sum(map(len, posts)) / len(posts)
        for t in posts[:2000]:  # warm caches
            x.extract(t)
        best = 0.0
        for _ in range(args.runs):
            t0 = time.perf_counter()
            offers = 0
            for t in posts:
                offers += len(x.extract(t).offers)
            dt = time.perf_counter() - t0
            best = max(best, len(posts) / dt)
        print(f"{kind:6s}: {best:8,.0f} posts/s ({1e6 / best:5.1f} µs/post), {len(texts)} distinct texts, "
              f"mean {avg_len:.0f} chars, {offers / len(posts):.2f} offers/post")
    rss_mb = max(rss_mb, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print("goal: >= 20,000 posts/s on one core")
    print(f"load time: {lt:.2f} s  [goal < 1.5 s]")
    print(f"resident memory after load and run: {rss_mb:.0f} MB  [goal < 300 MB]")


if __name__ == "__main__":
    main()
