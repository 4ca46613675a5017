"""Telegram Desktop import against `npswatch extract` over the same texts, in one run (issue 15, item 8).

    .venv/bin/python benchmarks/bench_import_vs_extract.py [--messages 100000] [--texts market|synthetic]
        [--baseline-python ../main/.venv/bin/python] [--rounds 3] [--profile FILE]

Writes a synthetic single-channel export of `--messages` market posts and chatter (the extraction benchmark's mix:
the labelled set's texts, the fixture market's listings, ordinary chatter, multi-listing price lists), and the
same texts as JSON Lines. Then runs, each as its own `npswatch` process with a fresh SQLite data folder and
`telegram.ocr = false` (the issue's terms: with OCR on, a machine without Tesseract still loads pytesseract and
pandas to find that out, a second of start-up):

- `npswatch extract texts.jsonl > /dev/null` (the extractor alone: the floor an import can reach);
- `npswatch import-telegram result.json` (reading, pseudonymising, extracting and storing everything).

Reports CPU seconds (the child's user + system time: on a machine shared with other work, wall time measures the
others' load too; wall seconds are printed beside), messages/s and peak resident memory (the child's ru_maxrss)
of each, and the ratio import speed / extract speed; the issue's goal is >= 0.6 with OCR off. On a machine shared
with other work one run's CPU time drifts by a fifth between runs: `--rounds N` runs extract, before and import N
times, alternating, and reports each one's median. `--profile FILE` also writes a cProfile
of the import (in-process, same data) for `python -m pstats FILE`.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

CHANNEL_ID = 1_500_000_002


def texts(n: int, kind: str = "market") -> list[str]:
    """"market": the extraction benchmark's mix; "synthetic": bench_telegram_import's short placeholder posts
    (little for the extractor to find, so the import's own work weighs most)."""
    if kind == "synthetic":
        from bench_telegram_import import message

        rng = random.Random(7)
        return [message(rng, i) for i in range(1, n + 1)]
    from bench_extract import corpus

    mix = corpus("mix")
    random.Random(3).shuffle(mix)
    return (mix * (n // len(mix) + 1))[:n]


def write_inputs(folder: Path, n: int, kind: str = "market") -> tuple[Path, Path]:
    export, jsonl = folder / "result.json", folder / "texts.jsonl"
    with open(export, "w", encoding="utf-8") as f, open(jsonl, "w", encoding="utf-8") as j:
        f.write('{\n "name": "Synthetic Channel 02",\n "type": "public_channel",\n'
                f' "id": {CHANNEL_ID},\n "messages": [\n')
        for i, text in enumerate(texts(n, kind), 1):
            t = 1_700_000_000 + i * 60
            posted = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t))
            m = {"id": i, "type": "message", "date": posted, "date_unixtime": str(t), "from": "Synthetic Channel 02",
                 "from_id": f"channel{CHANNEL_ID}", "text": text,
                 "text_entities": [{"type": "plain", "text": text}]}
            f.write(("  " if i == 1 else ",\n  ") + json.dumps(m, ensure_ascii=False))
            j.write(json.dumps({"id": str(i), "text": text, "posted_at": posted + "+00:00"}, ensure_ascii=False) + "\n")
        f.write("\n ]\n}\n")
    return export, jsonl


def config(data: Path) -> Path:
    """A config file whose data folder (SQLite database, privacy key) is `data`, OCR off (the issue's terms)."""
    data.mkdir(parents=True, exist_ok=True)
    path = data / "npswatch.toml"
    path.write_text(f'data_dir = "{data}"\n\n[telegram]\nocr = false\n', encoding="utf-8")
    return path


def run(args: list[str], data: Path, python: str = sys.executable) -> tuple[float, float, float]:
    """(CPU seconds, wall seconds, peak MB) of one `npswatch` process (of the checkout `python` runs) with its own
    data folder."""
    env = dict(os.environ, NPSWATCH_CONFIG=str(config(data)))
    t0 = time.perf_counter()
    p = subprocess.Popen([python, "-m", "npswatch", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         cwd=data)
    _, status, usage = os.wait4(p.pid, 0)
    secs = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    err = p.stderr.read().decode(errors="replace")
    if p.returncode:
        raise SystemExit(f"npswatch {' '.join(args)} failed ({p.returncode}):\n{err[-2000:]}")
    return usage.ru_utime + usage.ru_stime, secs, usage.ru_maxrss / 1024


def profile(export: Path, data: Path, out: str) -> None:
    import cProfile

    from npswatch.watch import Watch

    w = Watch(config(data))
    w.checked_engine()
    w.extractor(w.engine)
    cProfile.runctx("w.import_telegram(export)", globals(), {"w": w, "export": export}, out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--messages", type=int, default=100_000)
    ap.add_argument("--texts", choices=["market", "synthetic"], default="market",
                    help="market: the extraction benchmark's mix (default); synthetic: short placeholder posts")
    ap.add_argument("--profile", help="also write a cProfile of the import to this file")
    ap.add_argument("--baseline-python", help="also import with this interpreter (another checkout's venv, e.g. the "
                    "main branch's): the before figure, from the same run")
    ap.add_argument("--rounds", type=int, default=1, help="run extract, before and import this many times, "
                    "alternating, and report each one's median (the machine's speed drifts between runs)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        export, jsonl = write_inputs(folder, args.messages, args.texts)
        print(f"{args.messages} messages ({args.texts} texts); export {export.stat().st_size / 2**20:.0f} MB"
              + (f"; medians of {args.rounds} alternating rounds" if args.rounds > 1 else ""))
        n = args.messages
        runs: dict[str, list[tuple[float, float, float]]] = {"extract": [], "before": [], "import": []}
        for r in range(args.rounds):
            for name in runs:
                if name == "before" and not args.baseline_python:
                    continue
                python = args.baseline_python if name == "before" else sys.executable
                data = folder / f"{name}{r}"
                run(["db", "upgrade"], data, python)  # the schema, outside the timings
                cmd = ["extract", str(jsonl)] if name == "extract" else ["import-telegram", str(export)]
                runs[name].append(run(cmd, data, python))

        def median(name: str) -> tuple[float, float, float]:
            rows = sorted(runs[name])
            return rows[len(rows) // 2]

        ex_s, ex_w, ex_mb = median("extract")
        print(f"extract:         {ex_s:6.1f} s CPU = {n / ex_s:7.0f} msg/s ({ex_w:.1f} s wall), peak {ex_mb:.0f} MB")
        if args.baseline_python:
            b_s, b_w, b_mb = median("before")
            print(f"import (before): {b_s:6.1f} s CPU = {n / b_s:7.0f} msg/s ({b_w:.1f} s wall), peak {b_mb:.0f} MB; "
                  f"{ex_s / b_s:.2f}x extract's speed")
        im_s, im_w, im_mb = median("import")
        print(f"import:          {im_s:6.1f} s CPU = {n / im_s:7.0f} msg/s ({im_w:.1f} s wall), peak {im_mb:.0f} MB; "
              f"{ex_s / im_s:.2f}x extract's speed  [goal >= 0.6x]")
        if args.rounds > 1:
            for name, rows in runs.items():
                if rows:
                    print(f"  {name:8s} CPU s per round: " + ", ".join(f"{s:.1f}" for s, _, _ in rows))
        if args.profile:
            run(["db", "upgrade"], folder / "profile")
            profile(export, folder / "profile", args.profile)
            print(f"profile written to {args.profile}")


if __name__ == "__main__":
    main()
