"""The analyst's day in a real browser: Debian's Chromium (/usr/bin/chromium) driven by Playwright's Python
package (no browser is downloaded), against `npswatch web`'s app served by uvicorn on a free local port.

Log in, triage a signal (dismiss it) and it is gone from the next digest; confirm a candidate and the extractor
knows the name; a `<script>` in a post stays text; a form posted without its CSRF token is refused (403).
Skipped with the reason when Chromium or Playwright is absent; failed instead under NPSWATCH_REQUIRE_SERVICES=1.
"""
from __future__ import annotations

import os
import socket
import threading
import time

import pytest

from helpers import service_missing
from webapp_helpers import CANDIDATE, PASSWORD, last_week, watch_with_history

CHROMIUM = os.environ.get("NPSWATCH_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


@pytest.fixture(scope="module")
def browser():
    if not os.path.exists(CHROMIUM):
        service_missing(f"no Chromium at {CHROMIUM} (apt-get install -y chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        service_missing("Playwright's Python package is not installed (pip install playwright; no browser download)")
    pytest.importorskip("starlette", reason="the web app needs the `web` extra")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def served(tmp_path):
    """(watch, base URL): the web app over a database with a synthetic history, an analyst account `ana`."""
    import uvicorn

    from npswatch.web import create_app

    w = watch_with_history(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}", tmp_path)
    w.add_user("ana", PASSWORD, "analyst")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(w), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the web app did not start"
        time.sleep(0.05)
    yield w, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)
    w.engine.dispose()


@pytest.fixture
def page(browser, served):
    context = browser.new_context()
    pg = context.new_page()
    dialogs = []
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.dialogs = dialogs
    yield pg
    context.close()


def log_in(page, base: str) -> None:
    page.goto(f"{base}/signals")
    assert "/login" in page.url
    page.fill("input[name=name]", "ana")
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(f"{base}/signals")


def test_dismissed_signal_is_gone_from_the_next_digest(page, served):
    w, base = served
    since, until = last_week(w)
    spike = next(s for s in w.digest(since, until, fmt="json", dest="-").shown if s.kind == "spike")
    log_in(page, base)
    page.select_option("select[name=kind]", "spike")
    page.click("button:has-text('Filter')")
    card = page.locator(f"#signal-{spike.id}")
    assert card.locator("h2").inner_text().endswith(spike.title)
    assert card.locator(".evidence li").count() >= 1  # the evidence: snippets with their sources
    card.locator("select[name=status]").select_option("dismissed")
    card.locator("input[name=note]").fill("seasonal, seen before")
    card.locator("button:has-text('Save')").click()
    page.wait_for_load_state()
    assert "kind=spike" in page.url
    card = page.locator(f"#signal-{spike.id}")
    assert card.locator(".status").inner_text() == "dismissed"
    assert "set by ana" in card.locator(".review").inner_text()
    assert "seasonal, seen before" in card.locator(".note").inner_text()
    after = w.digest(since, until, fmt="md", dest="-")
    assert spike.id not in {s.id for s in after.shown} and spike.title not in after.text
    assert any(s.kind == "price_shift" for s in after.shown)  # the others are still there


def test_confirmed_candidate_is_known_to_the_extractor(page, served):
    w, base = served
    text = f"{CANDIDATE} 2г 7000 KGS Бишкек"
    assert not [o for o in w.extract(text).offers if o.substance.canonical == CANDIDATE]
    log_in(page, base)
    page.click("nav >> text=Review queue")
    row = page.locator(f"tr[data-candidate='{CANDIDATE}']")
    assert row.locator("td.num").inner_text() == "4"  # its posts
    assert "новинка" in row.inner_text()  # an example
    row.locator("form.confirm select[name=cls]").select_option("synthetic_cannabinoid")
    row.locator("form.confirm button").click()
    page.wait_for_load_state()
    assert page.locator(f"tr[data-candidate='{CANDIDATE}']").count() == 0  # left the queue of new ones
    from npswatch.watch import Watch

    offers = Watch(settings=w.settings).extract(text).offers  # a new process's extractor, from the overlay
    assert [(o.substance.canonical, o.price, o.currency) for o in offers] == [(CANDIDATE, 7000.0, "KGS")]


def test_script_in_a_post_stays_text(page, served):
    _, base = served
    log_in(page, base)
    page.goto(f"{base}/signals?kind=new_substance")
    snippets = page.locator(".snippet").all_inner_texts()
    assert any("<script>alert('x')</script>" in s for s in snippets)  # shown as the characters it is
    assert page.locator("main script").count() == 0 and page.dialogs == []  # never run


def test_form_without_its_csrf_token_is_refused(page, served):
    w, base = served
    log_in(page, base)
    card = page.locator("article.signal").first
    sid = int(card.get_attribute("data-signal-id"))
    card.locator("input[name=csrf]").evaluate("e => e.remove()")
    card.locator("select[name=status]").select_option("escalated")
    with page.expect_response(lambda r: r.url.endswith(f"/signals/{sid}/status")) as resp:
        card.locator("button:has-text('Save')").click()
    assert resp.value.status == 403
    assert "security token" in page.locator(".error").inner_text()
    assert {s.id: s.status for s in w.inbox()}[sid] == "new"


def test_substance_trend_csv_equals_the_table_on_the_page(page, served):
    import csv

    w, base = served
    log_in(page, base)
    page.goto(f"{base}/signals?kind=price_shift")
    page.locator("article.signal a.substance").first.click()  # from the signal to its substance
    page.fill("input[name=country]", "KZ")
    page.click("button:has-text('Show')")
    assert page.locator("#title").inner_text().startswith("Price per unit by week: mephedrone, KZ")
    header = page.locator("#trend thead th").all_inner_texts()
    table = [r.locator("td").all_inner_texts() for r in page.locator("#trend tbody tr").all()]
    assert len(table) > 20 and {r[1] for r in table} == {"Almaty (KZ)", "Astana (KZ)"}
    with page.expect_download() as dl:
        page.click("#csv")
    with open(dl.value.path(), encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    assert rows[0] == header and rows[1:] == table
    expected = w.trends(substance="mephedrone", country="KZ", by="week", group="city").rows
    number = lambda v: float(v) if v else None  # noqa: E731
    assert [(r[0], r[1], int(r[2]), number(r[5])) for r in rows[1:]] == [
        (t.period.isoformat(), t.group, t.offers, None if t.median is None else round(t.median, 2)) for t in expected]


def test_search_finds_the_posts_and_marks_the_words(page, served):
    _, base = served
    log_in(page, base)
    page.click("nav >> text=Search")
    page.fill("input[name=q]", "новинки")
    page.click("main button:has-text('Search')")
    assert page.locator(".count").inner_text() == "4 posts match"
    assert page.locator(".hit mark").all_inner_texts() == ["новинка"] * 4
    assert any("<script>alert('x')</script>" in s for s in page.locator(".hit .snippet").all_inner_texts())
    assert page.dialogs == []
