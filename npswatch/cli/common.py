"""What every command module of the CLI shares: the two consoles, the help example, one-line errors."""
from __future__ import annotations

import typer
from rich.console import Console

from npswatch.config import ConfigError
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
