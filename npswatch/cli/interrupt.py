"""Ctrl-C in a command: one line "Aborted!" on stderr and exit code 130, no traceback (`aborted`)."""
from __future__ import annotations

EXIT_INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a command ended by Ctrl-C


def aborted() -> None:
    """End the command after Ctrl-C."""
    import sys

    # Ctrl-C inside code run from a string (dataclasses and namedtuples make their methods so, on import) leaves
    # CPython's "unhandled Ctrl-C" mark set, and the process would then end by SIGINT (-2), not with this exit
    # code. Running any string resets the mark.
    exec("")  # noqa: S102
    sys.stderr.write("Aborted!\n")
    raise SystemExit(EXIT_INTERRUPTED) from None
