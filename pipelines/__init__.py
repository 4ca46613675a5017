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

    def find_spec(self, fullname, path=None, target=None):
        package, _, name = fullname.rpartition(".")
        if package != __name__:
            return None
        source = _HERE / f"{name}.py"
        if not source.exists() or not any((_HERE / f"{name}{suffix}").exists() for suffix in _EXTENSIONS):
            return None
        if not self.pure:
            if self.stamps.get(name) == hashlib.sha256(source.read_bytes()).hexdigest():
                return None  # current: the usual finder loads the compiled module
            warnings.warn(f"{fullname}: the compiled module is older than {source.name}; using the pure-Python "
                          "module (slower). Rebuild with `make build` (or: python setup.py build_ext --inplace).",
                          RuntimeWarning, stacklevel=2)
        return importlib.util.spec_from_file_location(fullname, source)


_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)
sys.meta_path.insert(0, _CompiledOnlyWhenCurrent())


def compiled_modules() -> list[str]:
    """The modules of this package imported so far as compiled extension modules, e.g. ['offers', 'text']."""
    prefix = __name__ + "."
    return sorted(name[len(prefix):] for name, module in list(sys.modules.items())
                  if name.startswith(prefix) and (getattr(module, "__file__", None) or "").endswith(_EXTENSIONS))
