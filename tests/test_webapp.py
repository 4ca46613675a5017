"""The analysts' web app over HTTP (Starlette's test client, SQLite and PostgreSQL): accounts with argon2
hashes and roles, session cookies, CSRF on every form, the login throttle, security headers, triage that the
digest obeys, the review queue feeding the lexicon overlay, the audit log. The same in a real browser:
tests/test_webapp_browser.py."""
from __future__ import annotations

import shutil

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

pytest.importorskip("starlette", reason="the web app needs the `web` extra (starlette)")
pytest.importorskip("argon2", reason="the web app needs the `web` extra (argon2-cffi)")

from starlette.testclient import TestClient  # noqa: E402

from npswatch.cli.app import app as cli  # noqa: E402
from npswatch.errors import WatchError  # noqa: E402
from npswatch.storage.tables import T_USER  # noqa: E402
from npswatch.web import create_app  # noqa: E402
from npswatch.web.security import LoginThrottle  # noqa: E402

from webapp_helpers import CANDIDATE, PASSWORD, csrf_of, last_week, watch_with_history  # noqa: E402


# PostgreSQL runs the two tests that write through the use-cases (triage, review); the rest is HTTP handling
sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def _populated(db_url: str, tmp_path):
    watch = watch_with_history(db_url, tmp_path)
    watch.add_user("ana", PASSWORD, "analyst")
    watch.add_user("vic", PASSWORD, "viewer")
    watch.add_user("adm", PASSWORD, "admin")
    return watch


@pytest.fixture(scope="module")
def sqlite_template(tmp_path_factory):
    """One populated SQLite file per module; each test gets a copy (the history takes seconds to write)."""
    folder = tmp_path_factory.mktemp("webapp-template")
    watch = _populated(f"sqlite:///{folder / 'data' / 'npswatch.db'}", folder)
    watch.engine.dispose()
    return folder / "data" / "npswatch.db", watch.history


@pytest.fixture
def w(db_url, tmp_path, request):
    if db_url.startswith("sqlite"):
        from npswatch.watch import Watch

        path, history = request.getfixturevalue("sqlite_template")
        (tmp_path / "data").mkdir()
        shutil.copy(path, tmp_path / "data" / "npswatch.db")
        watch = Watch(settings={"data_dir": str(tmp_path / "data")})
        watch.history = history
    else:
        watch = _populated(db_url, tmp_path)
    yield watch
    watch.engine.dispose()


def client(w, **kw) -> TestClient:
    return TestClient(create_app(w, **kw), follow_redirects=False)


def login(c: TestClient, name: str, password: str = PASSWORD):
    token = csrf_of(c.get("/login").text)
    return c.post("/login", data={"name": name, "password": password, "csrf": token, "next": "/signals"})


@sqlite_only
def test_password_is_stored_as_argon2_hash_and_only_the_right_one_logs_in(w):
    with w.engine.connect() as conn:
        stored = conn.execute(select(T_USER.c.password_hash).where(T_USER.c.name == "ana")).scalar_one()
    assert stored.startswith("$argon2id$") and PASSWORD not in stored
    assert w.authenticate("ana", PASSWORD).role == "analyst"
    assert w.authenticate("ana", PASSWORD + "x") is None and w.authenticate("nobody", PASSWORD) is None
    with pytest.raises(WatchError, match="at least 10"):
        w.add_user("short", "abc", "viewer")
    with pytest.raises(WatchError, match="role"):
        w.add_user("bad", PASSWORD, "root")


def test_cli_adds_a_user_from_the_environment_password(tmp_path, monkeypatch):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    monkeypatch.setenv("NPSWATCH_WEB_PASSWORD", PASSWORD)
    assert CliRunner().invoke(cli, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    r = CliRunner().invoke(cli, ["--config", str(cfg), "web", "user", "add", "carol", "--role", "analyst"])
    assert r.exit_code == 0, r.output
    assert "carol (analyst)" in r.output
    from npswatch.watch import Watch

    assert Watch(str(cfg)).authenticate("carol", PASSWORD).role == "analyst"
    r = CliRunner().invoke(cli, ["--config", str(cfg), "web", "user", "add", "dave", "--role", "boss"])
    assert r.exit_code == 2 and "--role must be one of viewer, analyst, admin" in r.output


@sqlite_only
def test_login_sets_an_httponly_samesite_session_and_pages_carry_the_csp(w):
    c = client(w)
    assert c.get("/signals").headers["location"].startswith("/login")
    r = login(c, "ana")
    assert r.status_code == 303 and r.headers["location"] == "/signals"
    cookie = [v for k, v in r.headers.multi_items() if k == "set-cookie" and v.startswith("npswatch_session=")][0]
    assert "HttpOnly" in cookie and "samesite=lax" in cookie.lower()
    page = c.get("/signals")
    csp = page.headers["content-security-policy"]
    assert page.status_code == 200 and "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "<script" not in page.text.lower()  # no inline script anywhere
    c.post("/logout", data={"csrf": csrf_of(page.text)})
    assert c.get("/signals").status_code == 303  # the session is closed on the server


@sqlite_only
def test_forms_without_their_csrf_token_are_refused(w):
    c = client(w)
    r = c.post("/login", data={"name": "ana", "password": PASSWORD, "next": "/signals"})
    assert r.status_code == 403 and "npswatch_session" not in r.headers.get("set-cookie", "")
    login(c, "ana")
    sid = w.inbox()[0].id
    assert c.post(f"/signals/{sid}/status", data={"status": "dismissed"}).status_code == 403
    assert c.post(f"/signals/{sid}/status", data={"status": "dismissed", "csrf": "forged"}).status_code == 403
    assert c.post("/candidates/dismiss", data={"name": CANDIDATE}).status_code == 403
    assert all(s.status == "new" for s in w.inbox())
    assert [x.name for x in w.candidates("dismissed")] == []


@sqlite_only
def test_failed_logins_are_throttled(w):
    clock = [1000.0]
    c = client(w, throttle=LoginThrottle(limit=3, window=60, clock=lambda: clock[0]))
    for _ in range(3):
        assert login(c, "ana", "wrong-password").status_code == 401
    assert login(c, "ana").status_code == 429  # even the right password waits
    clock[0] += 61
    assert login(c, "ana").status_code == 303


def test_dismissed_signal_is_left_out_of_the_next_digest_and_the_change_is_audited(w):
    since, until = last_week(w)
    before = w.digest(since, until, fmt="json", dest="-")
    target = next(s for s in before.shown if s.kind == "spike")
    c = client(w)
    page = c.get("/signals")
    login(c, "ana")
    page = c.get("/signals", params={"kind": "spike"})
    assert target.title.split(":")[0] in page.text and page.text.count('class="signal ') == 1
    r = c.post(f"/signals/{target.id}/status",
               data={"status": "dismissed", "note": "a <b>known</b> seasonal rise", "csrf": csrf_of(page.text),
                     "back": "/signals?kind=spike"})
    assert r.status_code == 303 and r.headers["location"] == "/signals?kind=spike"
    after = w.digest(since, until, fmt="json", dest="-")
    assert target.id not in {s.id for s in after.shown} and len(after.shown) == len(before.shown) - 1
    assert target.title not in after.text
    shown = c.get("/signals", params={"status": "dismissed"}).text
    assert "set by ana" in shown and "a &lt;b&gt;known&lt;/b&gt; seasonal rise" in shown
    entry = w.audit_log()[0]
    assert (entry.actor, entry.action, entry.target_id, entry.detail["status"]) == ("ana", "signal.status",
                                                                                    str(target.id), "dismissed")


@sqlite_only
def test_viewer_reads_but_cannot_triage_or_review(w):
    c = client(w)
    login(c, "vic")
    page = c.get("/signals")
    assert page.status_code == 200 and 'class="triage"' not in page.text
    sid = w.inbox()[0].id
    r = c.post(f"/signals/{sid}/status", data={"status": "dismissed", "csrf": csrf_of(page.text)})
    assert r.status_code == 403 and all(s.status == "new" for s in w.inbox())
    assert c.post("/candidates/dismiss", data={"name": CANDIDATE, "csrf": csrf_of(page.text)}).status_code == 403
    assert c.get("/audit").status_code == 403


@sqlite_only
def test_inbox_filters_by_kind_class_country_and_period(w):
    since, until = last_week(w)
    every = w.inbox()
    assert {s.kind for s in every} == {"new_substance", "new_in_region", "spike", "price_shift"}
    assert [s.kind for s in w.inbox(kind="price_shift")] == ["price_shift"]
    assert {s.cls for s in w.inbox(cls="synthetic_cannabinoid")} == {"synthetic_cannabinoid"}
    assert all("KG" in s.countries for s in w.inbox(country="kg")) and w.inbox(country="kg")
    assert {s.kind for s in w.inbox(country="RU")} == {"new_substance", "spike"}  # the others are in KZ only
    assert w.inbox(until=since - (until - since) * 4) == []
    assert len(w.inbox(since=since, until=until)) == len(every)


def test_confirmed_candidate_in_the_browser_is_known_to_the_extractor(w):
    text = f"{CANDIDATE} 1г 3000 KZT Алматы"
    assert not any(o.substance.canonical == CANDIDATE for o in w.extract(text).offers)
    c = client(w)
    login(c, "ana")
    page = c.get("/candidates")
    assert f'data-candidate="{CANDIDATE}"' in page.text
    r = c.post("/candidates/confirm", data={"name": CANDIDATE, "cls": "synthetic_cannabinoid", "canonical": "",
                                            "csrf": csrf_of(page.text)})
    assert r.status_code == 303
    from npswatch.watch import Watch

    fresh = Watch(settings=w.settings)  # what a new `npswatch extract` sees
    offers = fresh.extract(text).offers
    assert [(o.substance.canonical, o.substance.cls) for o in offers] == [(CANDIDATE, "synthetic_cannabinoid")]
    assert [x.name for x in w.candidates("confirmed")] == [CANDIDATE]
    assert w.audit_log()[0].action == "candidate.confirm" and w.audit_log()[0].actor == "ana"


@sqlite_only
def test_admin_sees_the_audit_log_escaped(w):
    c = client(w)
    login(c, "adm")
    page = c.get("/audit")
    assert page.status_code == 200 and "user.add" in page.text and "login" in page.text


def test_npswatch_web_serves_the_app_on_the_configured_database(tmp_path):
    """The command itself: `npswatch web --port N` answers with the login page, security headers on."""
    import os
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n')
    assert CliRunner().invoke(cli, ["--config", str(cfg), "db", "upgrade"]).exit_code == 0
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "npswatch", "--config", str(cfg), "web", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=os.environ.copy())
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=2) as r:
                    body, headers = r.read().decode(), r.headers
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.poll() else ""
                time.sleep(0.2)
        assert 'name="password"' in body and "script-src 'self'" in headers["content-security-policy"]
    finally:
        proc.terminate()
        out = proc.communicate(timeout=20)[0]
    assert "no accounts yet: make one with `npswatch web user add NAME --role admin`" in out


@sqlite_only
def test_health_page_matches_npswatch_status(w):
    with w.run_record("crawl", source="shop-a.test") as run:
        run.items = 12
    for _ in range(3):
        with pytest.raises(RuntimeError), w.run_record("crawl", source="shop-<b>.test"):
            raise RuntimeError("HTTP 503 from the shop")
    status = w.status()
    assert not status.healthy and len(status.sources) >= 2
    c = client(w)
    login(c, "vic")
    html = c.get("/health").text
    import re

    def cell(source: str, cls: str) -> str:
        row = re.search(rf'<tr data-source="{re.escape(source)}">(.*?)</tr>', html, re.S).group(1)
        return re.search(rf'<td class="[^"]*\b{cls}\b[^"]*">([^<]*)</td>', row).group(1).strip()

    for s in status.sources:
        shown = s.source.replace("<", "&lt;").replace(">", "&gt;")
        assert cell(shown, "status") == s.last_status
        assert cell(shown, "streak") == str(s.failure_streak)
        assert cell(shown, "items") == ("-" if s.items_last_run is None else str(s.items_last_run))
    assert f"{len(status.problems)} problem(s)" in html
    for p in status.problems:
        assert p.replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;") in html


@sqlite_only
def test_a_russian_user_sees_russian_and_dates_in_their_time_zone(w):
    import datetime as dt
    import re

    w.add_user("rus", PASSWORD, "analyst", language="ru", timezone="Asia/Almaty")
    with pytest.raises(WatchError, match="IANA"):
        w.add_user("bad", PASSWORD, "viewer", timezone="Mars/Olympus")
    c = client(w)
    login(c, "rus")
    page = c.get("/signals", params={"kind": "spike"})
    assert "<h1>Сигналы</h1>" in page.text and "Всплески упоминаний" in page.text
    assert "синтетический каннабиноид" in page.text and 'lang="ru"' in page.text
    sid = w.inbox(kind="spike")[0].id
    c.post(f"/signals/{sid}/status", data={"status": "escalated", "csrf": csrf_of(page.text), "note": ""})
    at = w.inbox(kind="spike")[0].reviewed_at
    shown = re.search(r"установил\(а\) rus, ([0-9: -]+) Asia/Almaty", c.get("/signals").text).group(1)
    assert shown == (at + dt.timedelta(hours=5)).strftime("%Y-%m-%d %H:%M")  # Almaty is UTC+5
    assert "передан выше" in c.get("/signals").text
    english = client(w)
    assert "Войти" in english.get("/login", headers={"accept-language": "ru-RU,ru;q=0.9"}).text
    assert "Log in" in english.get("/login", headers={"accept-language": "de"}).text


@sqlite_only
def test_a_discovered_channel_is_watched_from_the_review_queue(w):
    import datetime as dt

    from npswatch.storage.tables import T_DISCOVERED, T_LINK

    at = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    with w.engine.begin() as conn:
        conn.execute(T_DISCOVERED.insert(), [{"key": "synthetic_shop_02", "title": "Synthetic <i>Shop</i>",
                                              "first_seen": at, "first_seen_in": "synthetic_channel_01",
                                              "status": "new"}])
        conn.execute(T_LINK.insert(), [{"src": f"synthetic_channel_0{i}", "message_id": i, "dst": "synthetic_shop_02",
                                        "kind": "forward", "seen_at": at} for i in (1, 2, 3)])
    c = client(w)
    login(c, "ana")
    page = c.get("/candidates").text
    assert '<tr data-channel="synthetic_shop_02">' in page and "Synthetic &lt;i&gt;Shop&lt;/i&gt;" in page
    r = c.post("/channels/add", data={"channel": "synthetic_shop_02", "csrf": csrf_of(page)})
    assert r.status_code == 303 and "synthetic_shop_02" in w.channels()  # the listeners now follow it
    assert 'data-channel="synthetic_shop_02"' not in c.get("/candidates").text
    entry = w.audit_log()[0]
    assert (entry.actor, entry.action, entry.target_id) == ("ana", "channel.add", "synthetic_shop_02")


@sqlite_only
def test_health_page_shows_new_posts_per_week_of_each_source(w):
    import datetime as dt

    from npswatch.storage.tables import T_POST, T_SOURCE

    end = w.history.end
    with w.run_record("crawl", source="fixture-shop.test") as run:
        run.items = 1
    weekly = w.posts_per_week(["fixture-shop.test"], weeks=4, until=end)["fixture-shop.test"]
    with w.engine.connect() as conn:
        sid = conn.execute(T_SOURCE.select().where(T_SOURCE.c.key == "fixture-shop.test")).first().id
        firsts = [r.first_seen for r in conn.execute(T_POST.select().where(T_POST.c.source_id == sid))]
    from npswatch.reports.scope import as_datetime

    last_week = sum(1 for f in firsts if end - dt.timedelta(days=7) <= as_datetime(f) < end)
    assert weekly[-1] == last_week > 0 and len(weekly) == 4
    recent = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    with w.engine.begin() as conn:  # one post seen yesterday: the page counts back from now
        conn.execute(T_POST.insert().values(source_id=sid, external_id="web-recent-1", text="synthetic", version=1,
                                            text_hash="f" * 64, posted_at=recent, collected_at=recent,
                                            first_seen=recent, last_seen=recent))
    c = client(w)
    login(c, "vic")
    html = c.get("/health").text
    assert '<td class="weekly">0 · 0 · 0 · 1</td>' in html


def test_search_page_finds_highlights_and_escapes_posts(w):
    """Full-text search in the browser's terms (SQLite FTS5, PostgreSQL russian): the planted candidate's four
    posts, the matched word marked, the post carrying markup shown as text."""
    c = client(w)
    login(c, "vic")  # a viewer may search
    html = c.get("/search", params={"q": "новинки"}).text  # another form of the word stored
    assert "4 posts match" in html
    assert html.count("<mark>новинка</mark>") == 4
    assert "&lt;script&gt;alert(" in html and "<script>alert(" not in html
    narrowed = c.get("/search", params={"q": "новинка", "cls": "synthetic_cannabinoid", "since": "2099-01-01"}).text
    assert "0 posts match" in narrowed
    bad = c.get("/search", params={"q": "новинка", "source": "nosuch"})
    assert bad.status_code == 200 and "no stored source" in bad.text


def test_a_discovered_web_shop_is_added_from_the_review_queue(w, tmp_path, monkeypatch):
    """The queue of `npswatch sources discovered` in the browser: an analyst's click writes the disabled definition
    stub (through Tor for .onion) and closes the entry; a viewer may only look; the addition is audited."""
    import datetime as dt

    monkeypatch.setattr(w.settings.web, "sites_dir", str(tmp_path / "sites"))
    from npswatch.storage.sites_found import record_sites

    at = dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)
    onion = "http://" + "s" * 56 + ".onion"
    with w.engine.begin() as conn:
        record_sites(conn, [(onion, at, "fixture-forum"), (onion, at, "fixture-forum"),
                            ("https://shop.example.invalid", at, "fixture-shop <b>x</b>")])
    viewer = client(w)
    login(viewer, "vic")
    page = viewer.get("/candidates").text
    assert f'<tr data-site="{onion}">' in page and "fixture-shop &lt;b&gt;x&lt;/b&gt;" in page
    assert 'action="/sites/add"' not in page
    assert viewer.post("/sites/add", data={"site": onion, "csrf": csrf_of(page)}).status_code == 403
    c = client(w)
    login(c, "ana")
    page = c.get("/candidates").text
    r = c.post("/sites/add", data={"site": onion, "csrf": csrf_of(page), "back": "/candidates"})
    assert r.status_code == 303
    stub = tmp_path / "sites" / ("s" * 40 + ".toml")
    import tomllib

    definition = tomllib.loads(stub.read_text(encoding="utf-8"))
    assert definition["start_urls"] == [f"{onion}/"] and definition["enabled"] is False
    assert definition["proxy"].startswith("socks5h://")
    assert f'data-site="{onion}"' not in c.get("/candidates").text  # left the queue
    assert [s["key"] for s in w.discovered_sites()] == ["https://shop.example.invalid"]
    entry = w.audit_log()[0]
    assert (entry.actor, entry.action, entry.target_id) == ("ana", "site.add", onion)
    again = c.post("/sites/add", data={"site": onion, "csrf": csrf_of(page)})
    assert again.status_code == 400 and "exists already" in again.text
    assert c.post("/sites/add", data={"site": "", "csrf": csrf_of(page)}).status_code == 400
