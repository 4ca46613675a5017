"""What every command module of the CLI shares: the two consoles, the help example, one-line errors."""
from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from npswatch.errors import ConfigError, WatchError
from npswatch.storage.db import SchemaError

console = Console(stderr=True)
out = Console()


def example(text: str) -> str:
    """An epilog with an example, rendered the same way in every command's help."""
    return f"**Example:**\n\n    {text}"


def fail(message: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def run(fn):
    """Turn configuration and schema problems into one clear line instead of a traceback."""
    try:
        return fn()
    except ConfigError as exc:
        fail(str(exc))
    except SchemaError as exc:
        fail(str(exc))
    except WatchError as exc:
        fail(str(exc), exc.code)


NOTE_STYLE = {"info": "cyan", "warn": "yellow", "dim": "dim"}


def notify(level: str, text: str) -> None:
    """Progress notes of a use-case, on stderr (`npswatch.crawl.Notify`)."""
    style = NOTE_STYLE.get(level, "dim")
    console.print(f"[{style}]{escape(text)}[/]", highlight=False, soft_wrap=True)


def result_file(ctx: typer.Context, result) -> None:
    """With `--result-file PATH` (how the scheduler runs a job), write the use-case's result there as JSON."""
    path = ctx.find_root().meta.get("npswatch.result_file")
    if path:
        import json
        import os

        tmp = f"{path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump(result.to_dict(), fh, ensure_ascii=False)
        os.replace(tmp, path)
