"""Every third-party import is declared in pyproject.toml where it belongs, and every runtime dependency is used.

- The package (the folders pyproject's package-dir maps): runtime `dependencies`, or an extra for an optional
  feature (`web`); never only `test` or `tools`. Imports inside functions count the same as top-level ones.
- `tools/` (data generators) and `benchmarks/`: runtime, `tools` or `test`.
- `tests/`: anything declared (the `test` extra includes every other extra).
- An import guarded by `except ImportError` may also be a build requirement (Cython's pure-Python mode).
- Each runtime dependency is imported by the package, or listed below with the reason it is needed without that.
"""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from functools import lru_cache
from importlib.metadata import packages_distributions
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())
DEV_EXTRAS = {"test", "tools"}

# Runtime dependencies that the package does not import by name.
NOT_IMPORTED = {
    "psycopg": "the PostgreSQL driver: SQLAlchemy loads it for postgresql+psycopg:// URLs",
    "six": "scrapy-redis imports it without declaring it",
}


def norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(reqs: list[str]) -> set[str]:
    """Distribution names of requirement strings; `npswatch[a,b]` stands for those extras."""
    names = set()
    for req in reqs:
        name = norm(re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", req).group(0))
        extras = re.match(r"[^\[;]*\[([^\]]*)\]", req)
        if name == "npswatch" and extras:
            for extra in extras.group(1).split(","):
                names |= requirement_names(PYPROJECT["project"]["optional-dependencies"][extra.strip()])
        else:
            names.add(name)
    return names


RUNTIME = requirement_names(PYPROJECT["project"]["dependencies"])
EXTRAS = {k: requirement_names(v) for k, v in PYPROJECT["project"]["optional-dependencies"].items()}
FEATURE_EXTRAS = set().union(*(v for k, v in EXTRAS.items() if k not in DEV_EXTRAS))
BUILD = requirement_names(PYPROJECT["build-system"]["requires"])


class _Imports(ast.NodeVisitor):
    """Top-level names of absolute imports, each with whether it is guarded by `except ImportError`."""

    def __init__(self) -> None:
        self.found: list[tuple[str, int, bool]] = []
        self._guarded = 0

    def visit_Try(self, node: ast.Try) -> None:
        catches = any(h.type is None or any(isinstance(n, ast.Name) and n.id in ("ImportError", "ModuleNotFoundError")
                                            for n in ast.walk(h.type)) for h in node.handlers)
        self._guarded += catches
        for child in node.body:
            self.visit(child)
        self._guarded -= catches
        for child in node.handlers + node.orelse + node.finalbody:
            self.visit(child)

    def visit_Import(self, node: ast.Import) -> None:
        self.found += [(a.name.split(".")[0], node.lineno, self._guarded > 0) for a in node.names]

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.level == 0 and node.module:
            self.found.append((node.module.split(".")[0], node.lineno, self._guarded > 0))


def third_party_imports(folders: list[Path]) -> list[tuple[str, str, bool]]:
    """(import name, where, guarded) of every import of a module that is neither stdlib nor the project's own."""
    local = {"npswatch", "__future__"} | {p.stem for f in folders for p in f.glob("*.py")}
    out = []
    for folder in folders:
        for path in sorted(folder.rglob("*.py")):
            visitor = _Imports()
            visitor.visit(ast.parse(path.read_text(encoding="utf-8"), str(path)))
            for name, line, guarded in visitor.found:
                if name not in sys.stdlib_module_names and name not in local:
                    out.append((name, f"{path.relative_to(folder.parent)}:{line}", guarded))
    return out


@lru_cache(maxsize=1)
def _import_names() -> dict[str, list[str]]:
    return packages_distributions()


def distributions(import_name: str) -> set[str]:
    return {norm(d) for d in _import_names().get(import_name, [])}


def undeclared(folders: list[Path], allowed: set[str]) -> list[str]:
    problems = []
    for name, where, guarded in third_party_imports(folders):
        dists = distributions(name)
        ok = allowed | (BUILD if guarded else set())
        if not dists:
            if not guarded:
                problems.append(f"{where}: imports {name}, which no installed distribution provides")
        elif not dists & ok:
            problems.append(f"{where}: imports {name} ({', '.join(sorted(dists))}), not declared here")
    return problems


def package_folders() -> list[Path]:
    return [REPO / folder for folder in PYPROJECT["tool"]["setuptools"]["package-dir"].values()]


def test_the_package_imports_only_runtime_and_feature_dependencies():
    problems = undeclared(package_folders(), RUNTIME | FEATURE_EXTRAS)
    assert not problems, "\n".join(problems)


def test_tools_and_benchmarks_import_only_declared_dependencies():
    problems = undeclared([REPO / "tools", REPO / "benchmarks"], RUNTIME | EXTRAS["tools"] | EXTRAS["test"])
    assert not problems, "\n".join(problems)


def test_tests_import_only_declared_dependencies():
    problems = undeclared([REPO / "tests"], RUNTIME | set().union(*EXTRAS.values()))
    assert not problems, "\n".join(problems)


def test_each_runtime_dependency_is_imported_by_the_package():
    used = set().union(*(distributions(name) for name, _, _ in third_party_imports(package_folders())))
    unused = sorted(RUNTIME - used - set(NOT_IMPORTED))
    assert not unused, f"runtime dependencies the package never imports (move them to an extra): {unused}"


def test_the_test_extra_installs_every_other_extra():
    assert set().union(*(v for k, v in EXTRAS.items() if k != "test")) <= EXTRAS["test"]


def test_the_checker_sees_lazy_and_guarded_imports(tmp_path):
    (tmp_path / "m.py").write_text("import os\ntry:\n    import cython\nexcept ImportError:\n    cython = None\n"
                                   "def f():\n    from rapidfuzz import fuzz\n    import m\n")
    found = [(n, g) for n, _, g in third_party_imports([tmp_path])]
    assert found == [("cython", True), ("rapidfuzz", False)]
