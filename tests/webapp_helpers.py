"""Shared by the web app's tests: a Watch on a database holding a synthetic market history with planted
signals (one post carries markup) and the new name 4F-TESTINACA as a candidate, and log-in helpers."""
from __future__ import annotations

import datetime as dt
import re

from npswatch.reports.synthetic import NEW_NAME, PLANTS, History, write_history
from npswatch.watch import Watch

START = dt.datetime(2026, 1, 5, tzinfo=dt.timezone.utc)
PASSWORD = "synthetic-pass-1234"  # noqa: S105 - a test account's password
CANDIDATE = NEW_NAME


def watch_with_history(db_url: str, tmp_path) -> Watch:
    w = Watch(settings={"data_dir": str(tmp_path / "data"), "database": {"url": db_url}})
    w.upgrade()
    w.history = write_history(w.engine, History(start=START, plants=PLANTS, script_text=True))
    w.signals(w.history.end - dt.timedelta(days=7), w.history.end)  # detected and stored, as `npswatch signals`
    return w


def last_week(w: Watch) -> tuple[dt.datetime, dt.datetime]:
    return w.history.end - dt.timedelta(days=7), w.history.end


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf" value="([^"]+)"', html).group(1)
