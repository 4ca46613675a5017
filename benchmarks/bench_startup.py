"""How fast the `npswatch` command starts: `--help`, and `extract` on one post with the installed lexicon and
with one twice its size. Each case runs in N fresh processes (after one untimed run that fills the extractor
cache); best and median of the wall time and of the CPU time (user + system), as hyperfine reports them. On a
shared machine the CPU time is the steadier figure.

    .venv/bin/python benchmarks/bench_startup.py [--runs 10] [--repo PATH] [--before DIR]

`--repo` measures another checkout's install (its `.venv/bin/npswatch`). `--before DIR` measures an older
checkout in the same run, alternating with this one case by case (`git archive REV | tar -x -C DIR`).
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
    return (f"{label:52} {min(wall):6.3f}s {statistics.median(wall):6.3f}s {min(cpu):6.3f}s "
            f"{statistics.median(cpu):6.3f}s  {note}")


def stage(repo: Path, into: Path) -> None:
    """Copy the package (the folders pyproject's package-dir maps) into `into`, laid out as installed."""
    package_dir = tomllib.loads((repo / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    for name, folder in sorted(package_dir.items()):
        shutil.copytree(repo / folder, into.joinpath(*name.split(".")), dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns("__pycache__", "*.c"))


def stage_doubled(repo: Path, into: Path) -> int:
    """`stage()` with the doubled lexicon; returns its number of entries."""
    stage(repo, into)
    data = into / "npswatch" / "pipelines" / "data"
    forms_file = json.loads((data / "lexicon_forms.json").read_text(encoding="utf-8"))
    n = 0
    for path in lexicon_files(data):
        text, count = doubled(path.read_text(encoding="utf-8"), forms_file["forms"])
        path.write_text(text, encoding="utf-8")
        n += count
    (data / "lexicon_forms.json").write_text(json.dumps(forms_file, ensure_ascii=False), encoding="utf-8")
    return n


class Target:
    """One npswatch to measure: this checkout's installed command, or another checkout (e.g. an export of an older
    commit) run from a staged copy as `python -m npswatch` with this interpreter's libraries."""

    def __init__(self, name: str, repo: Path, tmp: Path, installed: bool) -> None:
        self.name, self.repo = name, repo
        base = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_") or k == "NPSWATCH_PURE_PYTHON"}
        base |= {"NPSWATCH_CACHE_DIR": str(tmp / f"cache-{name}")}
        self.cache = tmp / f"cache-{name}"
        self.doubled_entries = stage_doubled(repo, tmp / f"x2-{name}")
        if installed:
            self.argv = [str(repo / ".venv" / "bin" / "npswatch")]
            self.python = str(repo / ".venv" / "bin" / "python")
            self.env = base
        else:
            stage(repo, tmp / f"x1-{name}")
            self.argv = [sys.executable, "-m", "npswatch"]
            self.python = sys.executable
            self.env = base | {"PYTHONPATH": str(tmp / f"x1-{name}")}
        self.env2 = base | {"PYTHONPATH": str(tmp / f"x2-{name}")}

    def describe(self, work: Path) -> str:
        probe = ("from npswatch.pipelines.extract import default_extractor; "
                 "from npswatch.pipelines import compiled_modules; x = default_extractor(); "
                 "print(x.matcher.form_count, ','.join(compiled_modules()) or 'none')")
        forms1, compiled = subprocess.run([self.python, "-c", probe], env=self.env, cwd=work, capture_output=True,
                                          text=True, check=True).stdout.split()
        forms2, _ = subprocess.run([self.python, "-c", probe], env=self.env2, cwd=work, capture_output=True,
                                   text=True, check=True).stdout.split()
        return (f"{self.name}: {' '.join(self.argv)} from {self.repo}; compiled modules: {compiled}; lexicon "
                f"{entries(self.repo / 'pipelines' / 'data')} entries, {forms1} matcher forms; doubled: "
                f"{self.doubled_entries} entries, {forms2} forms")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--repo", type=Path, default=REPO, help="the checkout whose .venv/bin/npswatch is measured")
    ap.add_argument("--before", type=Path, help="another checkout (no venv needed) measured in the same run, "
                    "each case alternating with this one: `git archive REV | tar -x -C DIR` makes one")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-startup-") as tmp:
        tmp = Path(tmp)
        work = tmp / "work"
        work.mkdir()
        targets = [Target("after", args.repo.resolve(), tmp, installed=True)]
        if args.before:
            targets.insert(0, Target("before", args.before.resolve(), tmp, installed=False))
        print(f"python {sys.version.split()[0]}; {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}")
        for t in targets:
            print(t.describe(work))
        cases = [("npswatch --help", "help", ["--help"], False, None),
                 ("npswatch extract, 1 post", "extract", ["extract"], False, POST),
                 ("npswatch extract, 1 post, lexicon x2", "extract", ["extract"], True, POST)]
        print(f"{'case':52} {'wall: best':>10} {'median':>7} {'CPU: best':>9} {'median':>7}  budget (wall median)")
        for label, budget, extra, x2, stdin in cases:
            times: dict[str, list] = {t.name: [] for t in targets}
            for t in targets:
                once(t.argv + extra, t.env2 if x2 else t.env, work, stdin)  # fills the cache; not counted
            for _ in range(args.runs):
                for t in targets:
                    times[t.name].append(once(t.argv + extra, t.env2 if x2 else t.env, work, stdin))
            for t in targets:
                verdict = "ok" if statistics.median(w for w, _ in times[t.name]) < BUDGET[budget] else "OVER"
                name = f"{label} ({t.name})" if len(targets) > 1 else label
                print(row(name, times[t.name], f"< {BUDGET[budget]} s: {verdict}"), flush=True)
        # the first command after a lexicon change builds the extractor and writes the cache
        for t in targets:
            cold = []
            for _ in range(max(1, args.runs // 3)):
                shutil.rmtree(t.cache, ignore_errors=True)
                cold.append(once(t.argv + ["extract"], t.env2, work, POST))
            name = "npswatch extract, lexicon x2, empty cache" + (f" ({t.name})" if len(targets) > 1 else "")
            print(row(name, cold, "(once per lexicon change)"))
        print(f"load average after: {os.getloadavg()[0]:.1f} (wall times grow with it; CPU times much less)")


if __name__ == "__main__":
    main()
