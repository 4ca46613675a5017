"""Issue 14 item 10: web shops found in crawled pages and posts go to a review queue; adding one writes a stub."""
from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from pathlib import Path

from npswatch.crawlers.sitedef import load_site
from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.sites_found import discovered_sites
from npswatch.storage.writer import PostWriter

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
ONION = ("synthetic2mirror" + "abcdefghijklmnopqrstuvwxyz234567" * 2)[:56] + ".onion"  # v3-shaped: 56 base32 chars
SITE = """\
name = "synthetic-hub"
start_urls = ["/list/1"]
listing = "div.item"
pagination = "a.next::attr(href)"
[fields]
id = "xpath:@data-id"
text = "p"
[politeness]
obey_robots = false
download_delay = 0
"""


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        n = int(self.path.rsplit("/", 1)[1])
        mirrors = f"<footer>Mirrors: {ONION} | <a href='http://shop-two.example.invalid/catalog'>shop two</a>" \
                  f"<a href='/list/{n}'>here</a> <a href='https://t.me/somechannel'>tg</a></footer>"
        nxt = '<a class="next" href="/list/2">next</a>' if n == 1 else ""
        body = (f'<html><body><div class="item" data-id="{n}"><p>Synthetic listing {n}</p></div>{nxt}{mirrors}'
                "</body></html>").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_sites_named_by_pages_and_posts_are_queued_and_one_is_added(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "hub.toml").write_text(SITE, encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200"}
    try:
        crawl = subprocess.run([NPSWATCH, "crawl", "synthetic-hub", "--base-url", f"http://127.0.0.1:{server.server_port}/"],
                               env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    finally:
        server.shutdown()
        server.server_close()
    assert crawl.returncode == 0, crawl.stdout + crawl.stderr
    # a post (a Telegram channel's, say) names another shop
    ps = Pseudonymiser(b"synthetic-test-key-0123456789abcdef0123")
    PostWriter(engine, ps).write([RawPost(source="synthetic-channel", external_id="1",
                                         text="New shop: https://shop-three.example.invalid/ go")])
    found = {r["key"]: r for r in discovered_sites(engine)}
    assert set(found) == {f"http://{ONION}", "http://shop-two.example.invalid", "https://shop-three.example.invalid"}
    assert found[f"http://{ONION}"]["mentions"] == 2 and found[f"http://{ONION}"]["first_seen_in"] == "synthetic-hub"
    assert found["https://shop-three.example.invalid"]["first_seen_in"] == "synthetic-channel"

    listed = subprocess.run([NPSWATCH, "sources", "discovered"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert listed.returncode == 0 and ONION in listed.stdout and "shop-two.example.invalid" in listed.stdout
    added = subprocess.run([NPSWATCH, "sources", "discovered", "--add", ONION], env=env, cwd=ROOT,
                           capture_output=True, text=True)
    assert added.returncode == 0, added.stdout + added.stderr
    (stub,) = [p for p in sites.glob("*.toml") if p.name != "hub.toml"]
    site = load_site(stub)  # a valid definition, disabled until finished
    assert site.enabled is False and site.start_urls == [f"http://{ONION}/"] and site.proxy.startswith("socks5h://")
    again = subprocess.run([NPSWATCH, "sources", "discovered"], env=env, cwd=ROOT, capture_output=True, text=True)
    assert ONION not in again.stdout and "shop-two.example.invalid" in again.stdout
