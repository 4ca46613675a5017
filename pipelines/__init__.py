"""The functional core: pure functions from a post's text to normalised facts.

No I/O at call time, no database: data files are loaded once, at first use.

Speed: the extractor's hot modules (`setup.py` lists them) are compiled with Cython when the package is built.
The .py files stay the only source. A compiled module is imported only while the sha256 stamp its build left
in `_compiled.json` matches the .py beside it; otherwise, or with `NPSWATCH_PURE_PYTHON=1`, the .py itself is
imported, so an edited source is never shadowed by an old build. `compiled_modules()` says which are compiled.
"""
from __future__ import annotations

import hashlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import warnings
from pathlib import Path

_HERE = Path(__file__).resolve().parent
_STAMP = _HERE / "_compiled.json"


def _stamps() -> dict[str, str]:
    try:
        return json.loads(_STAMP.read_text())
    except (OSError, ValueError):
        return {}


class _CompiledOnlyWhenCurrent:
    """Meta-path finder for this package's own modules: the pure .py where the compiled one is stale or
    unwanted; otherwise it steps aside and the usual finder takes the extension module."""

    def __init__(self) -> None:
        self.pure = bool(os.environ.get("NPSWATCH_PURE_PYTHON"))
        self.stamps = _stamps()
        self.compiled: set[str] = set()

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__:
            return None
        source = _HERE / f"{name}.py"
        if not any((_HERE / f"{name}{suffix}").exists() for suffix in importlib.machinery.EXTENSION_SUFFIXES):
            return None
        if not self.pure and source.exists():
            if self.stamps.get(name) == hashlib.sha256(source.read_bytes()).hexdigest():
                self.compiled.add(name)
                return None  # current: the usual finder loads the compiled module
            warnings.warn(f"{fullname}: the compiled module is older than {source.name}; using the pure-Python "
                          "module (slower). Rebuild with `make build` (or: python setup.py build_ext --inplace).",
                          RuntimeWarning, stacklevel=2)
        if not source.exists():
            return None
        return importlib.util.spec_from_file_location(fullname, source)


_FINDER = _CompiledOnlyWhenCurrent()
sys.meta_path.insert(0, _FINDER)


def compiled_modules() -> list[str]:
    """The modules of this package imported so far as compiled extension modules, e.g. ['offers', 'text']."""
    return sorted(n for n in _FINDER.compiled if getattr(sys.modules.get(f"{__name__}.{n}"), "__file__", "")
                  .endswith(tuple(importlib.machinery.EXTENSION_SUFFIXES)))
