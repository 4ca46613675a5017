"""Build step for the extractor's hot modules: compiled with Cython when the package is installed.

Everything else about the package is in pyproject.toml. The modules listed in `COMPILED` are plain Python
(Cython's "pure Python mode": a few `cython.*` type annotations on hot loops, which Python never evaluates);
compiling them is only about speed (benchmarks/bench_extract.py). The build is optional:

- `NPSWATCH_PURE_PYTHON=1` at build time skips it, at run time ignores modules already built;
- a machine without a C compiler, or a module that fails to compile, gets a warning and the pure module.

Each compiled module is stamped with the sha256 of the source it came from (`pipelines/_compiled.json`);
`pipelines/__init__.py` loads a compiled module only while its stamp matches the .py beside it, so an edited
source is never shadowed by an old build (`make` rebuilds: `python setup.py build_ext --inplace`).
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

ROOT = Path(__file__).resolve().parent
# The extraction hot path, in the order a post goes through it. (facts.py stays Python: its dataclasses are
# what storage and reports import and pickle.)
COMPILED = ["text", "fuzzy", "substances", "offers", "candidates", "regions", "places", "extract"]
STAMP = "_compiled.json"

DIRECTIVES = {
    "language_level": 3,
    "binding": True,  # functions keep their signatures and docstrings: doctests and inspect work
    "embedsignature": True,
    # (boundscheck and wraparound stay on: typed str indexing keeps Python's checks and negative indexes)
    "cdivision": False,  # Python semantics for // and % (negative operands)
}


def _source_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


_HASHES: dict[str, str] = {}
# gcc and clang warn about Cython's generated code (unused helpers, maybe-uninitialized temporaries): noise
_QUIET = ["-Wno-unused-function", "-Wno-maybe-uninitialized", "-Wno-unreachable-code"] if os.name == "posix" else []


def _extensions() -> list[Extension]:
    if os.environ.get("NPSWATCH_PURE_PYTHON"):
        print("npswatch: NPSWATCH_PURE_PYTHON is set: the pipelines stay pure Python", file=sys.stderr)
        return []
    try:
        from Cython.Build import cythonize
    except ImportError:
        print("npswatch: Cython is not installed: the pipelines stay pure Python (slower)", file=sys.stderr)
        return []
    exts = []
    for name in COMPILED:
        src = Path("pipelines") / f"{name}.py"
        _HASHES[name] = _source_hash(ROOT / src)  # of the source that is translated to C now
        exts.append(Extension(f"npswatch.pipelines.{name}", [str(src)], extra_compile_args=_QUIET))
    return cythonize(exts, compiler_directives=DIRECTIVES, build_dir="build/cython", quiet=True,
                     nthreads=os.cpu_count() or 1)


class OptionalBuildExt(build_ext):
    """build_ext that never fails the install: a module that does not compile stays pure Python."""

    def finalize_options(self) -> None:
        super().finalize_options()
        if self.parallel is None:
            self.parallel = os.cpu_count() or 1
        self._stamps: dict[str, str] = {}

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:  # noqa: BLE001 - no compiler, no Python headers ...
            print(f"npswatch: compiling the pipelines failed ({exc}); they stay pure Python", file=sys.stderr)
        self._write_stamp()

    def build_extension(self, ext: Extension) -> None:
        target = Path(self.get_ext_fullpath(ext.name))
        if target.exists() and (self.force or any(os.path.getmtime(s) > target.stat().st_mtime
                                                  for s in ext.sources)):
            target.unlink()  # an old build of an edited source must not survive a failed rebuild
        try:
            super().build_extension(ext)
        except Exception as exc:  # noqa: BLE001
            print(f"npswatch: {ext.name} did not compile ({exc}); it stays pure Python", file=sys.stderr)
            return
        # (several extensions may build in parallel threads: one dict assignment each is safe)
        name = ext.name.rsplit(".", 1)[1]
        self._stamps[name] = _HASHES.get(name, "")

    def _write_stamp(self) -> None:
        folder = Path(self.get_ext_fullpath("npswatch.pipelines.x")).parent
        path = folder / STAMP
        stamps = {}
        if path.exists():
            try:
                stamps = json.loads(path.read_text())
            except ValueError:
                stamps = {}
        stamps.update(self._stamps)
        folder.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stamps, indent=1, sort_keys=True) + "\n")


setup(ext_modules=_extensions(), cmdclass={"build_ext": OptionalBuildExt})
