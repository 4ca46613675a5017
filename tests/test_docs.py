"""The researchers' docs run: every ```python block of docs/python-api.md, in order, in one namespace, and every
cell of docs/tutorial.ipynb, executed by a real Jupyter kernel (nbclient). Their checks are the asserts they
contain; both work in a fresh folder of their own, so whatever they write stays there."""
from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def python_blocks(markdown: str) -> list[tuple[int, str]]:
    """(line number, code) of each ```python block."""
    return [(markdown.count("\n", 0, m.start()) + 2, m.group(1)) for m in BLOCK.finditer(markdown)]


@pytest.fixture
def fresh_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in [k for k in os.environ if k.startswith("NPSWATCH_") and k != "NPSWATCH_CACHE_DIR"]:
        monkeypatch.delenv(name)  # the docs' defaults, not the test run's settings
    return tmp_path


def test_the_python_api_examples_run(fresh_folder):
    path = DOCS / "python-api.md"
    blocks = python_blocks(path.read_text(encoding="utf-8"))
    assert len(blocks) >= 5
    namespace: dict = {"__name__": "python_api_md"}
    for line, code in blocks:
        try:
            exec(compile(code, f"{path.name}:{line}", "exec"), namespace)
        except Exception as exc:
            raise AssertionError(f"{path.name}, the block at line {line} failed: {exc!r}") from exc


def test_the_tutorial_notebook_runs_with_its_checks(fresh_folder, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(DOCS / "tutorial.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs for c in code), "commit the notebook without outputs"
    assert sum("assert " in c.source for c in code) >= 4
    # a kernel of this interpreter (a machine-wide "python3" kernel may run another Python, without npswatch)
    spec = fresh_folder / "jupyter" / "kernels" / "npswatch-test"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "npswatch test", "language": "python"}))
    monkeypatch.setenv("JUPYTER_PATH", str(fresh_folder / "jupyter"))
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="npswatch-test",
                                     resources={"metadata": {"path": str(fresh_folder)}})
    client.execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if "image/png" in o.get("data", {})]
    assert images, "the trend chart is shown inline"


def test_the_block_reader_finds_python_blocks_only():
    md = "text\n```python\na = 1\n```\n```bash\nls\n```\n```python\nb = 2\nc = 3\n```\n"
    assert python_blocks(md) == [(3, "a = 1\n"), (9, "b = 2\nc = 3\n")]
