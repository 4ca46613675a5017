"""The demo use-case (`Watch.demo`, `npswatch demo`): the whole chain on the built-in synthetic market, on
this machine only.

Serves the fixture market on a free loopback port, crawls its three layouts with the real generic spider
through their TOML site definitions: its shop as it stood two days and one day before, then the whole market
as it stands now (stock sold, a few cards restocked: `ROUNDS`), each crawl recording what it saw of every
listing; extracts facts, stores them in the configured database and reports what is stored: a trend table and
plot of the country with most offers and a digest of the last four weeks of data with the sales from the stock
drops, under <data_dir>/reports/. Rerunning adds nothing twice (posts are unique per source and external id, and a crawl
whose moment is stored is not observed again: the rerun crawls the market as it stands now once).
"""
from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from .crawl import Notify, quiet
from .errors import WatchError
from .results import DemoResult

if TYPE_CHECKING:
    from .watch import Watch


# (rounds of market churn, sites crawled, days before the market's "now"): the shop (the only layout that shows
# stock) two days and one day before, then the whole market as it stands now: stock drops and a restock are seen.
ROUNDS = ((0, "fixture-shop", 2), (1, "fixture-shop", 1), (2, None, 0))


def run_demo(watch: "Watch", notify: Notify | None = None) -> DemoResult:
    from npswatch.crawlers.fixture_market import build_market, serve
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, load_sites
    from npswatch.storage.queries import summary, top_substances
    from npswatch.storage.writer import WriteResult

    notify = notify or quiet
    engine = watch.engine
    upgraded = None
    before, head = watch.revisions()
    if before != head:
        upgraded = watch.upgrade()
    writer = watch.writer()  # the extractor is loaded once, before the crawls' child processes start
    sites = load_sites(FIXTURE_SITES_DIR)
    total, pages, items, base_url = WriteResult(), 0, 0, ""
    for i, (changes, only, days_before) in enumerate(ROUNDS):
        market = build_market(changes=changes)
        at = market.now - timedelta(days=days_before)
        observed = _observed(engine, at)
        if observed and i < len(ROUNDS) - 1:
            continue  # a rerun: this crawl is stored; the market as it stands now is crawled again below
        crawled = [s for s in sites if only is None or s.name == only]
        with watch.run_record("demo", ",".join(s.name for s in crawled)) as run, serve(market) as server:
            base_url = server.base_url
            notify("progress", f"crawling {len(crawled)} fixture site(s) at {server.base_url} as on {at:%Y-%m-%d}")
            written, n_pages, n_items, errors, stopped = _crawl(writer, watch, crawled, server.base_url,
                                                                None if observed else (run.id, at))
            total += written
            pages, items = pages + n_pages, items + n_items
            notify("progress", f"crawled {pages} pages, {items} listings: {total.inserted} new posts, "
                               f"{total.unchanged} unchanged, {total.offers} offers")
            run.status, run.items, run.errors = ("ok" if not errors else "failed"), n_items, errors
        if stopped:  # Ctrl-C stopped the crawl: report what is stored, as a single crawl does
            break
    url = engine.url
    result = DemoResult(base_url, total, pages, items, summary(engine), top_substances(engine, 8),
                        url.render_as_string(hide_password=True),
                        watch.settings.data_path / "npswatch.db" if url.get_backend_name() == "sqlite" else None,
                        upgraded=upgraded)
    demo_reports(watch, result)
    return result


def _observed(engine, at: datetime) -> bool:
    """A crawl of the demo as on `at` is stored already (listing observations at that moment)."""
    from sqlalchemy import select

    from npswatch.storage.tables import T_OBS

    with engine.connect() as c:
        return c.execute(select(T_OBS.c.id).where(T_OBS.c.observed_at >= at - timedelta(minutes=1),
                                                  T_OBS.c.observed_at < at + timedelta(minutes=1)).limit(1)).first() \
            is not None


def _crawl(writer, watch: "Watch", sites, base_url: str, observe: tuple[int, datetime] | None):
    """Crawl `sites` in a child process (the crawler's event loop runs once per process) that writes what it
    finds and, with `observe` (crawl run id, moment), what it saw of each listing's price and stock;
    (WriteResult, pages, listings, errors, whether Ctrl-C stopped it)."""
    import multiprocessing

    parent, child = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=_crawl_child,
                                                       args=(writer, watch, sites, base_url, observe, child))
    proc.start()
    child.close()
    try:
        got = parent.recv()
    except EOFError:
        got = "the crawl process ended without a result"
    except BaseException:  # Ctrl-C: the child stops with the parent
        proc.terminate()
        raise
    finally:
        proc.join()
    if isinstance(got, str):
        raise WatchError(f"demo crawl failed: {got}")
    return got


def _crawl_child(writer, watch: "Watch", sites, base_url: str, observe, conn) -> None:
    try:
        from npswatch.crawlers.webcrawl import crawl_sites
        from npswatch.storage.listings import ListingTracker
        from npswatch.storage.writer import WriteResult

        writer.engine.dispose(close=False)  # the parent's connections stay the parent's
        tracker = ListingTracker(writer.engine, watch.pseudonymiser) if observe else None
        total = WriteResult()

        def on_batch(posts):
            nonlocal total
            total += writer.write(posts)
            if tracker is not None:
                tracker.observe(observe[0], posts, observed_at=observe[1])

        stats = crawl_sites(sites, base_url=base_url, on_batch=on_batch, settings_overrides={"LOG_LEVEL": "WARNING"})
        stopped = any(st.finish_reason == "shutdown" for st in stats.sites.values())
        conn.send((total, stats.pages, stats.items, stats.errors, stopped))
    except Exception as exc:  # noqa: BLE001 - sent to the parent, which reports it as one line
        conn.send(f"{type(exc).__name__}: {exc}")
    finally:
        conn.close()


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
