"""Issue 14 item 9: a site whose listings are built by JavaScript, crawled with `js = true` in the system Chromium.

Skipped, with the reason, where scrapy-playwright or Chromium (Debian package `chromium`) is missing; `.ci/run`
installs both.
"""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import text

from npswatch.crawlers.jsrender import js_unavailable
from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
if js_unavailable() is not None and os.environ.get("NPSWATCH_REQUIRE_JS"):
    raise RuntimeError(f"NPSWATCH_REQUIRE_JS is set but JavaScript rendering is unavailable: {js_unavailable()}")
pytestmark = pytest.mark.skipif(js_unavailable() is not None, reason=f"JavaScript rendering: {js_unavailable()}")

PAGE = b"""<html><body><div id="app">loading</div>
<script>
  const items = [["1", "Synthetic mephedrone 1 g", "USD 20"], ["2", "Synthetic mephedrone 5 g", "USD 80"]];
  document.getElementById("app").innerHTML = items.map(([id, t, p]) =>
    `<div class="item" data-id="${id}"><h3>${t}</h3><b>${p}</b></div>`).join("");
</script></body></html>"""


class Shop(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/shop" else 404)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)


@pytest.mark.parametrize("js", [True, False])
def test_listings_built_by_javascript_are_read_only_when_rendered(tmp_path, js):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "jsshop.toml").write_text(f"""\
name = "synthetic-js-shop"
start_urls = ["/shop"]
listing = "div.item"
js = {str(js).lower()}
[fields]
id = "xpath:@data-id"
title = "h3"
price = "b"
[politeness]
obey_robots = false
download_delay = 0
""", encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Shop)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    base = f"http://127.0.0.1:{server.server_port}/"
    try:
        crawl = subprocess.run([NPSWATCH, "crawl", "synthetic-js-shop", "--base-url", base], env=env, cwd=ROOT,
                               capture_output=True, text=True, timeout=180)
        test = subprocess.run([NPSWATCH, "sources", "test", "synthetic-js-shop", "--base-url", base, "--json"],
                              env=env, cwd=ROOT, capture_output=True, text=True, timeout=180)
    finally:
        server.shutdown()
        server.server_close()
    with engine.connect() as c:
        texts = [t for (t,) in c.execute(text("select text from post order by external_id"))]
    if js:
        assert crawl.returncode == 0, crawl.stdout + crawl.stderr
        assert texts == ["Synthetic mephedrone 1 g\nUSD 20", "Synthetic mephedrone 5 g\nUSD 80"]
        assert test.returncode == 0 and test.stdout.count('"id"') == 2, test.stdout + test.stderr
    else:  # the server's HTML has no listing: only the browser builds them
        assert texts == [] and test.returncode == 1
