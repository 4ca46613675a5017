"""`npswatch import-listings`: historic listing snapshots of other scrapers, with a progress bar.

The use-case lives in `npswatch.listing_import` (`Watch.import_listings`)."""
from __future__ import annotations

from pathlib import Path

import typer
from rich.text import Text

from .common import console, out, result_file, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

EXAMPLE = """**Example:** a mapping for a CSV with one row per listing and scrape,

    # market-history.toml
    source = "old-market.example"   # stored under this source key
    complete = true                 # each scrape lists every listing: a missing one has disappeared
    country = "GE"
    currency = "USD"
    [time]
    column = "scraped_at"
    format = "%Y-%m-%d %H:%M"       # or iso, unix, unix_ms
    timezone = "Asia/Tbilisi"
    [columns]
    id = ["shop", "listing"]        # one column or several
    text = ["title", "description"]
    price = "price"
    currency = "currency"
    quantity = "weight"
    unit = "unit"
    stock = "stock"
    city = "city"

    npswatch import-listings scrapes/2020-*.csv --map market-history.toml
    npswatch sales --since 2020-01-01 --until 2021-01-01 --by month

(docs/listings-map.toml is a commented mapping.)"""


@app.command("import-listings", epilog=EXAMPLE)
def import_listings(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="CSV or JSON Lines snapshot files (.csv/.tsv are CSV, others JSON Lines, "
                                       "unless the mapping's `format` says)."),
    mapping: Path = typer.Option(..., "--map", "-m", help="Mapping TOML: the columns, the time format, the source key "
                                 "and whether snapshots are complete."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Store listings without extracting facts "
                                    "(`npswatch extract-pending` later)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar."),
) -> None:
    """Import historic listing snapshots scraped by other tools. Each distinct time stamp is one observation of
    every listing in it; listings, prices, stock and disappearances are tracked as in a crawl, so `npswatch
    sales` counts the stock drops. Files need not be sorted; importing the same files again stores nothing twice.
    A bad row is reported with its file and line and skipped."""
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeRemainingColumn

    def _go():
        bar = Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(),
                       TextColumn("{task.completed:,.0f} of {task.total:,.0f} {task.fields[unit]}"),
                       TimeRemainingColumn(), console=console, disable=quiet, transient=True)
        tasks: dict[str, int] = {}

        def progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                name, unit = ("reading files", "bytes") if phase == "read" else ("storing snapshots", "rows")
                tasks[phase] = bar.add_task(name, total=total, unit=unit)
            bar.update(tasks[phase], completed=done, total=total)

        with bar:
            r = ctx.obj.import_listings(files, mapping, extract=not no_extract, on_progress=progress)
        for why in r.bad:
            console.print(Text("skipped ", style="yellow") + Text(why), highlight=False, soft_wrap=True)
        if r.bad_rows > len(r.bad):
            console.print(Text(f"... and {r.bad_rows - len(r.bad)} more bad rows"), highlight=False)
        out.print(Text(r.summary()), highlight=False, soft_wrap=True)
        result_file(ctx, r)

    run(_go)
