"""The substance page's charts and the map in a real browser (Debian's Chromium driven by Playwright, as in
tests/test_webapp_browser.py, whose fixtures these tests share).

Open a substance: the charts are drawn (by the vendored uPlot, under a CSP that allows no inline script) with
the numbers of the table beside them; hovering a point shows that period's median and IQR, dragging zooms,
a legend click hides a group with its band; every CSV download equals its table on the page. The map shows a
circle for each city with activity, sized by distinct ads, and loads nothing from another host.
"""
from __future__ import annotations

import csv
from datetime import datetime, timedelta, timezone

import test_webapp_browser as shared
from test_webapp_browser import log_in

browser, served, page = shared.browser, shared.served, shared.page  # the fixtures of those tests


def _table(page, table_id: str) -> tuple[list[str], list[list[str]]]:
    header = page.locator(f"#{table_id} thead th").all_inner_texts()
    return header, [r.locator("td").all_inner_texts() for r in page.locator(f"#{table_id} tbody tr").all()]


def _download(page, link: str) -> list[list[str]]:
    with page.expect_download() as dl:
        page.click(link)
    with open(dl.value.path(), encoding="utf-8", newline="") as fh:
        return list(csv.reader(fh))


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).date().isoformat()


def _number(v: str):
    return float(v) if v else None


def test_substance_charts_show_the_table_and_respond_to_the_mouse(page, served):
    w, base = served
    problems = []
    page.on("console", lambda m: problems.append(m.text) if m.type in ("error", "warning") else None)
    page.on("pageerror", lambda e: problems.append(str(e)))
    log_in(page, base)
    page.click("nav >> text=Substances")
    page.fill("input[name=substance]", "mephedrone")
    page.fill("input[name=country]", "KZ")
    page.click("button:has-text('Show')")
    chart = page.locator(".chart[data-chart]").first
    chart.locator("canvas").wait_for()
    header, table = _table(page, "trend")
    assert header[:4] == ["period", "group", "unit", "tier"] and len(table) > 20
    # the chart's data are the table's: per group, the median, q1 and q3 of each period
    data = chart.evaluate("e => e.uplot.data")
    labels = chart.evaluate("e => e.uplot.series.map(s => s.label)")
    assert labels == ["period", "Almaty (KZ)", "Almaty (KZ) q1", "Almaty (KZ) q3",
                      "Astana (KZ)", "Astana (KZ) q1", "Astana (KZ) q3"]
    days = [_day(x) for x in data[0]]
    from_chart = {(days[i], labels[s]): (data[s][i], data[s + 1][i], data[s + 2][i])
                  for s in (1, 4) for i in range(len(days)) if data[s][i] is not None}
    col = {c: header.index(c) for c in ("median", "q1", "q3")}
    from_table = {(r[0], r[1]): tuple(_number(r[col[c]]) for c in ("median", "q1", "q3"))
                  for r in table if r[col["median"]]}
    assert from_chart == from_table
    assert chart.evaluate("e => e.uplot.series[0].label") == "period" and "KZT per g" in chart.inner_text()

    # hover: a point of Almaty in the middle; the legend shows its period, median and IQR as the table does
    i = [k for k in range(len(days)) if data[1][k] is not None][len(days) // 2]
    chart.scroll_into_view_if_needed()
    box = chart.locator(".u-over").bounding_box()
    x, y = chart.evaluate(f"e => [e.uplot.valToPos(e.uplot.data[0][{i}], 'x'), "
                          f"e.uplot.valToPos(e.uplot.data[1][{i}], 'y')]")
    page.mouse.move(box["x"] + x, box["y"] + y, steps=5)
    legend = chart.locator(".u-legend .u-series")
    row = next(r for r in table if r[0] == days[i] and r[1] == "Almaty (KZ)")
    assert legend.nth(0).locator(".u-value").inner_text() == days[i]
    assert legend.nth(1).locator(".u-value").inner_text() == f"{row[col['median']]} ({row[col['q1']]}–{row[col['q3']]})"
    assert not legend.nth(2).is_visible()  # a band's edges stay out of the legend

    # drag to zoom into the middle, double-click to zoom out
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] / 2)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] / 2, steps=8)
    page.mouse.up()
    lo, hi = chart.evaluate("e => [e.uplot.scales.x.min, e.uplot.scales.x.max]")
    assert data[0][0] < lo < hi < data[0][-1]
    page.mouse.dblclick(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    assert chart.evaluate("e => [e.uplot.scales.x.min, e.uplot.scales.x.max]") == [data[0][0], data[0][-1]]

    # a legend click hides Astana and its band; another shows them again
    legend.nth(4).locator(".u-label").click()
    assert chart.evaluate("e => e.uplot.series.slice(1).map(s => s.show)") == [True] * 3 + [False] * 3
    legend.nth(4).locator(".u-label").click()
    assert chart.evaluate("e => e.uplot.series.slice(1).map(s => s.show)") == [True] * 6

    # posts and distinct ads per week: the second chart is its table
    weekly = page.locator("#weekly-chart")
    _, wtable = _table(page, "weekly")
    wdata = weekly.evaluate("e => e.uplot.data")
    assert [[_day(x), str(p), str(a)] for x, p, a in zip(*wdata)] == [r[:3] for r in wtable]
    assert problems == []  # nothing refused by the Content-Security-Policy, no script error


def test_every_csv_download_equals_its_table_on_the_page(page, served):
    w, base = served
    log_in(page, base)
    page.goto(f"{base}/substance?substance=4F-TESTINACA")
    for table_id, link in (("trend", "#csv"), ("weekly", "#csv-weekly"), ("places", "#csv-places"),
                           ("sources", "#csv-sources"), ("posts", "#csv-posts")):
        header, table = _table(page, table_id)
        rows = _download(page, link)
        assert rows[0] == header and rows[1:] == table and table, table_id
    # the latest posts as stored: the planted <script> is text in the page and in the CSV, never run
    _, posts = _table(page, "posts")
    assert any("<script>alert('x')</script>" in r[4] for r in posts)
    assert page.locator("main script").count() == 0 and page.dialogs == []
    first = page.locator("#first-seen")
    assert first.locator(".where").inner_text() == "Almaty (KZ)"
    assert first.locator(".when").inner_text() == f"{w.history.last_week + timedelta(days=1):%Y-%m-%d %H:%M}"


def test_map_shows_the_cities_with_activity(page, served):
    w, base = served
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    log_in(page, base)
    page.click("nav >> text=Map")
    page.fill("input[name=substance]", "alpha-PVP")
    page.click("button:has-text('Show')")
    circles = page.locator("svg.map circle[data-city]")
    shown = {c.get_attribute("data-city"): int(c.get_attribute("data-ads")) for c in circles.all()}
    expected = {p.name: p.ads for p in w.places(substance="alpha-PVP").places}
    assert shown == expected and len(shown) == 7
    header, table = _table(page, "places")
    assert {r[0].split(" (")[0]: int(r[header.index("distinct ads")]) for r in table} == expected
    assert _download(page, "#csv")[1:] == table
    # the biggest circle is the city with most distinct ads; its tooltip gives its figures
    radii = {c.get_attribute("data-city"): float(c.get_attribute("r")) for c in circles.all()}
    assert max(radii, key=radii.get) == max(expected, key=expected.get)
    tip = page.locator("svg.map circle[data-city='Karaganda'] title").text_content()
    assert tip.startswith(f"Karaganda (KZ): {expected['Karaganda']} distinct ads") and "first seen" in tip
    # the last week only: the new city is there, and only cities of that week
    page.fill("input[name=since]", f"{w.history.last_week:%Y-%m-%d}")
    page.click("button:has-text('Show')")
    last = {c.get_attribute("data-city") for c in page.locator("svg.map circle[data-city]").all()}
    assert "Karaganda" in last and last == {p.name for p in w.places(substance="alpha-PVP",
                                                                     since=w.history.last_week).places}
    assert page.locator("svg.map path[data-country='KZ']").count() == 1
    assert all(u.startswith(base) for u in requests)  # no tile server, no script, nothing from elsewhere
