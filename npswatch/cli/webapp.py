"""`npswatch web`: serve the analysts' web app (`npswatch.web`); `npswatch web user add`: create accounts.

`npswatch serve` (Datasette, for SQL) stays in npswatch.cli.reports.
"""
from __future__ import annotations

import os

import typer

from .common import example, fail, out, run

web_app = typer.Typer(
    help="The analysts' web app: signals to triage, names to review.\n\n"
         "Example:\n\n    npswatch web user add alice --role analyst && npswatch web --port 8080",
    invoke_without_command=True,
)
user_app = typer.Typer(help="Web app accounts.\n\nExample:\n\n    npswatch web user add alice --role analyst",
                       no_args_is_help=True)
web_app.add_typer(user_app, name="user")

PASSWORD_ENV = "NPSWATCH_WEB_PASSWORD"


@web_app.callback()
def web(
    ctx: typer.Context,
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (127.0.0.1: this machine only)."),
    port: int = typer.Option(8080, "--port", help="Port to listen on."),
) -> None:
    """Serve the web app (SQLite or PostgreSQL: the configured database). Log in with an account made by
    `npswatch web user add`."""
    if ctx.invoked_subcommand is not None:
        return
    watch = ctx.obj

    def _serve():
        try:
            import uvicorn

            from npswatch.web import create_app
        except ImportError as exc:
            fail(f"the web app needs the `web` extra: pip install 'npswatch[web]' ({exc.name} is missing)")
        watch.checked_engine()
        from npswatch.accounts import count_users

        if count_users(watch) == 0:
            out.print("no accounts yet: make one with `npswatch web user add NAME --role admin`")
        out.print(f"npswatch web app on http://{host}:{port}/ (Ctrl-C stops it)")
        uvicorn.run(create_app(watch), host=host, port=port, log_level="warning", server_header=False)

    run(_serve)


@user_app.command("add", epilog=example("NPSWATCH_WEB_PASSWORD=... npswatch web user add alice --role analyst"))
def user_add(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="The account's login name."),
    role: str = typer.Option("viewer", "--role", help="viewer (reads), analyst (triages, reviews), admin (accounts)."),
    language: str = typer.Option("en", "--language", help="Interface language: en or ru."),
    timezone: str = typer.Option("UTC", "--timezone", help="IANA time zone of the dates shown, e.g. Asia/Almaty."),
) -> None:
    """Create an account, or reset an existing one's password and role. The password comes from
    $NPSWATCH_WEB_PASSWORD, else a prompt."""
    password = os.environ.get(PASSWORD_ENV)
    if not password:
        password = typer.prompt("password", hide_input=True, confirmation_prompt=True)

    def _add():
        acc = ctx.obj.add_user(name, password, role, language=language, timezone=timezone)
        out.print(f"account {acc.name} ({acc.role}) saved")

    run(_add)
