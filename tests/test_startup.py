"""A command imports only what it needs (issue 12, fast start): `npswatch --help` loads no database, crawler,
plotting or extraction library, and `npswatch extract` without a database loads no SQLAlchemy or Alembic.
Their speed is measured by benchmarks/bench_startup.py; here, what they import."""
from __future__ import annotations

import json
import os
import subprocess
import sys

HEAVY = ("sqlalchemy", "alembic", "sqlmodel", "pydantic_settings", "scrapy", "twisted", "telethon", "matplotlib",
         "pyarrow", "numpy", "npswatch.pipelines.extract", "npswatch.storage.models", "npswatch.config")

RUN = """
import json, sys
from npswatch.cli.app import app
try:
    app(sys.argv[1:], prog_name="npswatch")
except SystemExit as exc:
    code = exc.code
heavy = [m for m in json.loads({heavy!r}) if m in sys.modules]
print("\\n" + json.dumps({{"code": code, "heavy": heavy}}), file=sys.stderr)
"""


def loaded(args: list[str], cwd, stdin: str = "") -> tuple[int, list[str], str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_") or k in ("NPSWATCH_CACHE_DIR",
                                                                                       "NPSWATCH_PURE_PYTHON")}
    run = subprocess.run([sys.executable, "-c", RUN.format(heavy=json.dumps(HEAVY)), *args], input=stdin, cwd=cwd,
                         env=env, capture_output=True, text=True, timeout=120)
    report = json.loads(run.stderr.strip().splitlines()[-1])
    return report["code"], report["heavy"], run.stdout


def test_help_loads_no_heavy_library(tmp_path):
    code, heavy, out = loaded(["--help"], tmp_path)
    assert code == 0 and "extract" in out and "crawl" in out
    assert heavy == []


def test_extract_without_a_database_loads_no_database_library(tmp_path):
    code, heavy, out = loaded(["extract"], tmp_path, '{"id": 1, "text": "меф 1г 4500₽ Москва"}\n')
    assert code in (0, None)
    assert json.loads(out)["offers"][0]["price_per_gram"] == 4500.0
    assert set(heavy) == {"npswatch.pipelines.extract", "npswatch.config", "pydantic_settings"}


def test_extract_with_a_current_database_does_not_load_alembic(tmp_path):
    from npswatch.storage.db import make_engine, upgrade

    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    engine.dispose()
    code, heavy, out = loaded(["extract"], tmp_path, '{"id": 1, "text": "меф 1г 4500₽ Москва"}\n')
    assert code in (0, None) and json.loads(out)["substances"][0]["canonical"] == "mephedrone"
    assert "sqlalchemy" in heavy  # the database was read (rates, confirmed names)
    assert "alembic" not in heavy
