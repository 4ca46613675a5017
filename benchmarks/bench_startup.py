"""How fast the `npswatch` command starts: `--help`, and `extract` on one post with the installed lexicon and
with one twice its size. Each case runs in N fresh processes (after one untimed run that fills the extractor
cache); best and median of the wall time and of the CPU time (user + system), as hyperfine reports them. On a
shared machine the CPU time is the steadier figure.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10] [--repo PATH]

`--repo` measures another checkout's install (its `.venv/bin/npswatch`), e.g. main's for a before/after.
Budgets (issue 12): `--help` < 0.5 s, `extract` on one post < 1.5 s with the doubled lexicon.

The doubled lexicon: every `[[substance]]` entry of the installed lexicon files once more under a new key, each
alias and inflected form spelled backwards (same lengths and letters, so the automata grow as with real new
names); the package is copied to a temporary folder with it, and put first on PYTHONPATH. Every run works in an
empty folder (no configuration, no database) with a cache folder of the benchmark's own.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
POST = json.dumps({"id": 1, "text": "меф 1г 4500₽ Москва, закладки"}, ensure_ascii=False) + "\n"
BUDGET = {"help": 0.5, "extract": 1.5}


def _toml_value(v) -> str:
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k, ensure_ascii=False)} = {_toml_value(x)}" for k, x in v.items()) + "}"
    return json.dumps(v, ensure_ascii=False)  # strings and lists of strings: JSON's form is TOML's


def doubled(lexicon_toml: str, forms: dict) -> tuple[str, int]:
    """(lexicon TOML with every substance entry mirrored once, number of entries); the mirrored phrases' inflected
    forms are added to `forms` (the "forms" table of lexicon_forms.json)."""
    data = tomllib.loads(lexicon_toml)
    out = [lexicon_toml.rstrip("\n"), "", "# --- bench_startup.py: mirrored entries (synthetic) ---"]
    for entry in data.get("substance", []):
        mirror = {"key": entry["key"] + "~mirror", "class": entry["class"]}
        if entry.get("canonical"):
            mirror["canonical"] = entry["canonical"][::-1]
        for field in ("aliases", "ambiguous"):
            if entry.get(field):
                mirror[field] = {lang: [t[::-1] for t in texts] for lang, texts in entry[field].items()}
                for lang, texts in entry[field].items():
                    for t in texts:
                        known = forms.get(f"{lang}\t{t}")
                        if known:
                            forms[f"{lang}\t{t[::-1]}"] = [f[::-1] for f in known]
        for field in ("domains", "exclude_forms", "form_words"):
            if entry.get(field):
                mirror[field] = [w[::-1] for w in entry[field]] if field != "domains" else entry[field]
        out.append("[[substance]]")
        out.extend(f"{k} = {_toml_value(v)}" for k, v in mirror.items())
        out.append("")
    text = "\n".join(out)
    return text, len(tomllib.loads(text).get("substance", []))


def lexicon_files(data: Path) -> list[Path]:
    """The lexicon's TOML files (lexicon.toml, and lexicon_nps.toml and any other lexicon_*.toml)."""
    return sorted(data.glob("lexicon*.toml"))


def entries(data: Path) -> int:
    return sum(len(tomllib.loads(p.read_text(encoding="utf-8")).get("substance", [])) for p in lexicon_files(data))


def stage_doubled(repo: Path, into: Path) -> int:
    """Copy the package (the folders pyproject's package-dir maps) into `into`, with the doubled lexicon."""
    package_dir = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items()):
        shutil.copytree(repo / folder, into.joinpath(*name.split(".")), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.c"))
    data = into / "npswatch" / "pipelines" / "data"
    forms_file = json.loads((data / "lexicon_forms.json").read_text(encoding="utf-8"))
    n = 0
    for path in lexicon_files(data):
        text, count = doubled(path.read_text(encoding="utf-8"), forms_file["forms"])
        path.write_text(text, encoding="utf-8")
        n += count
    (data / "lexicon_forms.json").write_text(json.dumps(forms_file, ensure_ascii=False), encoding="utf-8")
    return n


def once(argv: list[str], env: dict, cwd: Path, stdin: str | None) -> tuple[float, float]:
    """(wall, CPU user+system) seconds of one fresh process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    done = subprocess.run(argv, input=stdin, env=env, cwd=cwd, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr[-2000:]}")
    return elapsed, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def timed(argv: list[str], env: dict, cwd: Path, stdin: str | None, runs: int) -> list[tuple[float, float]]:
    once(argv, env, cwd, stdin)  # fills the extractor cache (and the OS file cache); not counted
    return [once(argv, env, cwd, stdin) for _ in range(runs)]


def row(label: str, times: list[tuple[float, float]], note: str) -> str:
    wall, cpu = [w for w, _ in times], [c for _, c in times]
    return (f"{label:44} {min(wall):6.3f}s {statistics.median(wall):6.3f}s {min(cpu):6.3f}s "
            f"{statistics.median(cpu):6.3f}s  {note}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose .venv/bin/npswatch is measured")
    args = ap.parse_args()
    repo = args.repo.resolve()
    command = repo / ".venv" / "bin" / "npswatch"
    python = repo / ".venv" / "bin" / "python"
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        work, stage, cache = tmp / "work", tmp / "stage", tmp / "cache"
        work.mkdir()
        installed_entries = entries(repo / "pipelines" / "data")
        doubled_entries = stage_doubled(repo, stage)
        env = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_") or k == "NPSWATCH_PURE_PYTHON"}
        env |= {"NPSWATCH_CACHE_DIR": str(cache)}
        env2 = env | {"PYTHONPATH": str(stage)}
        probe = ("import sys; from npswatch.pipelines.extract import default_extractor; "
                 "from npswatch.pipelines import compiled_modules; x = default_extractor(); "
                 "print(x.matcher.form_count, ','.join(compiled_modules()) or 'none')")
        forms1, compiled = subprocess.run([python, "-c", probe], env=env, cwd=work, capture_output=True,
                                          text=True, check=True).stdout.split()
        forms2, _ = subprocess.run([python, "-c", probe], env=env2, cwd=work, capture_output=True,
                                   text=True, check=True).stdout.split()
        print(f"command: {command}  (compiled modules: {compiled}; python {sys.version.split()[0]}; "
              f"{os.cpu_count()} cores, load {os.getloadavg()[0]:.1f})")
        print(f"lexicon: {installed_entries} entries, {forms1} matcher forms; doubled: {doubled_entries} entries, "
              f"{forms2} forms")
        cases = [
            ("npswatch --help", "help", [str(command), "--help"], env, None),
            ("npswatch extract, 1 post", "extract", [str(command), "extract"], env, POST),
            ("npswatch extract, 1 post, lexicon x2", "extract", [str(command), "extract"], env2, POST),
        ]
        print(f"{'case':44} {'wall: best':>10} {'median':>7} {'CPU: best':>9} {'median':>7}  budget (wall median)")
        for label, budget, argv, e, stdin in cases:
            times = timed(argv, e, work, stdin, args.runs)
            verdict = "ok" if statistics.median(w for w, _ in times) < BUDGET[budget] else "OVER"
            print(row(label, times, f"< {BUDGET[budget]} s: {verdict}"), flush=True)
        # the first command after a lexicon change builds the extractor and writes the cache
        cold = []
        for _ in range(max(1, args.runs // 3)):
            shutil.rmtree(cache, ignore_errors=True)
            cold.append(once([str(command), "extract"], env2, work, POST))
        print(row("npswatch extract, lexicon x2, empty cache", cold, "(once per lexicon change)"))
        print(f"load average after: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU times much less)")


if __name__ == "__main__":
    main()
