"""`npswatch search`: full-text search over stored post texts, hits highlighted in the terminal.

The use-case is `Watch.search` (npswatch/search.py); scraped text is printed as rich `Text`, never as markup."""
from __future__ import annotations

import json
import re
import sys
from typing import Optional

import typer
from rich.text import Text

from .common import console, example, fail, out, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them


@app.command(epilog=example('npswatch search "мефедрон Алматы" --since 30d\n\n'
                            '    npswatch search alpha --kind telegram --substance alpha-PVP --format json'))
def search(
    ctx: typer.Context,
    words: str = typer.Argument(..., help="Words that must all occur (Russian words match their other forms)."),
    source: Optional[str] = typer.Option(None, "--source", help="Only this source (site or channel, as stored)."),
    kind: Optional[str] = typer.Option(None, "--kind", help="Only web, telegram or export sources."),
    substance: Optional[str] = typer.Option(None, "--substance", "-s", help="Only posts naming this substance."),
    cls: Optional[str] = typer.Option(None, "--class", help="Only posts naming a substance of this class."),
    since: Optional[str] = typer.Option(None, "--since", help="Posted from: a span back (7d, 4w) or ISO date."),
    until: Optional[str] = typer.Option(None, "--until", help="Posted before: ISO date."),
    limit: int = typer.Option(20, "--limit", "-n", help="Hits to show (1-500)."),
    offset: int = typer.Option(0, "--offset", help="Skip this many hits (the next page)."),
    fmt: str = typer.Option("table", "--format", "-f", help="table or json."),
) -> None:
    """Search the stored post texts (pseudonymised, as stored); best hits first, matched words highlighted."""
    from npswatch.reports.scope import ScopeError

    if fmt not in ("table", "json"):
        fail("--format must be table or json")

    def _go():
        try:
            r = ctx.obj.search(words, source=source, kind=kind, substance=substance, cls=cls, since=since,
                               until=until, limit=limit, offset=offset)
        except ScopeError as exc:
            fail(str(exc))
        if fmt == "json":
            sys.stdout.write(json.dumps(r.to_dict(), ensure_ascii=False) + "\n")
            return
        for h in r.hits:
            head = Text(f"{h.posted_at:%Y-%m-%d %H:%M} " if h.posted_at else "", style="dim")
            head.append(f"{h.source} #{h.external_id}", style="bold")
            if h.url:
                head.append(f"  {h.url}", style="dim")
            out.print(head)
            body = Text("  ")
            for part, hit in h.snippet:
                body.append(re.sub(r"\s+", " ", part), style="reverse" if hit else None)
            out.print(body)
        shown = f"{r.offset + 1}-{r.offset + len(r.hits)} of " if r.hits else ""
        console.print(f"{shown}{f'more than {r.total - 1}' if r.more_than else r.total} posts match")

    run(_go)
