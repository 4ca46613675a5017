"""`npswatch privacy rescrub`: scrub a database and its page snapshots written before the scrubber knew every form."""
from __future__ import annotations

import typer

from .common import example, out, run

privacy_app = typer.Typer(help="Privacy of stored data.\n\nExample:\n\n    npswatch privacy rescrub",
                          no_args_is_help=True)


@privacy_app.command(epilog=example("npswatch privacy rescrub"))
def rescrub(ctx: typer.Context) -> None:
    """Pass every stored scraped text (posts, their versions, URLs, extras, price labels, matched words, run
    messages, signals) and every page snapshot through the scrubber again; rewrites only what changes."""
    from npswatch.storage.rescrub import rescrub as do_rescrub

    def _go():
        engine = ctx.obj.checked_engine()
        return do_rescrub(engine, ctx.obj.pseudonymiser, ctx.obj.settings.data_path / "snapshots")

    res = run(_go)
    changed = ", ".join(f"{k}: {v}" for k, v in res.rows.items() if v) or "no rows"
    out.print(f"rescrubbed {changed}; {res.files} snapshot files rewritten", highlight=False, soft_wrap=True)
