"""Scraped text is never terminal markup: `[/bold]` and `[link=...]` in a listing or a channel title are shown
as written by `sources test` and `telegram discovered` (before, the first crashed rich and the second made a
live hyperlink). And `sources test` honours the site's timeout as a total deadline against a server that
trickles its answer (slow-loris), instead of a per-read timeout it never reaches."""
from __future__ import annotations

import http.server
import re
import threading
import time
from datetime import datetime, timezone

import pytest
from typer.testing import CliRunner

from npswatch.cli.app import app
from npswatch.storage import telegram_store as store
from npswatch.storage.db import make_engine, upgrade

EVIL = "меф 1г 4500₽ [/bold] [link=http://evil.invalid]жми[/link] [red]x"

SITE = """\
name = "synth-markup"
start_urls = ["/"]
listing = "div.card"
[fields]
text = "p"
[politeness]
obey_robots = false
timeout = {timeout}
"""


class _Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        body = f"<html><body><div class='card'><p>{EVIL}</p></div></body></html>".encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *a):
        pass


class _Trickle(http.server.BaseHTTPRequestHandler):
    """Headers at once, then one byte of body every 0.2 s for a minute: each read is quick, the whole is not."""

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", "300")
        self.end_headers()
        try:
            for _ in range(300):
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)
        except OSError:
            pass

    def log_message(self, *a):
        pass


@pytest.fixture
def served(request):
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), request.param)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _config(tmp_path, timeout=10):
    sites = tmp_path / "sites"
    sites.mkdir(exist_ok=True)
    (sites / "synth_markup.toml").write_text(SITE.format(timeout=timeout), encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[web]\nsites_dir = "{sites}"\n', encoding="utf-8")
    return {"NPSWATCH_CONFIG": str(cfg)}


@pytest.mark.parametrize("served", [_Page], indirect=True)
def test_sources_test_shows_markup_in_a_listing_as_written(tmp_path, served):
    r = CliRunner().invoke(app, ["sources", "test", "synth-markup", "--base-url", served, "--no-extract"],
                           env=_config(tmp_path), terminal_width=300)
    assert r.exit_code == 0, r.output
    flat = re.sub(r"[\s│]", "", r.output)  # the table folds the text over lines
    assert "[/bold]" in flat and "[link=http://evil.invalid]жми[/link]" in flat and "[red]x" in flat


def test_telegram_discovered_shows_a_channel_title_as_written(tmp_path):
    env = _config(tmp_path)
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    with engine.begin() as conn:
        store.record_links(conn, [store.Link("synth_src", 1, "synth_dst", "link", datetime.now(timezone.utc),
                                             "synth_dst", 777, "Синт [/bold] [link=http://evil.invalid]канал[/link]")])
    r = CliRunner().invoke(app, ["telegram", "discovered"], env=env, terminal_width=300)
    assert r.exit_code == 0, r.output
    assert "[/bold]" in r.output and "[link=http://evil.invalid]" in r.output


@pytest.mark.parametrize("served", [_Trickle], indirect=True)
def test_sources_test_gives_up_at_the_sites_timeout_on_a_trickling_server(tmp_path, served):
    r = CliRunner().invoke(app, ["sources", "test", "synth-markup", "--base-url", served, "--no-extract"],
                           env=_config(tmp_path, timeout=1), terminal_width=300)
    assert r.exit_code == 2
    assert "no complete answer within the site's timeout (1 s, politeness.timeout)" in " ".join(r.output.split())
