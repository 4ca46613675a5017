"""`npswatch status`: failing, empty and stale sources and stuck runs are unhealthy (exit 1); healthy is exit 0."""
from __future__ import annotations

import json
import socket
from datetime import datetime, timedelta, timezone

from sqlalchemy import insert, update
from typer.testing import CliRunner

from npswatch.pipelines.rawpost import RawPost
from npswatch.cli.app import app as cli
from npswatch.watch import Watch
from npswatch.storage import models as m
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN, finish_run, start_run
from npswatch.storage.writer import PostWriter

runner = CliRunner()


def setup(tmp_path, extra: str = "") -> tuple[str, Watch]:
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n{extra}\n', encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    return str(cfg), app


def runs(engine, kind, source, outcomes):
    for status, items, errors in outcomes:
        rid = start_run(engine, kind, source)
        finish_run(engine, rid, status=status, items=items, errors=errors, message=f"synthetic {status}")


def store_posts(app, pseudonymiser, source, n=2, first_seen=None):
    PostWriter(app.engine, pseudonymiser).write(
        [RawPost(source=source, external_id=f"{source}-{i}", text=f"synthetic listing {i}") for i in range(n)])
    if first_seen is not None:
        S, P = m.Source.__table__, m.Post.__table__
        with app.engine.begin() as c:
            sid = c.execute(S.select().where(S.c.key == source)).first().id
            c.execute(update(P).where(P.c.source_id == sid).values(first_seen=first_seen))


def status(cfg, *args):
    return runner.invoke(cli, ["--config", cfg, "status", *args], terminal_width=250)


def test_failing_empty_and_stale_sources_and_stuck_runs_are_unhealthy(tmp_path, pseudonymiser):
    cfg, app = setup(tmp_path)
    e = app.engine
    runs(e, "crawl", "synthetic-shop-a", [("ok", 5, 0), ("ok", 7, 0)])
    store_posts(app, pseudonymiser, "synthetic-shop-a")
    runs(e, "crawl", "synthetic-shop-b", [("ok", 5, 0), ("failed", 0, 1), ("failed", 0, 1)])
    runs(e, "crawl", "synthetic-shop-c", [("ok", 4, 0), ("ok", 4, 0)])
    store_posts(app, pseudonymiser, "synthetic-shop-c", first_seen=datetime.now(timezone.utc) - timedelta(days=10))
    runs(e, "telegram-backfill", "synthetic_channel_d", [("ok", 3, 0), ("ok", 0, 3), ("ok", 0, 2)])
    store_posts(app, pseudonymiser, "synthetic_channel_d")
    with e.begin() as c:  # a run whose process died and that no service has cleaned up
        c.execute(insert(T_RUN).values(kind="crawl", source="synthetic-shop-a", status="running", items=0, errors=0,
                                       started_at=datetime.now(timezone.utc) - timedelta(days=2)))

    r = status(cfg)
    assert r.exit_code == 1, r.output
    problems = [line for line in r.output.splitlines() if line.startswith("unhealthy:")]
    joined = "\n".join(problems)
    assert "source synthetic-shop-b: failed or brought nothing but errors 2 times in a row" in joined
    assert "source synthetic-shop-c: stale" in joined
    assert "source synthetic_channel_d: failed or brought nothing but errors 2 times" in joined
    assert "source synthetic-shop-a: a run started" in joined and "still marked running" in joined
    assert "(crawl synthetic-shop-a): running on ? (process None) but no heartbeat since" in joined
    assert len(problems) == 5

    doc = json.loads(status(cfg, "--json").output)
    assert doc["healthy"] is False
    by = {s["source"]: s for s in doc["sources"]}
    assert by["synthetic-shop-b"]["failure_streak"] == 2 and by["synthetic-shop-b"]["last_status"] == "failed"
    assert by["synthetic-shop-c"]["stale"] is True and by["synthetic-shop-c"]["items_last_run"] == 4
    assert by["synthetic_channel_d"]["last_status"] == "empty"
    assert by["synthetic-shop-a"]["failure_streak"] == 0 and by["synthetic-shop-a"]["items_last_run"] == 7
    assert by["synthetic-shop-a"]["last_success_at"] is not None


def test_healthy_sources_exit_0_and_thresholds_come_from_the_config(tmp_path, pseudonymiser):
    cfg, app = setup(tmp_path, '[health]\nmax_failures = 3\nstale_after_by_source = { "synthetic-shop-c" = "14d" }')
    runs(app.engine, "crawl", "synthetic-shop-b", [("ok", 5, 0), ("failed", 0, 1), ("failed", 0, 1)])
    store_posts(app, pseudonymiser, "synthetic-shop-b")
    runs(app.engine, "crawl", "synthetic-shop-c", [("ok", 4, 0)])
    store_posts(app, pseudonymiser, "synthetic-shop-c", first_seen=datetime.now(timezone.utc) - timedelta(days=10))
    r = status(cfg)
    assert r.exit_code == 0, r.output
    assert "healthy" in r.output and "unhealthy" not in r.output
    r = status(cfg, "--require-service")
    assert r.exit_code == 1 and "scheduler: not running" in r.output


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_crawl_of_a_site_that_is_down_makes_status_unhealthy(tmp_path):
    """End to end: the scheduled crawl job of a site nobody answers for, run now; status names site and job."""
    cfg, app = setup(tmp_path, f'[health]\nmax_failures = 1\n[[schedules]]\njob = "crawl"\nsource = "fixture-shop"\n'
                               f'every = "6h"\nargs = ["--base-url", "http://127.0.0.1:{closed_port()}", '
                               f'"-s", "RETRY_ENABLED=false"]\n')
    r = runner.invoke(cli, ["--config", cfg, "jobs", "run", "crawl:fixture-shop"], terminal_width=250)
    assert "job crawl:fixture-shop" in r.output, r.output
    r = status(cfg)
    assert r.exit_code == 1, r.output
    assert "unhealthy: source fixture-shop: failed or brought nothing but errors 1 times in a row" in r.output
    assert "unhealthy: job crawl:fixture-shop:" in r.output
