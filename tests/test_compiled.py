"""The Cython build of the extractor's hot modules (setup.py, pipelines/__init__.py).

The compiled modules must say exactly what the .py files say, an edited .py must never be shadowed by an old
build, and NPSWATCH_PURE_PYTHON=1 must switch the build off. Without a build (no C compiler at install time)
the compiled-only tests skip with a reason; NPSWATCH_REQUIRE_COMPILED=1 (CI sets it) makes that a failure.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from npswatch import pipelines

ROOT = Path(__file__).resolve().parent.parent
HOT = ["candidates", "extract", "fuzzy", "offers", "places", "regions", "substances", "text"]
LABELLED = ROOT / "tests" / "data" / "labelled.jsonl"

# Texts that walk the unusual branches of the typed loops: boundaries at both ends of the text, characters beyond
# the BMP, CJK, Turkic endings, ё, obfuscations, a dotted leading decimal, negatives.
EDGE_TEXTS = [
    "меф", "Меф 1г 4500₽", "1г-4500₽ меф", "соль", "ёлка мефедрон .5г 2600р",
    "𝐦𝐞𝐟 1г 4200р Алматыда", "冰毒 每克 500元 北京", "с0ль 1гр-18000тг 3гр-50000тг Шымкентте",
    "м е ф 2г/7000 по мск", "α-PVP 0,5г 2700р, Бишкек", "Цены в тенге\n0.5 = 9000\n1 = 16000",
    "Фен для волос 2000 Вт, 3500₽", "скидка 500₽, ЗП от 150 000₽ в неделю", "Ош", "🧂❄️🍫 клад 1г 5000",
    "", " ", "\n\n", "1", "г", "ё", "0", "₽", "мефмефмеф" * 50, "1г 1г 1г " * 40,
]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "NPSWATCH_PURE_PYTHON"}
    env.update(extra)
    return env


def _require_compiled() -> None:
    missing = [m for m in HOT if m not in _compiled_in_subprocess()]
    if missing:
        reason = (f"pipelines not compiled ({', '.join(missing)}): no C compiler or Cython when installed; "
                  "`make build` compiles them")
        if os.environ.get("NPSWATCH_REQUIRE_COMPILED") == "1":
            pytest.fail(f"{reason}, and NPSWATCH_REQUIRE_COMPILED=1 forbids skipping", pytrace=False)
        pytest.skip(reason)


def _compiled_in_subprocess(env: dict | None = None, cwd: Path | None = None) -> list[str]:
    code = ("import pipelines, pipelines.extract, pipelines.candidates; "
            "import json; print(json.dumps(pipelines.compiled_modules()))")
    out = subprocess.run([sys.executable, "-c", code], env=env or _env(), cwd=cwd, capture_output=True,
                         text=True, check=True)
    return json.loads(out.stdout)


def _extract_all(texts: list[str], env: dict) -> list[dict]:
    lines = "".join(json.dumps({"id": str(i), "text": t, "posted_at": "2026-03-01T12:00:00Z"}, ensure_ascii=False)
                    + "\n" for i, t in enumerate(texts))
    npswatch = Path(sys.executable).with_name("npswatch")
    out = subprocess.run([str(npswatch), "extract"], input=lines, env=env, capture_output=True, text=True,
                         check=True, timeout=300)
    return [json.loads(line) for line in out.stdout.splitlines()]


def test_hot_modules_are_compiled():
    _require_compiled()
    assert _compiled_in_subprocess() == HOT


def test_compiled_and_pure_python_extract_the_same_facts():
    _require_compiled()
    texts = [json.loads(line)["text"] for line in LABELLED.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts += EDGE_TEXTS
    compiled = _extract_all(texts, _env())
    pure = _extract_all(texts, _env(NPSWATCH_PURE_PYTHON="1"))
    assert len(compiled) == len(texts)
    assert sum(len(r["offers"]) for r in compiled) > 200  # the comparison covers real offers, not empty output
    for text, c, p in zip(texts, compiled, pure):
        assert c == p, text


def test_pure_python_switch():
    assert _compiled_in_subprocess(_env(NPSWATCH_PURE_PYTHON="1")) == []


def test_an_edited_source_is_not_shadowed_by_an_old_build(tmp_path):
    _require_compiled()
    shutil.copytree(Path(pipelines.__file__).parent, tmp_path / "pipelines",
                    ignore=shutil.ignore_patterns("__pycache__"))
    text_py = tmp_path / "pipelines" / "text.py"
    text_py.write_text(text_py.read_text(encoding="utf-8") + "\nEDITED = True\n", encoding="utf-8")
    env = _env(PYTHONPATH=str(tmp_path))
    code = ("import warnings, json; warnings.simplefilter('always'); import pipelines.text as t, pipelines.offers, "
            "pipelines; print(json.dumps([t.__file__, getattr(t, 'EDITED', False), pipelines.compiled_modules()]))")
    run = subprocess.run([sys.executable, "-c", code], env=env, cwd=tmp_path, capture_output=True, text=True,
                         check=True)
    path, edited, compiled = json.loads(run.stdout)
    assert path == str(tmp_path / "pipelines" / "text.py") and edited is True
    assert "text" not in compiled and "offers" in compiled
    assert "pipelines.text: the compiled module is older than text.py" in run.stderr


def test_a_missing_stamp_means_pure_python(tmp_path):
    _require_compiled()
    shutil.copytree(Path(pipelines.__file__).parent, tmp_path / "pipelines",
                    ignore=shutil.ignore_patterns("__pycache__", "_compiled.json"))
    assert _compiled_in_subprocess(_env(PYTHONPATH=str(tmp_path)), cwd=tmp_path) == []
