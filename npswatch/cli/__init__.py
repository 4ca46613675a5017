"""The `npswatch` command line (the root command and its registrations: `npswatch.cli.app`).

One module per command group; each parses arguments, calls the application layer and renders the result.
`main` is the entry point; it imports the command line itself, so Ctrl-C while the modules are still loading
ends the command the same way as Ctrl-C later: one line "Aborted!" on stderr, exit code 130, no traceback.
"""
from __future__ import annotations

from .interrupt import aborted


def main() -> None:
    """The `npswatch` command."""
    try:
        from .app import run_cli

        run_cli()
    except KeyboardInterrupt:  # while the modules load (run_cli reports one later itself)
        aborted()
