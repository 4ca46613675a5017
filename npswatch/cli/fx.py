"""`npswatch fx import`: central-bank rate files into the database, for price per gram in USD."""
from __future__ import annotations

from pathlib import Path

import typer

from .common import example, fail, out, run

fx_app = typer.Typer(help="Exchange rates.\n\nExample:\n\n    npswatch fx import XML_dynamic_KZT.xml", no_args_is_help=True)


@fx_app.command("import", epilog=example("npswatch fx import cbr-2026-03.xml rates.csv"))
def fx_import(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="Bank of Russia XML (daily or dynamic) or CSV date,currency,units_per_usd."),
) -> None:
    """Import rate files; ECB rates come built in, these add KZT, KGS, UZS, TJS, BYN and others."""
    from npswatch.pipelines.fx import parse_cbr_xml, parse_rates_csv
    from npswatch.storage.fxstore import store_rates

    def _import():
        engine = ctx.obj.checked_engine()
        total = 0
        for f in files:
            if not f.exists():
                fail(f"{f}: no such file")
            data = f.read_bytes()
            try:
                if data.lstrip().startswith(b"<"):
                    rates = parse_cbr_xml(data)
                else:
                    rates = parse_rates_csv(data.decode("utf-8-sig"))
            except ValueError as exc:
                fail(f"{f}: {exc}")
            n = store_rates(engine, rates)
            currencies = sorted({r.currency for r in rates})
            days = sorted({r.day for r in rates})
            span = f"{days[0]} .. {days[-1]}" if days else "no days"
            out.print(f"{f}: {n} rates, {', '.join(currencies) or 'none'}, {span}")
            total += n
        out.print(f"{total} rates stored")

    run(_import)
