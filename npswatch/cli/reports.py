"""`npswatch trends`, `export`, `serve`, `candidates` and `digest`: reports and early warning on the command line."""
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

from .common import console, example, fail, out, run

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
    from npswatch.reports.scope import Filters, parse_since

    if city and country:
        fail("give --city or --country, not both")
    return Filters(substance=substance, cls=cls, city=city, country=country,
                   since=parse_since(since) if since else None, until=parse_since(until) if until else None)


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
) -> None:
    """Offers, median and IQR of price per unit (g, piece, ml; local currency and USD) and mentions per period.

    A price series is one substance (--substance) or one class (--class); without either, rows are also
    grouped by substance, and the command says so."""
    from npswatch.reports.trends import trends as compute

    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")
    if plot is not None and plot.suffix.lower() not in (".png", ".svg"):
        fail("--plot needs a file ending in .png or .svg")
    group = group or ("substance" if city else "city")

    def _go():
        from npswatch.reports.trends import mixing_note

        f = _filters(substance, cls, city, country, since, until)
        rows = compute(ctx.obj.checked_engine(), f, by=by, group=group, tiers=tiers,
                       tier_bounds=ctx.obj.settings.trends.tiers)
        note = mixing_note(f, group)
        if note:
            console.print(f"note: {note}")
        print_trends(rows, fmt, title=_title(f, by))
        if plot is not None:
            from npswatch.reports.plots import plot_trends

            plot_trends(rows, plot, title=_title(f, by), by=by)
            console.print(f"plot written to {plot}")

    _guard(_go)


def _title(f, by: str) -> str:
    what = f.substance or (f.cls and f.cls.replace("_", " ")) or "all substances"
    where = f.city or f.country or "all regions"
    span = ""
    if f.since or f.until:
        span = f", {f.since:%Y-%m-%d}" if f.since else ", …"
        span += f" to {f.until:%Y-%m-%d}" if f.until else " to now"
    return f"Price per unit by {by}: {what}, {where}{span}"


def print_trends(rows, fmt: str, title: str = "trends", limit: int | None = None, to=None) -> None:
    to = to or out
    if fmt == "json":
        sys.stdout.write(json.dumps([r.to_dict() for r in rows], ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        import csv

        w = csv.writer(sys.stdout)
        if rows:
            w.writerow(list(rows[0].to_dict()))
        for r in rows:
            w.writerow(list(r.to_dict().values()))
        return
    shown = rows[-limit:] if limit else rows
    one_series = len({r.series for r in rows if r.unit}) <= 1
    t = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False, collapse_padding=True)
    t.add_column("period", no_wrap=True, min_width=10)
    if not one_series:
        t.add_column("series", no_wrap=True, max_width=22, overflow="ellipsis")
    t.add_column("group", no_wrap=True, max_width=18, overflow="ellipsis")
    t.add_column("per", no_wrap=True)
    for col in ("offers", "median", "IQR", "USD", "posts"):
        t.add_column(col, justify="right", no_wrap=col != "IQR")
    for r in shown:
        per = (r.unit or "-") + ("" if r.tier == "all sizes" else f", {r.tier}")
        t.add_row(r.period.isoformat(), *([] if one_series else [escape(r.series)]), escape(r.group), per,
                  str(r.offers),
                  f"{_num(r.median)} {r.currency or ''}".strip() if r.median is not None else "-",
                  f"{_num(r.q1)}–{_num(r.q3)}" if r.q1 is not None else "-",
                  _num(r.usd_median, 2), str(r.mentions))
    to.print(t)
    if not rows:
        to.print("no offers or mentions match these filters")
    elif limit and len(rows) > limit:
        to.print(f"(last {limit} of {len(rows)} rows; --format csv for all)")


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
    from npswatch.reports.exports import export as do_export

    def _go():
        f = _filters(substance, cls, city, country, since, until)
        n = do_export(ctx.obj.checked_engine(), what, fmt, dest, f, pseudonymiser=ctx.obj.pseudonymiser,
                      aggregate=aggregate, min_cell=min_cell, by=by)
        console.print(f"{n} {'cells' if aggregate else what} written to {dest or 'stdout'}")

    _guard(_go)


# --- serve --------------------------------------------------------------------------------------------------
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

    from npswatch.reports.candidates import list_candidates

    def _go():
        rows = list_candidates(ctx.obj.checked_engine(), None if status == "all" else status,
                               None if kind == "all" else kind)
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

    from npswatch.pipelines.regions import Gazetteer
    from npswatch.reports.scope import parse_since
    from npswatch.reports.slang import discover

    def _go():
        engine = ctx.obj.checked_engine()
        found = discover(engine, ctx.obj.extractor(engine).matcher, Gazetteer.default(), top,
                         parse_since(since) if since else None)
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
    from npswatch.reports.candidates import confirm

    def _go():
        r = confirm(ctx.obj.checked_engine(), name, cls, canonical)
        note = "" if r.was_candidate else " (it was not a listed candidate)"
        out.print(f"confirmed {r.name!r} as {r.canonical} ({r.cls}, substance {r.substance_key}){note}; "
                  f"moved {r.moved_mentions} mentions and {r.moved_offers} offers. The next extraction "
                  "recognises it.")

    _guard(_go)


@candidates_app.command("dismiss", epilog=example("npswatch candidates dismiss XYZ-123"))
def candidates_dismiss(ctx: typer.Context, name: str = typer.Argument(..., help="The name as listed.")) -> None:
    """Stop reporting a candidate (in lists and signals)."""
    from npswatch.reports.candidates import dismiss

    def _go():
        dismiss(ctx.obj.checked_engine(), name)
        out.print(f"dismissed {name!r}: it will not be reported again")

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
        report = run_digest(ctx.obj, start, end, fmt=fmt, dest=dest, send=send, country=country, cls=cls)
        if report is not None and report.failed:
            raise typer.Exit(1)

    _guard(_go)


def run_digest(app_ctx, start: datetime, end: datetime, *, fmt: str = "html", dest: str | None = None,
               send: bool = False, country: str | None = None, cls: str | None = None, to=None):
    """The digest job (also for the scheduler): detect and store the signals of [start, end), write the digest
    (`dest` '-' is stdout; None is <data_dir>/reports/digest-<date>.<fmt>) and, with `send`, deliver it.
    Returns the delivery report (None without `send`)."""
    from npswatch.reports.digest import Digest, render
    from npswatch.reports.signals import Detector, Thresholds, record

    to = to or out
    settings = app_ctx.settings
    engine = app_ctx.checked_engine()
    detector = Detector(engine, Thresholds.from_mapping(settings.signals.model_dump()))
    signals = record(engine, detector.detect(start, end))
    shown = [s for s in signals if (not country or country.upper() in s.countries) and (not cls or s.cls == cls)]
    text = render(Digest(start, end, shown), fmt)
    if dest == "-":
        sys.stdout.write(text)
    else:
        path = Path(dest) if dest else settings.data_path / "reports" / f"digest-{end:%Y-%m-%d}.{fmt}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        print_signal_summary(shown, to=to)
        to.print(f"digest ({len(shown)} signals, {start:%Y-%m-%d} to {end:%Y-%m-%d}) written to {path}")
    return deliver_digest(app_ctx, signals, start, end, to=to) if send else None


def print_signal_summary(signals, to=None) -> None:
    to = to or out
    if not signals:
        to.print("no signals in this period")
        return
    t = Table(title="signals")
    for col in ("kind", "class", "signal", "posts", "sources"):
        t.add_column(col)
    for s in signals:
        t.add_row(s.kind, s.cls, s.title, str(s.posts), str(s.sources))
    to.print(t)


def deliver_digest(app_ctx, signals, start, end, to=None):
    """Enqueue and deliver to the configured recipients; returns the DeliveryReport."""
    from npswatch.reports.delivery import SmtpSettings, channels, send

    to = to or out
    settings = app_ctx.settings
    chans = channels(settings.digest.recipients)
    if not chans:
        fail("--send: no recipients configured ([[digest.recipients]] in the config)")
    smtp = settings.digest.smtp
    report = send(app_ctx.engine, chans, SmtpSettings(
        host=smtp.host, port=smtp.port, starttls=smtp.starttls, ssl=smtp.ssl, username=smtp.username,
        password=smtp.password.get_secret_value(), sender=smtp.sender), signals, start, end)
    for key, n in report.sent.items():
        to.print(f"sent {n} signals to {key}")
    for key, err in report.failed.items():
        console.print(f"[bold red]delivery to {key} failed[/] ({err}); it is kept and retried by the next run")
    if not report.sent and not report.failed:
        to.print("nothing new to send")
    return report
