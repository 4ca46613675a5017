"""Issue 14 item 7: a site behind a login, against a local synthetic server whose session expires mid-crawl.

The definition names an environment variable holding the session cookie and a `logged_out` selector. The
server serves four pages of listings to that cookie, then (once expired) a login form, which also carries a
block the listing selector would take for a listing. The crawl stops there: nothing of the login page is
stored, nothing is marked disappeared, the run is failed with "login expired for SITE", and `status` and the
digest say so.
The cookie's value is never printed.
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

from npswatch.storage.db import make_engine, upgrade

ROOT = Path(__file__).resolve().parents[1]
NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
COOKIE = "sid=synthetic-s3ssion-9f2c"
SITE = """\
name = "synthetic-members"
start_urls = ["/list/1"]
listing = "div.item"
pagination = "a.next::attr(href)"
[fields]
id = "xpath:@data-id"
title = "h3"
price = "b"
[login]
cookies_env = "NPSWATCH_MEMBERS_SESSION"
logged_out = "form#login"
[politeness]
obey_robots = false
download_delay = 0
concurrency = 1
autothrottle = false
"""


class Members(http.server.BaseHTTPRequestHandler):
    pages_left = 100  # pages served to the session before it expires
    cookies_seen: list[str] = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:
        cls = type(self)
        cls.cookies_seen.append(self.headers.get("Cookie", ""))
        ok = COOKIE in self.headers.get("Cookie", "") and cls.pages_left > 0
        if ok and self.path.startswith("/list/"):
            cls.pages_left -= 1
            n = int(self.path.rsplit("/", 1)[1])
            items = "".join(f'<div class="item" data-id="{n}-{i}"><h3>Synthetic mephedrone {i} г</h3>'
                            f"<b>{1000 * i} ₽</b></div>" for i in (1, 2, 3))
            nxt = f'<a class="next" href="/list/{n + 1}">next</a>' if n < 4 else ""
            body = f"<html><body>{items}{nxt}</body></html>"
        else:
            body = ('<html><body><form id="login"><input name="user"><input name="pass" type="password"></form>'
                    '<div class="item" data-id="login"><h3>Please log in to see 1 г offers</h3><b>0 ₽</b></div>'
                    "</body></html>")
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def members(tmp_path):
    sites = tmp_path / "sites"
    sites.mkdir()
    (sites / "members.toml").write_text(SITE, encoding="utf-8")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "data"}"\n[privacy]\nkey = "synthetic-test-key-0123456789abcdef0123"\n[web]\nsites_dir = "{sites}"\n',
                   encoding="utf-8")
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Members)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = {**os.environ, "NPSWATCH_CONFIG": str(cfg), "COLUMNS": "200", "NPSWATCH_MEMBERS_SESSION": COOKIE}

    def npswatch(*args, **kw):
        return subprocess.run([NPSWATCH, *args], env={**env, **kw}, cwd=ROOT, capture_output=True, text=True,
                              timeout=180)

    yield {"engine": engine, "run": npswatch, "base": f"http://127.0.0.1:{server.server_port}/", "tmp": tmp_path}
    server.shutdown()
    server.server_close()


def q(engine, sql):
    with engine.connect() as c:
        return c.execute(text(sql)).all()


def test_an_expired_session_stops_the_crawl_and_stores_nothing_of_the_login_page(members):
    engine, run, base = members["engine"], members["run"], members["base"]
    Members.pages_left, Members.cookies_seen = 100, []
    first = run("crawl", "synthetic-members", "--base-url", base)
    assert first.returncode == 0, first.stdout + first.stderr
    assert q(engine, "select count(*) from post")[0][0] == 12 and all(COOKIE in c for c in Members.cookies_seen)

    Members.pages_left = 2  # the session expires after two pages of the next crawl
    second = run("crawl", "synthetic-members", "--base-url", base)
    assert second.returncode == 1
    assert "login expired for synthetic-members" in second.stdout
    assert q(engine, "select count(*) from post where external_id = 'login'")[0][0] == 0
    assert q(engine, "select count(*) from post")[0][0] == 12
    assert q(engine, "select count(*) from listing where disappeared_at is not null")[0][0] == 0
    (status, message), = q(engine, "select status, message from crawl_run where kind = 'crawl' order by id desc limit 1")
    assert status == "failed" and "login expired for synthetic-members" in message

    health = run("status")
    assert health.returncode == 1 and "login expired for synthetic-members" in health.stdout
    for fmt in ("md", "html", "json"):
        digest = run("digest", "--since", "1d", "--format", fmt, "--out", "-")
        assert digest.returncode == 0 and "login expired for synthetic-members" in digest.stdout, digest.stderr
    secret = COOKIE.split("=", 1)[1]
    for out in (first.stdout, first.stderr, second.stdout, second.stderr, health.stdout, message):
        assert secret not in out


def test_a_missing_session_variable_is_one_clear_line(members):
    env = {k: v for k, v in os.environ.items() if k != "NPSWATCH_MEMBERS_SESSION"}
    env.update({"NPSWATCH_CONFIG": str(members["tmp"] / "npswatch.toml"), "COLUMNS": "200"})
    proc = subprocess.run([NPSWATCH, "crawl", "synthetic-members", "--base-url", members["base"]], env=env,
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert "login.cookies_env: environment variable NPSWATCH_MEMBERS_SESSION is not set" in proc.stdout + proc.stderr
    assert q(members["engine"], "select count(*) from crawl_run")[0][0] == 0


def test_sources_test_reads_the_page_as_the_session_sees_it_and_says_when_it_expired(members):
    run, base = members["run"], members["base"]
    Members.pages_left, Members.cookies_seen = 100, []
    ok = run("sources", "test", "synthetic-members", "--base-url", base, "--no-extract")
    assert ok.returncode == 0 and "Synthetic mephedrone 3 г" in ok.stdout and COOKIE in Members.cookies_seen[-1]
    Members.pages_left = 0
    gone = run("sources", "test", "synthetic-members", "--base-url", base, "--no-extract")
    assert gone.returncode == 2 and "login expired for synthetic-members" in gone.stdout + gone.stderr
    assert COOKIE.split("=", 1)[1] not in ok.stdout + gone.stdout + gone.stderr
