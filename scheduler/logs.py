"""Structured logging for the service and its jobs, with secrets masked wherever they appear.

One handler on the root logger: a line of text, or (``log_json = true``) one JSON object per line with
the fields a log search needs: ``job``, ``kind``, ``source``, ``run_id``, ``status``, ``items``,
``errors``, ``duration``, ``exit_code`` (pass them with ``extra=``). A `SecretFilter` on the handler
rewrites every record (message, arguments, traceback, fields) through a `SecretMasker` before it is
formatted, so a secret reaches no log even inside an exception message or a child's output. The same masking
runs when a record is created (`logging.setLogRecordFactory`), so other handlers (a test runner's, one added
by a library) never see the secret either.

What the masker hides:

- the configured secrets by value: Telegram api hash, SMTP password, privacy key (the configured one or
  the key file's), the database URL's password, webhook URLs (they often carry a token in the path), and
  every ``NPSWATCH_*`` variable whose name says hash, password, key, secret, token or session;
- by shape, whatever the source: ``scheme://user:PASSWORD@host``, ``password=...``/``api_hash: ...``
  pairs, ``Bearer`` tokens and Telethon session strings (``1`` + 300 or more base64 characters).

>>> m = SecretMasker(["0123456789abcdef"])
>>> m.mask("login with hash 0123456789abcdef failed")
'login with hash ********** failed'
>>> m.mask("postgresql+psycopg://npswatch:hunter22@db/npswatch")
'postgresql+psycopg://npswatch:**********@db/npswatch'
>>> m.mask('smtp password="s3cret!" refused')
'smtp password="**********" refused'
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import TextIO

__all__ = ["SecretMasker", "SecretFilter", "JsonFormatter", "TextFormatter", "setup_logging", "masker_for",
           "FIELDS"]

MASK = "**********"
#: Context fields a log line may carry (``log.info(..., extra={"job": ..., "items": 3})``).
FIELDS = ("job", "kind", "source", "run_id", "status", "items", "errors", "duration", "exit_code", "pid")

# Shapes of secrets, whatever their value. Each pattern is linear: no nested or overlapping repeats.
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # credentials in a URL: keep scheme and user, hide the password
    (re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^\s:/@]*:)([^\s@/]+)(@)", re.I), rf"\1{MASK}\3"),
    # key = value pairs whose key says it is secret (config dumps, exception messages, CLI echoes)
    # (a value masked already is left as it is: masking twice changes nothing)
    (re.compile(r"""(\b(?:api_hash|password|passwd|pwd|secret|token|session_string|privacy_key|authorization)"""
                r"""["']?\s*[=:]\s*["']?)(?!\*{10})(?:(?:bearer|basic|token)\s+)?([^\s"',;(){}\[\]]+)""", re.I), rf"\1{MASK}"),
    (re.compile(r"(\bBearer\s+)[A-Za-z0-9._~+/\-]+=*", re.I), rf"\1{MASK}"),
    # Telethon StringSession: version digit "1" then base64 of the auth key (about 350 characters)
    (re.compile(r"\b1[A-Za-z0-9_\-+/]{300,}={0,2}"), MASK),
)
_SECRET_ENV = re.compile(r"HASH|PASSWORD|PASSWD|KEY|SECRET|TOKEN|SESSION", re.I)


class SecretMasker:
    """Replaces known secret values and secret-shaped text by ``**********``.

    Values shorter than 4 characters are ignored (masking "1" would mangle every number)."""

    def __init__(self, secrets: Iterable[str] = (), replacements: dict[str, str] | None = None) -> None:
        pairs = {s: MASK for s in secrets if s and len(s) >= 4}
        pairs.update({k: v for k, v in (replacements or {}).items() if k and len(k) >= 4})
        # longest first, so a secret containing another is replaced whole
        self._pairs = sorted(pairs.items(), key=lambda kv: -len(kv[0]))

    def mask(self, text: str) -> str:
        for secret, replacement in self._pairs:
            if secret in text:
                text = text.replace(secret, replacement)
        for pattern, repl in _PATTERNS:
            text = pattern.sub(repl, text)
        return text

    def mask_value(self, value):
        return self.mask(value) if isinstance(value, str) else value


def masker_for(settings=None, environ: dict[str, str] | None = None) -> SecretMasker:
    """The masker for a configuration: its secrets, the key file's key, secret-named environment variables."""
    secrets: list[str] = []
    replacements: dict[str, str] = {}
    env = os.environ if environ is None else environ
    for name, value in env.items():
        if name.upper().startswith("NPSWATCH_") and _SECRET_ENV.search(name):
            secrets.append(value)
    if settings is not None:
        secrets += [settings.telegram.api_hash.get_secret_value(), settings.digest.smtp.password.get_secret_value(),
                    settings.privacy.key.get_secret_value()]
        keyfile = settings.data_path / "privacy.key"
        try:
            secrets.append(keyfile.read_text().strip())  # never created here: only read if it exists
        except OSError:
            pass
        try:
            from sqlalchemy.engine import make_url

            password = make_url(settings.database_url).password
            if password:
                secrets.append(str(password))
        except Exception:  # noqa: BLE001 - a bad URL is reported elsewhere
            pass
        for r in settings.digest.recipients:
            if r.webhook:
                m = re.match(r"([a-z][a-z0-9+.\-]*://[^/?#]+)(.*)", r.webhook, re.I)
                if m and m.group(2).strip("/"):
                    replacements[r.webhook] = f"{m.group(1)}/{MASK}"
    return SecretMasker(secrets, replacements)


class SecretFilter(logging.Filter):
    """Masks a record in place: message with its arguments, traceback, stack and context fields."""

    def __init__(self, masker: SecretMasker) -> None:
        super().__init__()
        self.masker = masker

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003
        m = self.masker
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string must not lose the line
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = m.mask(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = m.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = m.mask(record.stack_info)
        for name in FIELDS:
            if isinstance(getattr(record, name, None), str):
                setattr(record, name, m.mask(getattr(record, name)))
        return True


def _fields(record: logging.LogRecord) -> dict:
    return {k: getattr(record, k) for k in FIELDS if getattr(record, k, None) is not None}


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, context fields, traceback."""

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003
        doc = {"time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(), **_fields(record)}
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            doc["traceback"] = record.exc_text
        return json.dumps(doc, ensure_ascii=False, default=str)


class TextFormatter(logging.Formatter):
    """``2026-03-01 12:00:00,123 INFO npswatch.service: message [job=crawl:x items=3]``"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:  # noqa: A003
        line = super().format(record)
        fields = _fields(record)
        if not fields:
            return line
        head, sep, tail = line.partition("\n")
        return f"{head} [{' '.join(f'{k}={v}' for k, v in fields.items())}]{sep}{tail}"


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time (it is replaced under test runners and CLI runners)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


_BASE_FACTORY = logging.getLogRecordFactory()


def _masking_factory(masking: SecretFilter):
    def factory(*args, **kwargs) -> logging.LogRecord:
        record = _BASE_FACTORY(*args, **kwargs)
        masking.filter(record)
        return record

    return factory


def setup_logging(settings=None, *, stream: TextIO | None = None, level: str | None = None,
                  json_lines: bool | None = None, masker: SecretMasker | None = None) -> logging.Handler:
    """Install the npswatch handler on the root logger (replacing an earlier one of ours) and return it."""
    root = logging.getLogger()
    for h in list(root.handlers):
        if getattr(h, "_npswatch", False):
            root.removeHandler(h)
    handler = logging.StreamHandler(stream) if stream is not None else _StderrHandler()
    handler._npswatch = True  # type: ignore[attr-defined]
    as_json = json_lines if json_lines is not None else bool(settings and settings.log_json)
    handler.setFormatter(JsonFormatter() if as_json else TextFormatter())
    masking = SecretFilter(masker or masker_for(settings))
    handler.addFilter(masking)  # context fields are added after the record is made: masked here
    logging.setLogRecordFactory(_masking_factory(masking))
    root.addHandler(handler)
    lvl = level or (settings.log_level if settings is not None else "INFO")
    root.setLevel(lvl)
    if lvl != "DEBUG":
        # APScheduler narrates every submission at INFO; our runner logs each run once, with its counts.
        for name in ("apscheduler", "alembic", "telethon"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return handler
