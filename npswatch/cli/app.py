"""The `npswatch` command line: the root command, `init`, `config`, `db`, `demo`, and every other command
group registered explicitly from its module. Every command's help ends with an example."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from npswatch.watch import Watch

from rich.markup import escape

from . import extract, fx, imports, ops, privacy, reports, search, telegram, web, webapp
from .common import DEBUG, example, fail, out, run, user_error
from .reports import print_signal_summary, print_trends

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
    result_file: Optional[str] = typer.Option(None, "--result-file", hidden=True,
                                              help="Write the command's result as JSON here (the scheduler's jobs)."),
    debug: bool = typer.Option(False, "--debug", help="Show the traceback of an error instead of its one line."),
) -> None:
    DEBUG["on"] = debug
    ctx.obj = Watch(config)
    ctx.meta["npswatch.result_file"] = result_file


# --- init / config ---------------------------------------------------------------------------------
@app.command(epilog=example("npswatch init ./npswatch.toml"))
def init(
    path: Path = typer.Argument(Path("npswatch.toml"), help="Where to write the example configuration."),
    force: bool = typer.Option(False, "--force", help="Overwrite an existing file."),
) -> None:
    """Write a commented example configuration file."""
    from npswatch.config import EXAMPLE_CONFIG

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
        from npswatch.config import mask_url

        out.print_json(json.dumps(s.safe_dict() | {"database_url (effective)": mask_url(s.database_url)}))

    run(_show)


# --- db --------------------------------------------------------------------------------------------
@db_app.command("upgrade", epilog=example("NPSWATCH_DATABASE__URL=postgresql+psycopg://me@db/npswatch npswatch db upgrade"))
def db_upgrade(ctx: typer.Context) -> None:
    """Create or migrate the database schema to the version this npswatch needs."""
    def _up():
        before, after = ctx.obj.upgrade()
        where = ctx.obj.engine.url.render_as_string(hide_password=True)
        if before == after:
            out.print(f"{where}: schema already at {after}")
        else:
            out.print(f"{where}: schema upgraded {before or 'empty'} -> {after}")

    run(_up)


@db_app.command("current", epilog=example("npswatch db current"))
def db_current(ctx: typer.Context) -> None:
    """Show the database's schema revision and the one this npswatch needs; exit 1 if they differ."""
    def _cur():
        cur, head = ctx.obj.revisions()
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
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    def _demo():
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=out,
                      transient=False) as progress:
            task = progress.add_task("starting", total=None)
            r = ctx.obj.demo(notify=lambda level, text: progress.update(task, description=escape(text)))
        render_demo(r)

    run(_demo)


def render_demo(r) -> None:
    from rich.table import Table

    if r.upgraded:
        out.print(f"database schema {r.upgraded[0] or 'empty'} -> {r.upgraded[1]}")
    s, w = r.summary, r.written
    table = Table(title="npswatch demo: what is stored", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    span = f"{s['first_post']:%Y-%m-%d} .. {s['last_post']:%Y-%m-%d}" if s["first_post"] else "-"
    for label, value in [
        ("this run", f"{w.inserted} new posts, {w.updated} changed, {w.unchanged} unchanged"),
        ("sources", s["sources"]), ("posts", s["posts"]), ("offers", s["offers"]), ("mentions", s["mentions"]),
        ("substances", s["substances"]), ("cities", s["cities"]), ("countries", s["countries"]),
        ("currencies", s["currencies"]), ("new-name candidates", s["candidates"]), ("date span", span),
    ]:
        table.add_row(label, str(value))
    out.print(table)
    top = Table(title="most mentioned")
    for col in ("substance", "class", "mentions", "offers"):
        top.add_column(col)
    for name, cls, n, o in r.top:
        top.add_row(name, cls, str(n), str(o))
    out.print(top)
    out.print(f"database: {r.database}")
    out.print(f"try: sqlite3 {r.sqlite_file} 'select * from offer limit 5'" if r.sqlite_file else "")
    render_demo_reports(r, out)


def render_demo_reports(r, to) -> None:
    """The trend table, signals, plot and digest paths of `demo_reports`."""
    if r is None or r.trends is None:
        to.print("no offers stored: no trend or digest to show")
        return
    print_trends(r.trends.rows, "table", title=r.trends.title, limit=20, to=to)
    print_signal_summary(r.signals, to=to)
    to.print(f"trend plot: {r.plot}")
    to.print(f"digest of the last four weeks of data ({len(r.signals)} signals): {r.digest}")
    to.print("more: npswatch trends --help, npswatch digest --help, npswatch serve (SQL), npswatch web (triage)")


# Commands of the other modules, registered explicitly (the order of `npswatch --help`).
for module in (extract, web, telegram, imports, reports, search, ops):
    app.add_typer(module.app)
app.add_typer(fx.fx_app, name="fx")
app.add_typer(web.sources_app, name="sources")
app.add_typer(telegram.tg_app, name="telegram")
app.add_typer(reports.candidates_app, name="candidates")
app.add_typer(ops.jobs_app, name="jobs")
app.add_typer(ops.retention_app, name="retention")
app.add_typer(privacy.privacy_app, name="privacy")
app.add_typer(webapp.web_app, name="web")


def run_cli() -> None:
    """The `npswatch` command: `app`, with a user error escaping a command's own handling still one line."""
    try:
        code = app(prog_name="npswatch", standalone_mode=False)
        raise SystemExit(code if isinstance(code, int) else 0)
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except (KeyboardInterrupt, EOFError):
        raise SystemExit(130) from None
    except SystemExit:
        raise
    except Exception as exc:  # noqa: BLE001
        if callable(getattr(exc, "show", None)) and isinstance(getattr(exc, "exit_code", None), int):
            exc.show()  # a usage error: click's own message
            raise SystemExit(exc.exit_code) from None
        message = user_error(exc)
        if message is None or DEBUG["on"]:
            raise
        fail(message)
