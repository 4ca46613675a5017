"""The demo use-case (`Watch.demo`, `npswatch demo`): the whole chain on the built-in synthetic market, on
this machine only.

Serves the fixture market on a free loopback port, crawls its three layouts with the real generic spider
through their TOML site definitions, extracts facts, stores them in the configured database and reports
what is stored: a trend table and plot of the country with most offers and a digest of the last four weeks
of data, under <data_dir>/reports/. Rerunning adds nothing twice (posts are unique per source and external id).
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

from .crawl import Notify, quiet
from .results import DemoResult

if TYPE_CHECKING:
    from .watch import Watch


def run_demo(watch: "Watch", notify: Notify | None = None) -> DemoResult:
    from npswatch.crawlers.fixture_market import build_market, serve
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, load_sites
    from npswatch.crawlers.webcrawl import crawl_sites
    from npswatch.storage.queries import summary, top_substances
    from npswatch.storage.writer import WriteResult

    notify = notify or quiet
    engine = watch.engine
    upgraded = None
    before, head = watch.revisions()
    if before != head:
        upgraded = watch.upgrade()
    writer = watch.writer()
    sites = load_sites(FIXTURE_SITES_DIR)
    total = WriteResult()

    with watch.run_record("demo", ",".join(s.name for s in sites)) as run, serve(build_market()) as server:
        notify("progress", f"crawling {len(sites)} fixture sites at {server.base_url}")

        def on_batch(posts):
            nonlocal total
            total += writer.write(posts)
            run.items = total.inserted
            notify("progress", f"crawling {server.base_url}: {total.inserted} new posts, {total.unchanged} unchanged, "
                               f"{total.offers} offers")

        stats = crawl_sites(sites, base_url=server.base_url, on_batch=on_batch,
                            settings_overrides={"LOG_LEVEL": "WARNING"})
        notify("progress", f"crawled {stats.pages} pages, {stats.items} listings")
        run.status, run.items, run.errors = ("ok" if not stats.errors else "failed"), stats.items, stats.errors
    url = engine.url
    result = DemoResult(server.base_url, total, stats.pages, stats.items, summary(engine), top_substances(engine, 8),
                        url.render_as_string(hide_password=True),
                        watch.settings.data_path / "npswatch.db" if url.get_backend_name() == "sqlite" else None,
                        upgraded=upgraded)
    demo_reports(watch, result)
    return result


def demo_reports(watch: "Watch", result: DemoResult | None = None) -> DemoResult | None:
    """A trend table, a plot and a digest of what is stored, written under <data_dir>/reports/; None when no
    offer is stored. Fills `result` (or a new DemoResult with only the report fields)."""
    from npswatch.reports.digest import Digest, to_html
    from npswatch.reports.sales import sales
    from npswatch.reports.scope import Filters
    from npswatch.reports.trends import top_substance

    from .reporting import last_weeks, signals, trends

    found = last_weeks(watch, 4)
    if found is None:
        return None
    country, since, until = found
    reports_dir = watch.settings.data_path / "reports"
    substance = top_substance(watch.engine, country)  # one series: prices of different drugs are never mixed
    title = f"Price of {substance} per gram by month and city, {country} (the country with most offers)"
    t = trends(watch, Filters(country=country, substance=substance), by="month", group="city",
               plot=reports_dir / f"trend-{country}-{re.sub(r'[^0-9A-Za-z]+', '-', substance)}.png", title=title)
    t.rows = [r for r in t.rows if r.unit in ("g", None)]
    s = signals(watch, since, until).signals
    digest = reports_dir / "digest-demo.html"
    sold = sales(watch.engine, since, until, by="substance")
    digest.write_text(to_html(Digest(since, until, s, sales=sold)), encoding="utf-8")
    if result is None:
        from npswatch.storage.writer import WriteResult

        result = DemoResult("", WriteResult(), 0, 0, {}, [], "", None)
    result.trends, result.signals, result.plot, result.digest = t, s, t.plot, digest
    return result
