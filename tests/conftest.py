"""Shared fixtures: databases (SQLite and PostgreSQL), services, the privacy key.

Tests that need PostgreSQL or Redis skip with a reason when the server is absent, and fail instead when
NPSWATCH_REQUIRE_SERVICES=1 (CI sets it), so CI always exercises them.
"""
from __future__ import annotations

import os
import uuid
from functools import lru_cache

import pytest
from sqlalchemy import text

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage.db import make_engine, upgrade

from helpers import cli, service_missing

PG_URL = os.environ.get("NPSWATCH_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("NPSWATCH_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
REQUIRE_SERVICES = os.environ.get("NPSWATCH_REQUIRE_SERVICES") == "1"


@pytest.fixture(autouse=True, scope="session")
def _own_cache_dir(tmp_path_factory):
    """Built extractors (npswatch/extractor_cache.py) go to a folder of this test session, not the user's cache."""
    saved = os.environ.get("NPSWATCH_CACHE_DIR")
    os.environ["NPSWATCH_CACHE_DIR"] = str(tmp_path_factory.mktemp("npswatch-cache"))
    yield
    if saved is None:
        os.environ.pop("NPSWATCH_CACHE_DIR", None)
    else:
        os.environ["NPSWATCH_CACHE_DIR"] = saved




@lru_cache(maxsize=1)
def _pg_problem() -> str | None:
    try:
        import psycopg

        url = PG_URL.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(url, connect_timeout=3):
            return None
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return f"PostgreSQL not reachable at {PG_URL} ({type(exc).__name__}: {str(exc).strip()[:120]})"


@lru_cache(maxsize=1)
def _redis_problem() -> str | None:
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=3).ping()
        return None
    except Exception as exc:  # noqa: BLE001
        return f"Redis not reachable at {REDIS_URL} ({type(exc).__name__})"


@pytest.fixture
def pg_url():
    """A PostgreSQL URL whose connections work in a fresh schema of their own, dropped afterwards."""
    problem = _pg_problem()
    if problem:
        service_missing(problem)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in PG_URL else "?"
    yield f"{PG_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def redis_url():
    problem = _redis_problem()
    if problem:
        service_missing(problem)
    return REDIS_URL


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request, tmp_path):
    """Each storage test runs on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'npswatch.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def engine(db_url):
    """An engine on a migrated, empty database."""
    eng = make_engine(db_url)
    upgrade(eng)
    yield eng
    eng.dispose()


@pytest.fixture
def pseudonymiser():
    return Pseudonymiser(b"test-key-not-secret-0123456789abcdef")


@pytest.fixture
def net(tmp_path, monkeypatch):
    """The offline Telegram network (tests/offline_telegram.py), behind npswatch's client factory."""
    from offline_telegram import offline_network

    return offline_network(tmp_path, monkeypatch)


@pytest.fixture
def review_workdir(tmp_path):
    """A configuration file (data in tmp_path/data, a test privacy key) whose database is upgraded: the set-up of
    the tests that drive the candidates review (`npswatch candidates ...`) end to end."""
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('data_dir = "data"\n[privacy]\nkey = "test-key-not-secret-0123456789abcdef"\n')
    r = cli(cfg, "db", "upgrade")
    assert r.exit_code == 0, r.output
    return cfg
