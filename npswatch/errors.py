"""The error types of the application layer: a use-case that cannot go on (`WatchError`) and a configuration
problem (`ConfigError`), each with a one-line reason.

The CLI prints the message as `error: ...` (exit code 2, or `code`); a notebook sees a ValueError (or, for the
configuration, a RuntimeError). This module imports nothing, so the CLI can catch them without loading pydantic.
"""
from __future__ import annotations


class WatchError(ValueError):
    """Bad input or state a user can fix; `str(exc)` says what to do."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class ConfigError(RuntimeError):
    """A configuration problem, with the file and the key in the message (`npswatch.config`)."""
