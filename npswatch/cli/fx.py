"""`npswatch fx import`: central-bank rate files into the database, for price per gram in USD."""
from __future__ import annotations

from pathlib import Path

import typer

from rich.markup import escape

from .common import console, example, out, result_file, run

fx_app = typer.Typer(help="Exchange rates.\n\nExample:\n\n    npswatch fx import XML_dynamic_KZT.xml", no_args_is_help=True)


@fx_app.command("import", epilog=example("npswatch fx import cbr-2026-03.xml rates.csv"))
def fx_import(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Bank of Russia XML (daily or dynamic) or CSV date,currency,units_per_usd."),
) -> None:
    """Import rate files; ECB rates come built in, these add KZT, KGS, UZS, TJS, BYN and others."""
    def _import():
        r = ctx.obj.import_rates(files)
        result_file(ctx, r)
        for f in r.files:
            span = f"{f.first_day} .. {f.last_day}" if f.first_day else "no days"
            out.print(f"{f.path}: {f.rates} rates, {', '.join(f.currencies) or 'none'}, {span}", highlight=False)
            for reason in f.skipped:
                console.print(f"[yellow]skipped[/] {escape(reason)}", highlight=False, soft_wrap=True)
            if f.skipped:
                console.print(f"{f.path}: {len(f.skipped)} rows skipped", highlight=False)
        out.print(f"{r.items} rates stored")

    run(_import)
