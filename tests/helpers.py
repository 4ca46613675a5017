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
