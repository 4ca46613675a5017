"""`npswatch demo`: the whole chain on the built-in synthetic market, on this machine only.

Serves the fixture market on a free loopback port, crawls its three layouts with the real generic spider
through their TOML site definitions, extracts facts, stores them in the configured database and prints
a summary. Rerunning adds nothing twice (posts are unique per source and external id).
"""
from __future__ import annotations

import re

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from npswatch.storage.db import current_revision, head_revision, upgrade
from npswatch.storage.queries import summary, top_substances
from npswatch.storage.runs import finish_run, start_run
from npswatch.storage.writer import WriteResult

from .watch import App


def run_demo(app: App, out: Console) -> WriteResult:
    from npswatch.crawlers.fixture_market import build_market, serve
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, load_sites
    from npswatch.crawlers.webcrawl import crawl_sites

    settings = app.settings
    engine = app.engine
    if current_revision(engine) != head_revision():
        before, after = upgrade(engine)
        out.print(f"database schema {before or 'empty'} -> {after}")
    writer = app.writer()
    sites = load_sites(FIXTURE_SITES_DIR)
    total = WriteResult()
    run_id = start_run(engine, "demo", ",".join(s.name for s in sites))

    with serve(build_market()) as server, Progress(
        SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out, transient=False
    ) as progress:
        task = progress.add_task(f"crawling {len(sites)} fixture sites at {server.base_url}", total=None)

        def on_batch(posts):
            nonlocal total
            total += writer.write(posts)
            progress.update(task, description=(
                f"crawling {server.base_url}: {total.inserted} new posts, {total.unchanged} unchanged, "
                f"{total.offers} offers"))

        try:
            stats = crawl_sites(sites, base_url=server.base_url, on_batch=on_batch,
                                settings_overrides={"LOG_LEVEL": "WARNING"})
        except BaseException as exc:
            finish_run(engine, run_id, status="failed", items=total.inserted, message=repr(exc))
            raise
        progress.update(task, description=f"crawled {stats.pages} pages, {stats.items} listings")
    finish_run(engine, run_id, status="ok" if not stats.errors else "failed", items=stats.items, errors=stats.errors)

    s = summary(engine)
    table = Table(title="npswatch demo: what is stored", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    span = f"{s['first_post']:%Y-%m-%d} .. {s['last_post']:%Y-%m-%d}" if s["first_post"] else "-"
    for label, value in [
        ("this run", f"{total.inserted} new posts, {total.updated} changed, {total.unchanged} unchanged"),
        ("sources", s["sources"]), ("posts", s["posts"]), ("offers", s["offers"]), ("mentions", s["mentions"]),
        ("substances", s["substances"]), ("cities", s["cities"]), ("countries", s["countries"]),
        ("currencies", s["currencies"]), ("new-name candidates", s["candidates"]), ("date span", span),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    top = Table(title="most mentioned")
    for col in ("substance", "class", "mentions", "offers"):
        top.add_column(col)
    for name, cls, n, o in top_substances(engine, 8):
        top.add_row(name, cls, str(n), str(o))
    out.print(top)
    out.print(f"database: {engine.url.render_as_string(hide_password=True)}")
    out.print(f"try: sqlite3 {settings.data_path / 'npswatch.db'} 'select * from offer limit 5'"
              if engine.url.get_backend_name() == "sqlite" else "")
    demo_reports(app, out)
    return total


def demo_reports(app: App, out: Console) -> None:
    """A trend table, a plot and a digest of what the demo stored, written under <data_dir>/reports/."""
    from datetime import timedelta

    from sqlalchemy import func, select

    from npswatch.reports.digest import Digest, to_html
    from npswatch.reports.plots import plot_trends
    from npswatch.reports.scope import Filters, utc
    from npswatch.reports.signals import Detector, Thresholds, record
    from npswatch.reports.trends import trends
    from npswatch.storage import models as m

    from .cli.reports import print_signal_summary, print_trends

    engine = app.engine
    O, R, S = m.Offer.__table__, m.Region.__table__, m.Substance.__table__
    with engine.connect() as c:
        top = c.execute(select(R.c.country, func.count()).select_from(O.join(R, R.c.id == O.c.region_id))
                        .group_by(R.c.country).order_by(func.count().desc(), R.c.country).limit(1)).first()
        last = c.execute(select(func.max(O.c.observed_at))).scalar()
    if top is None or last is None:
        out.print("no offers stored: no trend or digest to show")
        return
    country = top[0]
    name = func.coalesce(S.c.canonical, S.c.key)
    with engine.connect() as c:  # the substance with most priced offers there: one series, never a mix
        substance = c.execute(select(name).select_from(O.join(R, R.c.id == O.c.region_id)
                                                       .join(S, S.c.id == O.c.substance_id))
                              .where(R.c.country == country)
                              .group_by(name, S.c.canonical)
                              .order_by(S.c.canonical.is_(None), func.count(O.c.price_per_gram).desc(), name).limit(1)).scalar()
    reports_dir = app.settings.data_path / "reports"
    f = Filters(country=country, substance=substance)
    rows = trends(engine, f, by="month", group="city", tier_bounds=app.settings.trends.tiers)
    title = f"Price of {substance} per gram by month and city, {country} (the country with most offers)"
    print_trends([r for r in rows if r.unit in ("g", None)], "table", title=title, limit=20, to=out)
    plot = plot_trends(rows, reports_dir / f"trend-{country}-{re.sub(r'[^0-9A-Za-z]+', '-', substance)}.png", title=title, by="month")

    until = utc(last) + timedelta(days=1)
    since = until - timedelta(days=28)
    detector = Detector(engine, Thresholds.from_mapping(app.settings.signals.model_dump()))
    signals = record(engine, detector.detect(since, until))
    print_signal_summary(signals, to=out)
    digest = reports_dir / "digest-demo.html"
    digest.write_text(to_html(Digest(since, until, signals)), encoding="utf-8")
    out.print(f"trend plot: {plot}")
    out.print(f"digest of the last four weeks of data ({len(signals)} signals): {digest}")
    out.print("more: npswatch trends --help, npswatch digest --help, npswatch serve")
