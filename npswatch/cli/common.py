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
    """One line on stderr and exit `code`. The message is shown as written (it may quote scraped text)."""
    console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


# `npswatch --debug ...`: user errors raise with their traceback instead of the one line.
DEBUG = {"on": False}


def user_error(exc: BaseException) -> str | None:
    """The one line for a failure the user caused and can fix (config, database URL or server, a file or
    folder), naming the file or setting and the fix; None for anything else (a bug: its traceback shows)."""
    from sqlalchemy.exc import ArgumentError, InterfaceError, NoSuchModuleError, OperationalError


    if isinstance(exc, (ConfigError, SchemaError)):
        return str(exc)
    if isinstance(exc, (ArgumentError, NoSuchModuleError)):
        return (f"database.url is not a database URL npswatch can use ({str(exc).splitlines()[0][:160]}); set "
                "database.url or NPSWATCH_DATABASE__URL to sqlite:///path/npswatch.db or postgresql+psycopg://user@host/db")
    if isinstance(exc, (OperationalError, InterfaceError)):
        url = getattr(getattr(exc, "engine_url", None), "render_as_string", None)
        first = str(getattr(exc, "orig", exc) or exc).strip().splitlines()[0][:200] if str(exc).strip() else repr(exc)
        return (f"the database cannot be reached or used ({first}); check database.url "
                "(or NPSWATCH_DATABASE__URL), that the server runs and that the data folder is writable"
                + (f": {url(hide_password=True)}" if url else ""))
    if isinstance(exc, IsADirectoryError):
        return f"{exc.filename}: is a folder, a file was expected; give the file's path"
    if isinstance(exc, FileExistsError):
        return f"{exc.filename}: is a file where a folder is needed (data_dir?); give a folder"
    if isinstance(exc, NotADirectoryError):
        return f"{exc.filename}: a folder was expected here (data_dir?); give a folder"
    if isinstance(exc, PermissionError):
        return f"{exc.filename}: permission denied; check its owner and mode (or choose another data_dir)"
    if isinstance(exc, FileNotFoundError) and exc.filename:
        return f"{exc.filename}: no such file or folder; check the path"
    if isinstance(exc, UnicodeDecodeError):
        return "a file is not UTF-8 text (a binary file?); give the text file the command expects"
    return None


def run(fn):
    """Turn configuration, database and file problems the user can fix into one clear line (exit 2) instead
    of a traceback; `--debug` shows the traceback."""
    try:
        return fn()
    except typer.Exit:
        raise
    except WatchError as exc:
        if DEBUG["on"]:
            raise
        fail(str(exc), exc.code)
    except Exception as exc:
        message = user_error(exc)
        if message is None or DEBUG["on"]:
            raise
        fail(message)


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
