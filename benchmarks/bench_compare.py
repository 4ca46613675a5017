"""Extraction speed of two checkouts in one run: this one and another (e.g. a commit before a change), for the
"at least 0.8x of the figure before" kind of goal on a shared machine.

    .venv/bin/python benchmarks/bench_compare.py --base ../other-checkout [--posts 20000] [--rounds 6] [--kind mix]

Each checkout runs in its own fresh process with its own `.venv` (compiled if it was built; NPSWATCH_PURE_PYTHON=1
in the environment measures both as pure Python), on the corpus of its own `benchmarks/bench_extract.py` (the
script checks the two corpora are the same texts). The processes alternate, base then this, `--rounds` times, so
both see the same phases of the machine's load. Each process warms up, then times two passes over the posts; the
figure of a round is its better pass. Reported: CPU time (`time.process_time`, the steady figure on a loaded
machine) and wall time per post, best and median over the rounds, and the ratio of this checkout's speed to the
base's (> 1: this one is faster).

`--instructions` counts instead of timing: each checkout runs under valgrind's callgrind (a machine's load does not
change an instruction count), twice, with the same warm-up and 0 and then `--posts` posts extracted once; the
difference, divided by the posts, is the instructions per post of extraction alone (start-up and warm-up cancel).
A few thousand posts are enough (`--posts 3000 --rounds 1`): callgrind runs about 50x slower.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# Runs inside each checkout: the package is imported under its own name there (npswatch.pipelines, or the older
# top-level pipelines).
_CHILD = r"""
import hashlib, json, random, sys, time
sys.path.insert(0, ".")
from benchmarks.bench_extract import corpus
try:
    from npswatch.pipelines.extract import Extractor
    from npswatch import pipelines
except ImportError:
    from pipelines.extract import Extractor
    import pipelines
kind, n, once = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "once"
texts = corpus(kind)
random.Random(0).shuffle(texts)
posts = (texts * (max(n, 2000) // len(texts) + 1))[:max(n, 2000)]
x = Extractor.default()
for t in posts[:2000]:
    x.extract(t)
if once:  # (under callgrind: the posts once, no timing)
    offers = sum(len(x.extract(t).offers) for t in posts[:n])
    print(json.dumps({"offers": offers / max(n, 1), "compiled": pipelines.compiled_modules()}))
    sys.exit()
cpu = wall = float("inf")
offers = 0
for _ in range(2):
    offers = 0
    w0, c0 = time.perf_counter(), time.process_time()
    for t in posts:
        offers += len(x.extract(t).offers)
    cpu = min(cpu, time.process_time() - c0)
    wall = min(wall, time.perf_counter() - w0)
print(json.dumps({"cpu": cpu / n, "wall": wall / n, "offers": offers / n, "compiled": pipelines.compiled_modules(),
                  "corpus": hashlib.sha256("\x00".join(sorted(set(texts))).encode()).hexdigest()[:12]}))
"""


def _run(repo: Path, kind: str, posts: int, under: list[str] = (), once: bool = False) -> tuple[dict, str]:
    python = repo / ".venv" / "bin" / "python"
    out = subprocess.run([*under, str(python), "-c", _CHILD, kind, str(posts), "once" if once else "timed"], cwd=repo,
                         capture_output=True, text=True, env={**os.environ, "PYTHONWARNINGS": "ignore"})
    if out.returncode:
        sys.exit(f"{repo}: {out.stderr.strip().splitlines()[-1] if out.stderr.strip() else out.returncode}")
    return json.loads(out.stdout.strip().splitlines()[-1]), out.stderr


def _instructions(repo: Path, kind: str, posts: int) -> tuple[float, dict]:
    """Instructions per post of extraction in `repo` (callgrind; see the module docstring)."""
    counts = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in (0, posts):
            under = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out.%p"]
            res, err = _run(repo, kind, n, under, once=True)
            m = re.search(r"Collected : (\d+)", err)
            if m is None:
                sys.exit(f"{repo}: no instruction count from callgrind")
            counts.append(int(m.group(1)))
    return (counts[1] - counts[0]) / posts, res


def _compare_instructions(repos: dict[str, Path], kind: str, posts: int, rounds: int) -> None:
    if shutil.which("valgrind") is None:
        sys.exit("--instructions needs valgrind (apt-get install valgrind)")
    ir: dict[str, list[float]] = {"base": [], "this": []}
    for r in range(rounds):
        for name, repo in repos.items():
            per_post, res = _instructions(repo, kind, posts)
            ir[name].append(per_post)
            print(f"round {r + 1} {name}: {per_post / 1e3:8.1f} k instructions/post "
                  f"({res['offers']:.2f} offers/post; compiled: {', '.join(res['compiled']) or 'none'})", flush=True)
    b, t = statistics.median(ir["base"]), statistics.median(ir["this"])
    print(f"{kind}, {posts} posts: instructions/post base {b / 1e3:.1f}k, this {t / 1e3:.1f}k; speed ratio {b / t:.2f}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--base", type=Path, required=True, help="the other checkout (with its own .venv)")
    ap.add_argument("--posts", type=int, default=20_000)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--kind", default="mix", choices=("single", "multi", "mix"))
    ap.add_argument("--instructions", action="store_true", help="count instructions (valgrind) instead of timing")
    args = ap.parse_args()
    repos = {"base": args.base.resolve(), "this": ROOT}
    if args.instructions:
        _compare_instructions(repos, args.kind, args.posts, args.rounds)
        return
    runs: dict[str, list[dict]] = {"base": [], "this": []}
    for r in range(args.rounds):
        for name, repo in repos.items():
            res, _ = _run(repo, args.kind, args.posts)
            runs[name].append(res)
            print(f"round {r + 1} {name}: cpu {res['cpu'] * 1e6:6.1f} µs/post, wall {res['wall'] * 1e6:6.1f} µs/post",
                  flush=True)
    for name, repo in repos.items():
        first = runs[name][0]
        print(f"{name}: {repo} compiled: {', '.join(first['compiled']) or 'none'}; corpus {first['corpus']}, "
              f"{first['offers']:.2f} offers/post")
    if runs["base"][0]["corpus"] != runs["this"][0]["corpus"]:
        print("warning: the two checkouts benchmark different corpora")
    print(f"{args.kind}, {args.posts} posts, {args.rounds} alternating rounds; posts/s (µs/post):")
    for metric in ("cpu", "wall"):
        row = []
        for name in repos:
            xs = [r[metric] for r in runs[name]]
            row.append((min(xs), statistics.median(xs)))
        (bb, bm), (tb, tm) = row
        print(f"  {metric:4s} best   base {1 / bb:8,.0f} ({bb * 1e6:5.1f})  this {1 / tb:8,.0f} ({tb * 1e6:5.1f})  "
              f"ratio {bb / tb:.2f}")
        print(f"  {metric:4s} median base {1 / bm:8,.0f} ({bm * 1e6:5.1f})  this {1 / tm:8,.0f} ({tm * 1e6:5.1f})  "
              f"ratio {bm / tm:.2f}")


if __name__ == "__main__":
    main()
