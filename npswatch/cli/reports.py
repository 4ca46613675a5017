"""`npswatch trends`, `places`, `export`, `serve`, `candidates` and `digest`: reports and early warning on the command line.

The use-cases live in `npswatch.reporting` (`Watch.trends`, `Watch.export`, `Watch.digest`, ...)."""
from __future__ import annotations

import json
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from .common import console, example, fail, out, result_file, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

candidates_app = typer.Typer(
    help="Review new-name and slang candidates: find slang (discover), confirm them into the lexicon overlay or "
         "dismiss them.\n\n"
         "Example:\n\n    npswatch candidates list",
    no_args_is_help=True)

SUBSTANCE = typer.Option(None, "--substance", "-s", help="Substance: canonical name or lexicon key (e.g. mephedrone).")
CLASS = typer.Option(None, "--class", help="Substance class, e.g. synthetic_cathinone.")
CITY = typer.Option(None, "--city", help="City name as stored (e.g. Almaty) or GeoNames id.")
COUNTRY = typer.Option(None, "--country", help="ISO country code, e.g. KZ.")
SINCE = typer.Option(None, "--since", help="Start: a span back from now (7d, 4w, 3m) or an ISO date.")
UNTIL = typer.Option(None, "--until", help="End (exclusive): ISO date; default now.")
BY = typer.Option("week", "--by", help="Period: week or month.")


def _filters(substance, cls, city, country, since, until):
    from npswatch.reporting import filters

    return filters(substance=substance, cls=cls, city=city, country=country, since=since, until=until)


def _guard(fn):
    """Config/schema problems and report errors as one line, exit code 2."""
    from npswatch.reports.candidates import ReviewError
    from npswatch.reports.exports import ExportError
    from npswatch.reports.scope import ScopeError
    from npswatch.reports.serve import ServeError

    def inner():
        try:
            return fn()
        except (ScopeError, ExportError, ReviewError, ServeError) as exc:
            fail(str(exc))

    return run(inner)


def _num(v: float | None, digits: int = 0) -> str:
    return "-" if v is None else f"{v:,.{digits}f}"


# --- trends ------------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch trends --substance mephedrone --country KZ --by month --plot meph.png"))
def trends(
    ctx: typer.Context,
    substance: Optional[str] = SUBSTANCE,
    cls: Optional[str] = CLASS,
    city: Optional[str] = CITY,
    country: Optional[str] = COUNTRY,
    by: str = BY,
    group: Optional[str] = typer.Option(None, "--group", help="One row per period and city, country, substance or "
                                        "none (default: substance when --city is given, else city)."),
    since: Optional[str] = SINCE,
    until: Optional[str] = UNTIL,
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    plot: Optional[Path] = typer.Option(None, "--plot", help="Also draw the trend to FILE.png or FILE.svg."),
    tiers: bool = typer.Option(False, "--tiers", help="Also one row per quantity tier: retail, middle, wholesale "
                               "(bounds in [trends] tiers; default <= 1, 1-10, > 10 g or pieces)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Instead: a Telegram channel's subscribers over "
                                          "time (as `npswatch telegram metrics CHANNEL`)."),
    rebuild_aggregate: bool = typer.Option(False, "--rebuild-aggregate", help="Instead: rebuild the weekly "
                                           "aggregate the reports read, from every offer and mention (maintenance: "
                                           "writes keep it fresh by themselves)."),
) -> None:
    """Offers, median and IQR of price per unit (g, piece, ml; local currency and USD) and mentions per period.

    A price series is one substance (--substance) or one class (--class); without either, rows are also
    grouped by substance, and the command says so."""
    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")
    if rebuild_aggregate:
        return _guard(lambda: console.print(f"weekly aggregate rebuilt: "
                                            f"{ctx.obj.refresh_aggregate(full=True)} week segments"))
    if channel:
        from .tgmetrics import show_channel_metrics

        return _guard(lambda: show_channel_metrics(ctx.obj, channel, since, fmt))

    def _go():
        r = ctx.obj.trends(_filters(substance, cls, city, country, since, until), by=by, group=group, plot=plot,
                           tiers=tiers)
        if r.note:
            console.print(f"note: {r.note}")
        print_trends(r.rows, fmt, title=r.title)
        if r.plot is not None:
            console.print(f"plot written to {r.plot}")

    _guard(_go)


def print_trends(rows, fmt: str, title: str = "trends", limit: int | None = None, to=None) -> None:
    to = to or out
    if fmt == "json":
        sys.stdout.write(json.dumps([r.to_dict() for r in rows], ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        import csv

        from npswatch.reports.exports import csv_safe

        w = csv.writer(sys.stdout)
        if rows:
            w.writerow(list(rows[0].to_dict()))
        for r in rows:
            w.writerow([csv_safe(v) for v in r.to_dict().values()])
        return
    shown = rows[-limit:] if limit else rows
    one_series = len({r.series for r in rows if r.unit}) <= 1
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    t.add_column("period", no_wrap=True, min_width=10)
    if not one_series:
        t.add_column("series", no_wrap=True, max_width=22, overflow="ellipsis")
    t.add_column("group", no_wrap=True, max_width=18, overflow="ellipsis")
    t.add_column("per", no_wrap=True)
    for col in ("offers", "median", "IQR", "USD", "posts", "ads"):
        t.add_column(col, justify="right", no_wrap=col != "IQR")
    for r in shown:
        per = (r.unit or "-") + ("" if r.tier == "all sizes" else f", {r.tier}")
        t.add_row(r.period.isoformat(), *([] if one_series else [escape(str(r.series))]), escape(str(r.group)), per,
                  str(r.offers),
                  f"{_num(r.median)} {r.currency or ''}".strip() if r.median is not None else "-",
                  f"{_num(r.q1)}–{_num(r.q3)}" if r.q1 is not None else "-",
                  _num(r.usd_median, 2), str(r.mentions), str(r.ads))
    to.print(t)
    if not rows:
        to.print("no offers or mentions match these filters")
    elif limit and len(rows) > limit:
        to.print(f"(last {limit} of {len(rows)} rows; --format csv for all)")


# --- places -------------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch places --substance alpha-PVP --since 12w --svg alpha-pvp-map.svg"))
def places(
    ctx: typer.Context,
    substance: Optional[str] = SUBSTANCE,
    cls: Optional[str] = CLASS,
    city: Optional[str] = CITY,
    country: Optional[str] = COUNTRY,
    since: Optional[str] = SINCE,
    until: Optional[str] = UNTIL,
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
    svg: Optional[Path] = typer.Option(None, "--svg", help="Also draw the map of the cities to FILE.svg."),
    frame: str = typer.Option("all", "--frame", help="What the map is framed on: all (the focus countries), "
                              "central_asia, europe, caucasus, china, or auto (the smallest holding the cities)."),
) -> None:
    """Where and since when: every city (or country, when a post names no city) the posts name, earliest first,
    with first and last seen, posts, distinct ads, sources and offers. --svg draws the cities, sized by distinct
    ads, on an offline map of the focus countries (Natural Earth boundaries; nothing fetched)."""
    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")

    def _go():
        r = ctx.obj.places(_filters(substance, cls, city, country, since, until), svg=svg, frame=frame)
        rows = [p.to_dict() for p in r.places]
        if fmt == "json":
            sys.stdout.write(json.dumps(rows, ensure_ascii=False, default=str) + "\n")
        elif fmt == "csv":
            import csv

            from npswatch.reports.exports import csv_safe

            w = csv.writer(sys.stdout)
            w.writerow(list(rows[0]) if rows else ["place"])
            w.writerows([csv_safe(v) for v in row.values()] for row in rows)
        else:
            t = Table(title=r.title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
            for col in ("place", "first seen", "last seen", "posts", "ads", "sources", "offers"):
                t.add_column(col, justify="left" if "seen" in col or col == "place" else "right", no_wrap=True)
            for p in r.places:
                t.add_row(escape(p.place), f"{p.first_seen:%Y-%m-%d}", f"{p.last_seen:%Y-%m-%d}", str(p.posts),
                          str(p.ads), str(p.sources), str(p.offers))
            out.print(t)
            if not r.places:
                out.print("no posts match these filters")
        if r.path is not None:
            console.print(f"map written to {r.path} ({len(r.cities)} cities)")

    _guard(_go)


# --- export -------------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch export offers --format parquet --out offers.parquet --country KG\n\n"
                            "    npswatch export offers --aggregate --min-cell 5 --by month --format csv --out cells.csv"))
def export(
    ctx: typer.Context,
    what: str = typer.Argument(..., help="offers, mentions or posts."),
    fmt: str = typer.Option("csv", "--format", "-f", help="csv, parquet or jsonl."),
    dest: Optional[Path] = typer.Option(None, "--out", "-o", help="Output file (default stdout; parquet needs one)."),
    substance: Optional[str] = SUBSTANCE,
    cls: Optional[str] = CLASS,
    city: Optional[str] = CITY,
    country: Optional[str] = COUNTRY,
    since: Optional[str] = SINCE,
    until: Optional[str] = UNTIL,
    aggregate: bool = typer.Option(False, "--aggregate", help="City x period x substance cells instead of rows."),
    min_cell: int = typer.Option(1, "--min-cell", help="With --aggregate: leave out cells with fewer observations."),
    by: str = BY,
) -> None:
    """Export offers, mentions or posts (no raw handles); `--aggregate --min-cell N` for publication."""
    def _go():
        r = ctx.obj.export(what, fmt, dest, _filters(substance, cls, city, country, since, until),
                           aggregate=aggregate, min_cell=min_cell, by=by)
        console.print(f"{r.rows} {'cells' if aggregate else what} written to {dest or 'stdout'}")

    _guard(_go)


# --- serve --------------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch sales --since 2026-01-01 --until 2026-04-01 --by month --currency USD"))
def sales(
    ctx: typer.Context,
    since: str = typer.Option(..., "--since", help="Start: a span back from now (7d, 4w, 3m) or an ISO date."),
    until: Optional[str] = UNTIL,
    by: str = typer.Option("substance", "--by", help="substance, region or month."),
    currency: Optional[str] = typer.Option(None, "--currency", help="Money in this currency (USD), at the day's "
                                           "rate; default each listing's own currency."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
) -> None:
    """Units and money sold, estimated from stock drops of listings that show their stock."""
    from npswatch.reports.sales import METHOD

    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")
    if currency and currency.upper() != "USD":
        fail("--currency: only USD is supported (rates are stored per USD)")

    def _go():
        rows = ctx.obj.sales(since, until, by=by, currency=currency.upper() if currency else None)
        if fmt == "json":
            sys.stdout.write(json.dumps({"method": METHOD, "rows": [r.to_dict() for r in rows]},
                                        ensure_ascii=False) + "\n")
            return
        if fmt == "csv":
            import csv

            from npswatch.reports.exports import csv_safe

            w = csv.writer(sys.stdout)
            w.writerow(["key", "currency", "listings", "drops", "units", "grams", "money", "unpriced_units"])
            for r in rows:
                w.writerow([csv_safe(v) for v in r.to_dict().values()])
            return
        t = Table(title=f"Sales by {by}", box=box.SIMPLE_HEAD, pad_edge=False)
        for col in (by, "listings", "drops", "units", "grams", "money"):
            t.add_column(col, justify="left" if col == by else "right")
        for r in rows:
            t.add_row(escape(r.key), str(r.listings), str(r.drops), str(r.units),
                      _num(r.grams, 1), f"{_num(r.money, 2)} {r.currency or ''}".strip() if r.money is not None else "-")
        out.print(t)
        if not rows:
            out.print("no stock drops in this period")
        console.print(f"method: {METHOD}")

    _guard(_go)


@app.command(epilog=example("npswatch ads"))
def ads(ctx: typer.Context) -> None:
    """Cluster new posts into distinct ads: reposts of one ad (edits, emoji, reordered lines, new prices) share it.

    Trends, signals and the digest then count distinct ads and sources next to posts, and the channel graph
    links channels that posted the same ad. `signals` and `digest` run this first by themselves."""
    def _go():
        r = ctx.obj.assign_ads()
        console.print(f"{r.posts} posts assigned, {r.new_ads} new ads; {r.ads} distinct ads stored")

    _guard(_go)


@app.command(epilog=example("npswatch serve --port 8001   # then open http://127.0.0.1:8001"))
def serve(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on (keep loopback unless behind a proxy)."),
    port: int = typer.Option(8001, "--port", help="TCP port."),
) -> None:
    """Browse and query the SQLite database read-only in Datasette (optional extra `web`)."""
    from npswatch.reports.serve import serve as do_serve, sqlite_path

    def _go():
        engine = ctx.obj.checked_engine()
        path = sqlite_path(engine)
        console.print(f"serving {path} read-only at http://{host}:{port}/ (Ctrl-C to stop)")
        do_serve(engine, host=host, port=port)

    _guard(_go)


# --- candidates -----------------------------------------------------------------------------------------------
@candidates_app.command("list", epilog=example("npswatch candidates list --status all\n\n"
                                                 "    npswatch candidates list --kind slang"))
def candidates_list(
    ctx: typer.Context,
    status: str = typer.Option("new", "--status", help="new, confirmed, dismissed or all."),
    kind: str = typer.Option("all", "--kind", help="new_name, slang or all."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Candidates: new names that look like substances but are not in the lexicon, and slang words markets keep
    using where prices and weights are (`candidates discover`), with posts, first and last seen and examples."""
    from rich.markup import escape

    def _go():
        rows = ctx.obj.candidates(status, kind)
        if fmt == "json":
            sys.stdout.write(json.dumps([r.to_dict() for r in rows], ensure_ascii=False) + "\n")
            return
        t = Table(title=f"candidates ({status}, {kind})")
        for col in ("name", "kind", "class", "posts", "first seen", "last seen", "status", "example"):
            t.add_column(col)
        for r in rows:
            t.add_row(escape(r.name), r.kind, r.cls, str(r.posts), f"{r.first_seen:%Y-%m-%d}" if r.first_seen else "-",
                      f"{r.last_seen:%Y-%m-%d}" if r.last_seen else "-", r.status,
                      escape(r.examples[0]) if r.examples else "")
        out.print(t)

    _guard(_go)


@candidates_app.command("discover", epilog=example("npswatch candidates discover --top 50\n\n"
                                                     "    npswatch candidates list --kind slang"))
def candidates_discover(
    ctx: typer.Context,
    top: int = typer.Option(50, "--top", min=1, help="How many of the best words to file."),
    since: Optional[str] = typer.Option(None, "--since", help="Only posts since: a span back from now (90d, 6m) or "
                                        "an ISO date."),
) -> None:
    """Slang discovery: words the lexicon does not know, seen again and again where prices, weights and shop words
    are, filed as slang candidates (review them with `candidates list --kind slang`, then confirm or dismiss)."""
    from rich.markup import escape

    def _go():
        found = ctx.obj.discover_slang(top=top, since=since)
        out.print(f"read {found.posts} posts ({found.market_posts} in market context); filed "
                  f"{len(found.candidates)} slang candidates"
                  + (f" ({found.skipped} of the best already reviewed or listed as new names)" if found.skipped else ""))
        for s in found.candidates[:10]:
            out.print(f"  {escape(s.word)}  posts {s.market_posts}  score {s.score:,.0f}")

    _guard(_go)


@candidates_app.command("confirm", epilog=example(
    "npswatch candidates confirm 4F-ABUTINACA --class synthetic_cannabinoid\n\n"
    "    npswatch candidates confirm сирец --canonical heroin"))
def candidates_confirm(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The name as listed."),
    cls: Optional[str] = typer.Option(None, "--class", help="Its substance class, e.g. synthetic_cannabinoid "
                                      "(optional when --canonical names a lexicon substance)."),
    canonical: Optional[str] = typer.Option(None, "--canonical", help="Canonical name (default: NAME); an existing "
                                            "substance's canonical name or lexicon key makes NAME an alias of it."),
) -> None:
    """Add a name to the lexicon overlay: the next extraction recognises it as a substance."""
    def _go():
        r = ctx.obj.confirm_candidate(name, cls, canonical)
        note = "" if r.was_candidate else " (it was not a listed candidate)"
        out.print(f"confirmed {escape(repr(r.name))} as {r.canonical} ({r.cls}, substance {r.substance_key}){note}; "
                  f"moved {r.moved_mentions} mentions and {r.moved_offers} offers. The next extraction "
                  "recognises it.")

    _guard(_go)


@candidates_app.command("dismiss", epilog=example("npswatch candidates dismiss XYZ-123"))
def candidates_dismiss(ctx: typer.Context, name: str = typer.Argument(..., help="The name as listed.")) -> None:
    """Stop reporting a candidate (in lists and signals)."""
    def _go():
        ctx.obj.dismiss_candidate(name)
        out.print(f"dismissed {escape(repr(name))}: it will not be reported again")

    _guard(_go)


# --- digest ---------------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch digest --since 7d --format html --out digest.html\n\n"
                            "    npswatch digest --since 7d --send   # e-mail and webhooks of [digest] in the config"))
def digest(
    ctx: typer.Context,
    since: str = typer.Option("7d", "--since", help="Start: a span back from now (7d, 4w) or an ISO date."),
    until: Optional[str] = UNTIL,
    fmt: str = typer.Option("html", "--format", "-f", help="html, md or json."),
    dest: Optional[str] = typer.Option(None, "--out", "-o", help="Output file, '-' for stdout "
                                       "(default <data_dir>/reports/digest-<date>.<format>)."),
    send: bool = typer.Option(False, "--send", help="Deliver to the configured recipients (each signal once; "
                              "failed deliveries are retried next run)."),
    country: Optional[str] = typer.Option(None, "--country", help="Only signals concerning this country."),
    cls: Optional[str] = CLASS,
) -> None:
    """Detect the period's signals, store them, write the digest and optionally send it."""
    if fmt not in ("html", "md", "json"):
        fail("--format must be html, md or json")

    def _go():
        from npswatch.reports.scope import parse_since

        start = parse_since(since)
        end = parse_since(until) if until else datetime.now(timezone.utc)
        if start >= end:
            fail(f"--since {since} is not before the end of the period ({end:%Y-%m-%d %H:%M})")
        r = ctx.obj.digest(start, end, fmt=fmt, dest=dest, send=send, country=country, cls=cls)
        result_file(ctx, r)
        if r.path is None:
            sys.stdout.write(r.text)
        else:
            print_signal_summary(r.shown)
            out.print(f"digest ({len(r.shown)} signals, {start:%Y-%m-%d} to {end:%Y-%m-%d}) written to {r.path}")
        if r.delivered:
            print_delivery(r)
        if r.failed:
            raise typer.Exit(1)

    _guard(_go)


def print_signal_summary(signals, to=None) -> None:
    to = to or out
    if not signals:
        to.print("no signals in this period")
        return
    t = Table(title="signals")
    for col in ("kind", "class", "signal", "posts", "sources"):
        t.add_column(col)
    for s in signals:
        t.add_row(s.kind, s.cls, escape(s.title), str(s.posts), str(s.sources))
    to.print(t)


def print_delivery(r) -> None:
    for key, n in r.sent.items():
        out.print(f"sent {n} signals to {key}")
    for key, err in r.failed.items():
        console.print(f"[bold red]delivery to {key} failed[/] ({err}); it is kept and retried by the next run")
    if not r.sent and not r.failed:
        out.print("nothing new to send")
