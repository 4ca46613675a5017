"""The package's import graph: no import circles, and each layer imports only the layers below it.

The graph is grimp's, built from the sources, and no import is ignored. Circles are looked for among the imports
that run: top-level and inside functions (lazy); an import under `if TYPE_CHECKING:` never runs, so a use-case
module may name the `Watch` type that calls it. Layers hold for every import, `TYPE_CHECKING` ones too: a lower
layer does not even name a higher one's types. The layers, lowest first (a module may import its own layer and
the ones below):

    pipelines  <  storage  <  crawlers | reports  <  application  <  scheduler | web app  <  CLI

Layers joined by `|` are independent of each other. The application layer is every module of the `npswatch/`
folder that is not the CLI or a web app (configuration, `Watch`, the use-cases, `npswatch` itself). The
scheduler is `npswatch.scheduler` (it starts jobs as child processes, never through the CLI's code); a web app
would be `npswatch.web*`; the CLI is `npswatch.cli` and its modules and `npswatch.__main__`, which may start the
scheduler's service.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

pytest.importorskip("grimp")

_DUMP = """
import json, sys, grimp
out = {}
for kind, exclude in (("all", False), ("runtime", True)):
    g = grimp.build_graph("npswatch", cache_dir=None, exclude_type_checking_imports=exclude)
    edges = out[kind] = {}
    for m in sorted(g.modules):
        edges[m] = {}
        for i in sorted(g.find_modules_directly_imported_by(m)):
            d = g.get_import_details(importer=m, imported=i)
            edges[m][i] = d[0]["line_number"] if d else 0
json.dump(out, sys.stdout)
"""


@pytest.fixture(scope="module")
def graph(tmp_path_factory) -> dict[str, dict[str, dict[str, int]]]:
    """{"all" | "runtime": {importer: {imported: line}}} over every module of the installed package, laid out
    from pyproject's package-dir (the folders are subpackages of `npswatch` only once installed, so grimp reads
    a copy). "runtime" leaves out the imports under `if TYPE_CHECKING:`."""
    package_dir = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-dir"]
    root = tmp_path_factory.mktemp("layout")
    keep = lambda d, names: [n for n in names if not n.endswith(".py") and not os.path.isdir(os.path.join(d, n))]
    for name, folder in sorted(package_dir.items()):  # "npswatch" first, then its subpackages
        shutil.copytree(REPO / folder, root.joinpath(*name.split(".")), ignore=keep, dirs_exist_ok=True)
    run = subprocess.run([sys.executable, "-c", _DUMP], cwd=root, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    edges = json.loads(run.stdout)
    assert {"npswatch.pipelines.extract", "npswatch.storage.db", "npswatch.reports.trends", "npswatch.cli.app",
            "npswatch.watch"} <= set(edges["all"]) == set(edges["runtime"])
    return edges


def circles(edges: dict[str, dict[str, int]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges.get(start, {}))))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(edges.get(child, {})))))
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
    return found


def layer(module: str) -> tuple[int, str] | None:
    """(rank, group) of a project module, None for a third-party one. Same rank, different group: independent."""
    parts = module.split(".")
    if parts[0] != "npswatch":
        return None
    sub = parts[1] if len(parts) > 1 else ""
    if sub == "pipelines":
        return 0, sub
    if sub == "storage":
        return 1, sub
    if sub in ("crawlers", "reports"):
        return 2, sub
    if sub == "scheduler":
        return 4, sub
    if sub.startswith("web"):
        return 4, "web"
    if sub in ("__main__", "cli") or sub.startswith("cli_"):
        return 5, "cli"
    return 3, "application"


def layer_breaks(edges: dict[str, dict[str, int]]) -> set[tuple[str, str]]:
    breaks = set()
    for importer, imported in edges.items():
        low = layer(importer)
        if low is None:
            continue
        for target in imported:
            high = layer(target)
            if high is not None and (high[0] > low[0] or (high[0] == low[0] and high[1] != low[1])):
                breaks.add((importer, target))
    return breaks


def test_the_layer_rules_classify_the_package_as_the_docstring_says():
    assert layer("npswatch.pipelines.text") == (0, "pipelines")
    assert layer("npswatch.storage.migrations.env") == (1, "storage")
    assert layer("npswatch.crawlers.telegram.offline") == (2, "crawlers")
    assert layer("npswatch") == layer("npswatch.config") == (3, "application")
    assert layer("npswatch.scheduler.jobs") == (4, "scheduler") and layer("npswatch.webapp") == (4, "web")
    assert layer("npswatch.cli.app") == layer("npswatch.cli_web") == layer("npswatch.__main__") == (5, "cli")
    assert layer("sqlalchemy.orm") is None
    edges = {"npswatch.storage.db": {"npswatch.reports.trends": 3, "sqlalchemy": 1},
             "npswatch.crawlers.jobs": {"npswatch.reports.scope": 5, "npswatch.storage.db": 2},
             "npswatch.reports.trends": {"npswatch.storage.db": 1},
             "npswatch.scheduler.jobs": {"npswatch.cli.app": 7, "npswatch.watch": 2},
             "npswatch.cli.ops": {"npswatch.scheduler.service": 3}}
    assert layer_breaks(edges) == {("npswatch.storage.db", "npswatch.reports.trends"),
                                   ("npswatch.crawlers.jobs", "npswatch.reports.scope"),
                                   ("npswatch.scheduler.jobs", "npswatch.cli.app")}
    assert circles(edges) == [["npswatch.reports.trends", "npswatch.storage.db"]]
    assert circles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1, "d": 1}, "d": {}}) == [["a", "b", "c"]]


def _described(pairs, edges) -> str:
    return "\n".join(f"  {a} -> {b} (line {edges[a][b]})" for a, b in sorted(pairs))


def test_no_import_circles(graph):
    found = circles(graph["runtime"])
    assert not found, "import circles:\n" + "\n".join("  " + " <-> ".join(c) for c in found)


def test_each_layer_imports_only_the_layers_below(graph):
    breaks = layer_breaks(graph["all"])
    assert not breaks, "imports that run upward or across independent layers:\n" + _described(breaks, graph["all"])


def test_lazy_imports_are_in_the_graph_and_type_only_ones_only_in_all(graph):
    # npswatch.watch imports its use-case modules inside its methods; they name Watch under TYPE_CHECKING only
    assert "npswatch.crawl" in graph["runtime"]["npswatch.watch"]
    assert "npswatch.watch" in graph["all"]["npswatch.crawl"]
    assert "npswatch.watch" not in graph["runtime"]["npswatch.crawl"]
