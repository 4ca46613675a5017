"""The Telegram tests' shared set-up: the offline network (`crawlers.telegram.offline`) put behind npswatch's
client factory, a configuration naming the offline account, a logged-in real Telethon client, and a
wait-until helper. `tests/conftest.py` exposes the network as the `net` fixture."""
from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

from npswatch.config import load_settings
from npswatch.crawlers.telegram import client as client_mod
from npswatch.crawlers.telegram.login import login
from npswatch.crawlers.telegram.offline import OfflineNetwork

API_HASH = "0" * 31 + "1"  # the offline network's api_hash (a synthetic one)
PRIVACY_KEY = "k-test-0123456789abcdef0123456789ab"


def offline_network(tmp_path: Path, monkeypatch, api_hash: str = API_HASH) -> OfflineNetwork:
    """A fresh offline Telegram in `tmp_path`; npswatch's clients talk to it for the rest of the test."""
    net = OfflineNetwork(tmp_path / "telegram-net.sqlite", api_hash=api_hash)
    monkeypatch.setattr(client_mod, "CLIENT_FACTORY", net.factory)
    return net


def telegram_config(tmp_path: Path, channels: list[str] | None = None, *, key: str = PRIVACY_KEY,
                    extra: str = "", telegram: str = "") -> Path:
    """`npswatch.toml` in `tmp_path` for the offline account: data in `data/`, the given channels.
    `extra`: more top-level settings; `telegram`: more lines of the `[telegram]` table."""
    path = tmp_path / "npswatch.toml"
    chans = f"channels = {json.dumps(channels)}\n" if channels is not None else ""
    path.write_text(f'data_dir = "data"\n{extra}[privacy]\nkey = "{key}"\n[telegram]\napi_id = 1000001\n'
                    f'api_hash = "{API_HASH}"\n{chans}{telegram}')
    return path


async def logged_in(cfg, role: str = "listener"):
    """A real Telethon client of the config `cfg` (a path or Settings), logged in to the offline network."""
    settings = load_settings(cfg) if isinstance(cfg, (str, Path)) else cfg
    client = client_mod.make_client(settings, role=role)
    await login(client, phone=lambda: "+10000000001", code=lambda: "12345", password=lambda: "")
    return client


async def until(cond, what: str, timeout: float = 20.0) -> None:
    """Wait for a condition (a generous limit that only matters when something is broken)."""
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)
