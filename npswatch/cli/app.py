"""The `npswatch` command line: the root command, `init`, `config`, `db`, `demo`, and every other command
group registered explicitly from its module. Every command's help ends with an example."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from npswatch.config import EXAMPLE_CONFIG
from npswatch.watch import App

from . import extract, fx, ops, reports, telegram, web
from .common import example, fail, out, run

app = typer.Typer(
    name="npswatch",
    help="Watch online drug markets for public-health early warning.\n\n"
    "Example:\n\n    npswatch init && npswatch db upgrade && npswatch demo",
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Database schema.\n\nExample:\n\n    npswatch db upgrade", no_args_is_help=True)
config_app = typer.Typer(help="Configuration.\n\nExample:\n\n    npswatch config show", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(config_app, name="config")


@app.callback()
def main(
    ctx: typer.Context,
    config: Optional[str] = typer.Option(
        None, "--config", "-c", help="Config file (default: $NPSWATCH_CONFIG, else ./npswatch.toml if present)."
    ),
) -> None:
    ctx.obj = App(config_file=config)


# --- init / config ---------------------------------------------------------------------------------
@app.command(epilog=example("npswatch init ./npswatch.toml"))
def init(
    path: Path = typer.Argument(Path("npswatch.toml"), help="Where to write the example configuration."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example configuration file."""
    if path.exists() and not force:
        fail(f"{path} exists; use --force to overwrite it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(EXAMPLE_CONFIG, encoding="utf-8")
    out.print(f"wrote {path}: edit it, then run `npswatch db upgrade`")


@config_app.command("show", epilog=example("npswatch --config npswatch.toml config show"))
def config_show(ctx: typer.Context) -> None:
    """Print the configuration in effect (file + environment), secrets masked."""
    import json

    def _show():
        s = ctx.obj.settings
        out.print(f"# from {s.path or 'defaults and environment'}")
        out.print_json(json.dumps(s.safe_dict() | {"database_url (effective)": s.database_url}))

    run(_show)


# --- db --------------------------------------------------------------------------------------------
@db_app.command("upgrade", epilog=example("NPSWATCH_DATABASE__URL=postgresql+psycopg://me@db/npswatch npswatch db upgrade"))
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the database schema to the version this npswatch needs."""
    from npswatch.storage.db import upgrade

    def _up():
        engine = ctx.obj.engine
        before, after = upgrade(engine)
        where = engine.url.render_as_string(hide_password=True)
        if before == after:
            out.print(f"{where}: schema already at {after}")
        else:
            out.print(f"{where}: schema upgraded {before or 'empty'} -> {after}")

    run(_up)


@db_app.command("current", epilog=example("npswatch db current"))
def db_current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the one this npswatch needs; exit 1 if they differ."""
    from npswatch.storage.db import current_revision, head_revision

    def _cur():
        cur, head = current_revision(ctx.obj.engine), head_revision()
        out.print(f"database: {cur or 'empty'}  code: {head}")
        if cur != head:
            raise typer.Exit(1)

    run(_cur)


# --- demo ------------------------------------------------------------------------------------------
@app.command(epilog=example("npswatch demo"))
def demo(ctx: typer.Context) -> None:
    """Crawl the built-in synthetic market on a local port, extract, store and summarise.

    Uses the configured database (default: SQLite file data/npswatch.db). Rerunning adds nothing twice.
    """
    from npswatch.demo import run_demo

    run(lambda: run_demo(ctx.obj, out))


# Commands of the other modules, registered explicitly (the order of `npswatch --help`).
for module in (extract, web, telegram, reports, ops):
    app.add_typer(module.app)
app.add_typer(fx.fx_app, name="fx")
app.add_typer(web.sources_app, name="sources")
app.add_typer(telegram.tg_app, name="telegram")
app.add_typer(reports.candidates_app, name="candidates")
app.add_typer(ops.jobs_app, name="jobs")
app.add_typer(ops.retention_app, name="retention")
