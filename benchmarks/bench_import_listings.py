"""`npswatch import-listings` on a generated history: speed and peak memory against the file size.

    .venv/bin/python benchmarks/bench_import_listings.py [--mb 1024] [--listings 1000] [--limit-mb 500]

Writes a synthetic CSV history of about `--mb` megabytes (`crawlers/fixture_market/history.py`, streamed to
disk, whole snapshots only) and imports it with the real command, `npswatch import-listings`, in a child
process into a fresh SQLite database, extraction on, with the command's progress bar (rich). Reports rows and
snapshots per second, MB per second, and the child's peak resident memory (ru_maxrss); the exit code is 1 when
the peak exceeds `--limit-mb`. Give `--mb` twice (`--mb 100 --mb 1024`) to see memory stay flat as the file
grows.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_history(path: Path, mb: float, listings: int, description: int) -> tuple[int, int]:
    """A CSV of whole snapshots of about `mb` megabytes: (rows, snapshots)."""
    from npswatch.crawlers.fixture_market.history import COLUMNS, History, HistorySpec

    target = int(mb * 1024 * 1024)
    row_bytes = description + 120
    snapshots = target // (row_bytes * listings) + 2
    spec = HistorySpec(listings=listings, snapshots=snapshots, seed=16, step_hours=6.0, gaps=10,
                       vanished=listings // 20, returning=listings // 10, late=listings // 10,
                       description_chars=description)
    rows = stamps = 0
    last = None
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, COLUMNS)
        w.writeheader()
        for row in History(spec).rows():
            if row["scraped_at"] != last:
                if fh.tell() >= target:
                    break
                last, stamps = row["scraped_at"], stamps + 1
            w.writerow(row)
            rows += 1
    return rows, stamps


def run_import(folder: Path, data: Path, mapping: Path) -> tuple[dict, float, float]:
    """(the command's result, seconds, the child's peak RSS in MB)."""
    cfg = folder / "npswatch.toml"
    cfg.write_text(f'data_dir = "{folder / "data"}"\n')
    npswatch = [sys.executable, "-m", "npswatch", "--config", str(cfg)]
    subprocess.run(npswatch + ["db", "upgrade"], check=True, stdout=subprocess.DEVNULL)
    out = folder / "result.json"
    start = time.perf_counter()
    child = subprocess.Popen(npswatch + ["--result-file", str(out), "import-listings", str(data), "--map",
                                         str(mapping)], env={**os.environ, "COLUMNS": "110"})
    _pid, status, usage = os.wait4(child.pid, 0)  # this child's own peak, not the other children's
    child.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - start
    if child.returncode:
        raise SystemExit(f"import-listings failed (exit {child.returncode})")
    return json.loads(out.read_text()), seconds, usage.ru_maxrss / 1024  # kB on Linux


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mb", type=float, action="append", help="history size in MB (repeatable; default 1024)")
    ap.add_argument("--listings", type=int, default=1000, help="listings on the market")
    ap.add_argument("--description", type=int, default=1500, help="characters of each listing's free text")
    ap.add_argument("--limit-mb", type=float, default=500.0, help="fail when the import's peak RSS exceeds this")
    ap.add_argument("--dir", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    args = ap.parse_args()
    from npswatch.crawlers.fixture_market.history import MAPPING_TOML

    worst = 0.0
    for mb in args.mb or [1024.0]:
        with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
            folder = Path(tmp)
            data = folder / "history.csv"
            t = time.perf_counter()
            rows, snaps = write_history(data, mb, args.listings, args.description)
            size = data.stat().st_size / 1024 / 1024
            print(f"generated {size:,.0f} MB: {rows:,} rows, {snaps:,} snapshots of {args.listings} listings "
                  f"({time.perf_counter() - t:,.0f} s)", flush=True)
            mapping = folder / "map.toml"
            mapping.write_text(MAPPING_TOML.format(source="bench-market.test", complete="true"))
            result, seconds, peak = run_import(folder, data, mapping)
            worst = max(worst, peak)
            print(f"{size:,.0f} MB, {result['rows']:,} rows, {result['snapshots']:,} snapshots in {seconds:,.0f} s: "
                  f"{result['rows'] / seconds:,.0f} rows/s, {result['snapshots'] / seconds:,.1f} snapshots/s, "
                  f"{size / seconds:,.2f} MB/s; peak memory {peak:,.0f} MB "
                  f"(observations {result['observed']['observed']:,}, bad rows {result['bad_rows']})", flush=True)
    return 1 if worst > args.limit_mb else 0


if __name__ == "__main__":
    sys.exit(main())
