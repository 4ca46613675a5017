"""Issue 14 item 11: a crawl in which every request failed is recorded as failed, not `ok` with 0 items."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

from sqlalchemy import text

from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")

SITE = """\
name = "synthetic-unreachable"
start_urls = ["/a", "/b"]
listing = "div.item"
[fields]
text = "p"
[politeness]
obey_robots = false
download_delay = 0
retries = 0
timeout = 5
"""


def closed_port() -> int:
    with socket.socket() as s:  # bound then closed: nothing listens there
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_crawl_whose_every_request_failed_is_a_failed_run(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "unreachable.toml").write_text(SITE, encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    proc = subprocess.run([NPSWATCH, "crawl", "synthetic-unreachable", "--base-url", f"http://127.0.0.1:{closed_port()}/"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "every request failed" in proc.stdout
    status, items, message = engine.connect().execute(text(
        "SELECT status, items, message FROM crawl_run WHERE kind = 'crawl'")).one()
    assert (status, items) == ("failed", 0) and "every request failed" in message
