"""The substance page and the map over HTTP (Starlette's test client, SQLite and PostgreSQL): the pages and
their CSVs answer for every table, CSV cells cannot run in a spreadsheet, scripts come from the app only (the
charts' data travel in a data- attribute), viewers may read, strangers are sent to the login, Russian works.
The same in a real browser: tests/test_webapp_browser_charts.py."""
from __future__ import annotations

import csv
import io
import json
import re
from html import unescape

import pytest
from sqlalchemy import update

pytest.importorskip("starlette", reason="the web app needs the `web` extra (starlette)")
pytest.importorskip("argon2", reason="the web app needs the `web` extra (argon2-cffi)")

from starlette.testclient import TestClient  # noqa: E402

from npswatch.reports.synthetic import NEW_NAME  # noqa: E402
from npswatch.storage.tables import T_POST  # noqa: E402
from npswatch.web import create_app  # noqa: E402
from npswatch.web.security import CSP  # noqa: E402

from webapp_helpers import PASSWORD, csrf_of, watch_with_history  # noqa: E402


@pytest.fixture
def w(db_url, tmp_path):
    watch = watch_with_history(db_url, tmp_path)
    watch.add_user("vic", PASSWORD, "viewer")
    watch.add_user("ira", PASSWORD, "viewer", language="ru", timezone="Asia/Almaty")
    yield watch
    watch.engine.dispose()


def logged_in(w, name: str = "vic") -> TestClient:
    c = TestClient(create_app(w), follow_redirects=False)
    token = csrf_of(c.get("/login").text)
    assert c.post("/login", data={"name": name, "password": PASSWORD, "csrf": token, "next": "/"}).status_code == 303
    return c


def cells(html: str, table_id: str) -> list[list[str]]:
    body = re.search(rf'<table class="data[^"]*" id="{table_id}">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    return [[unescape(re.sub(r"<[^>]+>", "", td)) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
            for tr in re.findall(r"<tr>(.*?)</tr>", body, re.S)]


def test_substance_page_and_its_csvs_on_both_databases(w):
    c = logged_in(w)
    r = c.get("/substance", params={"substance": "alpha-PVP", "group": "country", "cur": "usd"})
    assert r.status_code == 200 and r.headers["content-security-policy"] == CSP
    html = r.text
    # scripts only from the app, none inline; the charts' data in data-chart attributes
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", html, re.S)
    assert scripts and all('src="/static/' in attrs and not body.strip() for attrs, body in scripts)
    charts = [json.loads(unescape(d)) for d in re.findall(r'data-chart="([^"]*)"', html)]
    price = charts[0]
    assert price["title"] == "USD per g" and {s["label"] for s in price["series"]} == {"KZ", "KG", "RU"}
    trend = cells(html, "trend")
    kz = [row for row in trend if row[1] == "KZ"]
    assert [float(row[11]) for row in kz] == [v for v in next(s for s in price["series"] if s["label"] == "KZ")["median"]
                                              if v is not None]
    for table in ("trend", "weekly", "places", "sources", "posts"):
        got = c.get(f"/substance/{table}.csv", params={"substance": "alpha-PVP", "group": "country", "cur": "usd"})
        assert got.status_code == 200 and got.headers["content-type"].startswith("text/csv")
        assert list(csv.reader(io.StringIO(got.text)))[1:] == cells(html, table), table
    assert c.get("/substance/nothing.csv", params={"substance": "alpha-PVP"}).status_code == 404
    r = c.get("/substance", params={"substance": "no-such-drug"})
    assert r.status_code == 200 and "no stored substance matches" in r.text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_csv_cells_cannot_run_in_a_spreadsheet_and_texts_are_escaped(w):
    with w.engine.begin() as conn:
        conn.execute(update(T_POST).where(T_POST.c.text.like(f"{NEW_NAME}%")).values(
            text=f'=HYPERLINK("http://x.test") {NEW_NAME} <b>bold</b>'))
    c = logged_in(w)
    html = c.get("/substance", params={"substance": NEW_NAME}).text
    assert "&lt;b&gt;bold&lt;/b&gt;" in html and "<b>bold</b>" not in html
    rows = list(csv.reader(io.StringIO(c.get("/substance/posts.csv", params={"substance": NEW_NAME}).text)))
    assert rows[1][4].startswith("'=HYPERLINK") and all(not r[4].startswith("=") for r in rows[1:])


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_map_page_login_roles_language_and_vendored_files(w):
    anonymous = TestClient(create_app(w), follow_redirects=False)
    for url in ("/map", "/substance?substance=alpha-PVP", "/substance/places.csv?substance=alpha-PVP", "/map.csv"):
        r = anonymous.get(url)
        assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")
    c = logged_in(w)  # a viewer reads
    html = c.get("/map", params={"cls": "synthetic_cathinone", "frame": "central_asia"}).text
    cities = dict(re.findall(r'<circle [^>]*data-city="([^"]+)" data-country="[A-Z]+" data-ads="(\d+)"', html))
    assert cities == {p.name: str(p.ads) for p in w.places(cls="synthetic_cathinone").places}
    assert "<script" not in html.split("<main>")[1]  # the map needs no script
    assert list(csv.reader(io.StringIO(c.get("/map.csv", params={"cls": "synthetic_cathinone"}).text)))[1:] == \
        cells(html, "places")
    vendored = c.get("/static/vendor/uplot/uPlot.iife.min.js")
    assert vendored.status_code == 200 and "uPlot" in vendored.text[:200]
    assert c.get("/static/charts.js").status_code == 200
    ru = logged_in(w, "ira")
    html = ru.get("/substance", params={"substance": "alpha-PVP"}).text
    assert "Карта" in html and "Где и с каких пор" in html and "Последние посты" in html
    # dates in the account's time zone (Asia/Almaty, UTC+5): the CSV has what the page shows
    first = cells(html, "places")[0][2]
    utc = w.places(substance="alpha-PVP").places[0].first_seen
    from zoneinfo import ZoneInfo

    assert first == utc.astimezone(ZoneInfo("Asia/Almaty")).strftime("%Y-%m-%d %H:%M")
    assert list(csv.reader(io.StringIO(ru.get("/substance/places.csv", params={"substance": "alpha-PVP"}).text)))[1][2] \
        == first
