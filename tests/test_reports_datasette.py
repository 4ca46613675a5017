"""`npswatch serve`: Datasette on the SQLite database, read-only, with canned queries; PostgreSQL is refused."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

import pytest
from typer.testing import CliRunner

from npswatch.reports.synthetic import PLANTS, History, write_history
from npswatch.cli.app import app
from npswatch.storage.db import make_engine, upgrade

pytest.importorskip("datasette", reason="Datasette is the optional extra `web`")
EXE = str(Path(sys.executable).with_name("npswatch"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get_json(url: str, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return json.loads(r.read())
        except (ConnectionError, urllib.error.URLError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def served(tmp_path):
    (tmp_path / "npswatch.toml").write_text('data_dir = "data"\n')
    db = tmp_path / "data" / "npswatch.db"
    eng = make_engine(f"sqlite:///{db}")
    upgrade(eng)
    write_history(eng, History(start=datetime(2026, 1, 5, tzinfo=timezone.utc), weeks=10, plants=PLANTS))
    eng.dispose()
    before = db.stat().st_mtime_ns
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NPSWATCH_")}
    proc = subprocess.Popen([EXE, "--config", str(tmp_path / "npswatch.toml"), "serve", "--port", str(port)],
                            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    assert db.stat().st_mtime_ns == before  # served read-only: the file was not touched


def test_canned_queries_answer_json(served):
    base, proc = served
    rows = get_json(f"{base}/npswatch/new_candidates.json?_shape=array")
    assert [r["name"] for r in rows] == ["4F-TESTINACA"]
    trend = get_json(f"{base}/npswatch/price_trend.json?_shape=array&substance=mephedrone&city=Almaty")
    assert trend and {r["city"] for r in trend} == {"Almaty"} and all(r["currency"] == "KZT" for r in trend)
    assert all(r["median_price_per_gram"] > 0 and r["offers"] >= 1 for r in trend)
    first = get_json(f"{base}/npswatch/first_seen_by_city.json?_shape=array&substance=alpha-PVP")
    assert first[0]["city"] == "Karaganda"  # the newest place first
    meta = get_json(f"{base}/-/metadata.json")
    assert "pseudonym" in meta["databases"]["npswatch"]["tables"]["post"]["description"]


def test_postgresql_is_pointed_to_exports(pg_url, tmp_path):
    eng = make_engine(pg_url)
    upgrade(eng)
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'[database]\nurl = "{pg_url}"\n')
    r = CliRunner().invoke(app, ["--config", str(cfg), "serve"], terminal_width=200)
    assert r.exit_code == 2 and "npswatch export" in r.output
