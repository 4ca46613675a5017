"""OCR speed: pictures per second through `crawlers.ocr.Ocr.read` (decode, pHash, preparation, Tesseract).

    .venv/bin/python benchmarks/bench_ocr.py [--rounds 2] [--workers 1 2] [--languages all rus+eng]

The pictures are the fixed synthetic price lists of `crawlers/fixture_market/pricelist_images.py` (Cyrillic,
Latin and Kazakh text; clean, noisy and blurred, on a photo-like background, small print), encoded as JPEG as
a channel would post them. Each configuration reads every picture `--rounds` times with `--workers` threads at
once (each read runs its own single-threaded Tesseract process, as `ImageReader` does), and prints pictures/s of
wall time, the CPU seconds per picture (this process and its Tesseract children: steadier than wall time on a
shared machine), the median seconds per picture, and the character error rate (rapidfuzz Levenshtein).
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def run(ocr, work: list, workers: int, levenshtein) -> tuple[float, list[float], list[float]]:
    """(wall seconds, seconds per picture, character error rates) of reading every picture of `work`."""
    per: list[float] = []
    errors: list[float] = []

    def one(item):
        _name, data, truth = item
        t = time.perf_counter()
        text = ocr.read(data).text
        per.append(time.perf_counter() - t)
        errors.append(levenshtein.distance(truth, text) / len(truth))

    t0 = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(one, work))
    return time.perf_counter() - t0, per, errors


def cpu_seconds() -> float:
    """CPU time of this process and its finished children (the Tesseract processes), user + system."""
    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def main() -> None:
    from rapidfuzz.distance import Levenshtein

    from npswatch.crawlers.fixture_market.pricelist_images import SPECS, encode, render
    from npswatch.crawlers.ocr import LANGUAGES, Ocr, missing

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--languages", nargs="+", default=["all", "rus+eng"],
                    help="Tesseract language sets ('all': the seven packs the config uses by default)")
    args = ap.parse_args()
    pictures = [(name, encode(render(spec)), "\n".join(spec.lines)) for name, spec in sorted(SPECS.items())]
    print(f"{len(pictures)} pictures x {args.rounds} rounds; machine: {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")
    for langs in args.languages:
        langs = "+".join(LANGUAGES) if langs == "all" else langs
        why = missing(langs)
        if why:
            raise SystemExit(f"OCR cannot run: {why}")
        ocr = Ocr(langs)
        for workers in args.workers:
            cpu0 = cpu_seconds()
            wall, per, errors = run(ocr, pictures * args.rounds, workers, Levenshtein)
            n = len(pictures) * args.rounds
            cpu = (cpu_seconds() - cpu0) / n
            print(f"{langs:34s} workers={workers}: {n / wall:5.2f} pictures/s (wall), {cpu:.2f} CPU s per picture "
                  f"({1 / cpu:.2f} pictures/s per core), median {statistics.median(per):.2f} s per picture, "
                  f"mean CER {statistics.mean(errors):.3f}, worst {max(errors):.3f}")


if __name__ == "__main__":
    main()
