"""Small helpers shared by tests that drive real processes (import as `from helpers import wait_for`)."""
from __future__ import annotations

import time


def wait_for(pred, timeout: float = 30.0):
    """Poll `pred` every 0.1 s until it returns something truthy; fail the test after `timeout` seconds."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = pred()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError("condition not reached")


def service_missing(reason: str) -> None:
    """Skip a test whose server or browser is absent, or fail it under NPSWATCH_REQUIRE_SERVICES=1 (CI)."""
    import os

    import pytest

    if os.environ.get("NPSWATCH_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and NPSWATCH_REQUIRE_SERVICES=1 forbids skipping", pytrace=False)
    pytest.skip(reason)


def cli(cfg, *args, input=None):
    """`npswatch --config cfg ARGS...` through typer's test runner, in a wide terminal (tables stay on one line)."""
    from typer.testing import CliRunner

    from npswatch.cli.app import app

    return CliRunner().invoke(app, ["--config", str(cfg), *args], input=input, terminal_width=200)


def shop_post(ext: str, text: str, day: int = 1, author: str = "@synthetic_vendor_01"):
    """A post of the made-up shop `fixture-shop.test` (Russian hints) on 2026-03-<day>, noon UTC."""
    from datetime import datetime, timezone

    from npswatch.pipelines.rawpost import RawPost, SourceHints

    return RawPost(source="fixture-shop.test", external_id=ext, text=text, author=author,
                   posted_at=datetime(2026, 3, day, 12, tzinfo=timezone.utc), hints=SourceHints(country="RU"))
