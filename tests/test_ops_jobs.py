"""The job catalogue and `npswatch jobs list|run`: command lines, the FX inbox, time limits, one run at a time."""
from __future__ import annotations

import json
import os
import sys
import time

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from npswatch.cli.app import app as cli
from npswatch.config import ConfigError, Settings, load_settings
from npswatch.watch import Watch
from npswatch.scheduler.jobs import command_line
from npswatch.schedules import catalogue, find_job
from npswatch.lock import DatabaseLock
from npswatch.storage import models as m
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN

PY = sys.executable
runner = CliRunner()


def argv_of(settings, name, **kw):
    argv = command_line(find_job(settings, name), settings, **kw)
    assert argv[:3] == [PY, "-m", "npswatch"]
    return argv[3:]


def test_each_job_kind_runs_the_right_command_line(tmp_path):
    s = Settings(schedules=[
        {"job": "crawl", "source": "fixture-shop", "every": "6h"},
        {"job": "crawl", "cron": "0 */6 * * *", "args": ["--no-extract"]},
        {"job": "backfill", "every": "1h"},
        {"job": "backfill", "source": "synthetic_channel", "every": "1h", "time_limit": "20m"},
        {"job": "digest", "cron": "0 8 * * 1"},
        {"job": "retention", "cron": "15 3 * * *"},
        {"job": "fx", "every": "1d"},
        {"job": "command", "name": "export", "every": "1d", "command": ["/usr/local/bin/synthetic-export", "-q"]},
    ])
    assert [j.name for j in catalogue(s)] == ["crawl:fixture-shop", "crawl", "backfill", "backfill:synthetic_channel",
                                              "digest", "retention", "fx", "export"]
    assert argv_of(s, "crawl:fixture-shop") == ["crawl", "fixture-shop"]
    assert argv_of(s, "crawl") == ["crawl", "--all", "--no-extract"]
    assert argv_of(s, "backfill") == ["telegram", "backfill"]
    assert argv_of(s, "backfill:synthetic_channel") == ["telegram", "backfill", "--channel", "synthetic_channel"]
    assert argv_of(s, "digest") == ["digest"]  # no recipients: written, not sent
    assert argv_of(s, "retention") == ["retention", "apply"]
    assert argv_of(s, "fx", fx_file=tmp_path / "r.csv") == ["fx", "import", str(tmp_path / "r.csv")]
    assert command_line(find_job(s, "export"), s) == ["/usr/local/bin/synthetic-export", "-q"]
    # time limits: crawls 6 h, the rest 1 h, unless the schedule says
    limits = {j.name: j.time_limit for j in catalogue(s)}
    assert limits["crawl"] == 6 * 3600 and limits["retention"] == 3600 and limits["backfill:synthetic_channel"] == 1200
    # with recipients the digest is sent; args replace the defaults
    s2 = Settings(digest={"recipients": [{"email": "ews@example.invalid"}]},
                  schedules=[{"job": "digest", "every": "1d"}, {"job": "digest", "every": "7d", "args": ["--since", "1d"]}])
    assert argv_of(s2, "digest") == ["digest", "--send"]
    assert argv_of(s2, "digest-2") == ["digest", "--since", "1d"]
    # the config file is passed on to the child
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('[[schedules]]\njob = "retention"\nevery = "1d"\n')
    loaded = load_settings(cfg)
    assert command_line(find_job(loaded, "retention"), loaded)[3:] == ["--config", str(cfg.resolve()), "retention", "apply"]


@pytest.mark.parametrize("entry, message", [
    ('job = "crawl"\ncron = "0 */6 * *"', "schedules.0.cron: '0 */6 * *' is not a crontab expression"),
    ('job = "crawl"\nevery = "6 hours"', "schedules.0.every: '6 hours' is not a duration"),
    ('job = "crawl"\nevery = "6h"\ncron = "0 * * * *"', "give exactly one of cron or every"),
    ('job = "scrape"\nevery = "6h"', "schedules.0.job: 'scrape' is not a job"),
    ('job = "command"\nevery = "6h"', 'job "command" needs command'),
])
def test_schedule_mistakes_are_named_when_the_config_is_read(tmp_path, entry, message):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f"[[schedules]]\n{entry}\n")
    with pytest.raises(ConfigError) as exc:
        load_settings(cfg)
    assert message in str(exc.value)


def test_two_schedules_with_one_name_are_refused():
    s = Settings(schedules=[{"job": "crawl", "name": "x", "every": "1h"}, {"job": "fx", "name": "x", "every": "1h"}])
    with pytest.raises(ConfigError, match="schedules.1.name: 'x' is used"):
        catalogue(s)


def make(tmp_path, schedules: str = "") -> tuple[str, Watch]:
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n{schedules}', encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    return str(cfg), app


def jobs(cfg, *args):
    return runner.invoke(cli, ["--config", cfg, "jobs", *args], terminal_width=250)


def test_the_fx_job_imports_the_inbox_and_sorts_the_files(tmp_path):
    cfg, app = make(tmp_path, '[[schedules]]\njob = "fx"\ncron = "30 7 * * *"\n')
    inbox = app.settings.data_path / "fx-inbox"
    inbox.mkdir(parents=True)
    (inbox / "rates-1.csv").write_text("date,currency,units_per_usd\n2026-03-02,KZT,501.5\n2026-03-02,KGS,87.4\n")
    (inbox / "broken.csv").write_text("day,cur\n2026-03-02,KZT\n")
    (inbox / "arriving.csv.part").write_text("date,currency")
    old = time.time() - 60
    for f in inbox.iterdir():
        os.utime(f, (old, old))
    (inbox / "fresh.csv").write_text("date,currency,units_per_usd\n")  # still being written: next time

    r = jobs(cfg, "run", "fx")
    assert r.exit_code == 1, r.output  # one file was unreadable
    assert "1 files imported (2 rates); 1 moved to" in r.output and "broken.csv: error: " in r.output
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["rates-1.csv"]
    assert sorted(p.name for p in (inbox / "failed").iterdir()) == ["broken.csv"]
    assert sorted(p.name for p in inbox.iterdir() if p.is_file()) == ["arriving.csv.part", "fresh.csv"]
    with app.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(m.FxRate.__table__)).scalar() == 2
        run = c.execute(select(T_RUN).where(T_RUN.c.kind == "job", T_RUN.c.source == "fx")).one()
    assert (run.status, run.items, run.errors) == ("failed", 2, 1)


def test_jobs_run_records_what_the_child_recorded(tmp_path):
    cfg, app = make(tmp_path, '[[schedules]]\njob = "backfill"\nevery = "1h"\n')
    # retention is not scheduled: a job kind can still be run by hand; its own run row is summed into the job's
    r = jobs(cfg, "run", "retention")
    assert r.exit_code == 0, r.output
    assert "job retention: ok" in r.output and "retention ok (0 items)" in r.output
    # Telegram with nothing configured: the job fails with the command's own explanation
    r = jobs(cfg, "run", "backfill")
    assert r.exit_code == 1
    assert "job backfill: failed" in r.output and "exit 2: error: no channels: list them in telegram.channels" in r.output
    with app.engine.connect() as c:
        kinds = [(k, s, st) for k, s, st in c.execute(select(T_RUN.c.kind, T_RUN.c.source, T_RUN.c.status)
                                                       .order_by(T_RUN.c.id))]
    assert kinds == [("job", "retention", "ok"), ("retention", None, "ok"), ("job", "backfill", "failed")]
    r = jobs(cfg, "list")
    assert r.exit_code == 0 and "telegram" in r.output and "every 1h" in r.output
    r = jobs(cfg, "run", "nosuch")
    assert r.exit_code == 2 and "no job 'nosuch'" in r.output


def test_a_job_over_its_time_limit_is_stopped_and_a_running_job_is_not_started_twice(tmp_path):
    cfg, app = make(tmp_path, f'[service]\nkill_after = "1s"\n'
                              f'[[schedules]]\njob = "command"\nname = "stuck"\nevery = "1h"\ntime_limit = "1s"\n'
                              f'command = ["{PY}", "-c", "import time; print(1, flush=True); time.sleep(60)"]\n')
    r = jobs(cfg, "run", "stuck")
    assert r.exit_code == 1
    assert "job stuck: failed" in r.output and "time limit 1s exceeded: stopped" in r.output
    held = DatabaseLock(app.engine, "job:stuck")
    assert held.acquire()  # as the service holds it while the job runs
    try:
        r = jobs(cfg, "run", "stuck")
        assert r.exit_code == 3 and "already running" in r.output and f"pid {os.getpid()}" in r.output
    finally:
        held.release()
    with app.engine.connect() as c:
        assert c.execute(select(func.count()).select_from(T_RUN).where(T_RUN.c.kind == "job")).scalar() == 1


def test_a_job_counts_what_the_child_sends_back_not_what_it_prints(tmp_path):
    # The child writes its result object as JSON; a line that merely looks like a count does not count.
    prog = ("import json, os; print('items: 3'); "
            "json.dump({'items': 7, 'errors': 0}, open(os.environ['NPSWATCH_RESULT_FILE'], 'w'))")
    cfg, app = make(tmp_path, f'[[schedules]]\nname = "counted"\njob = "command"\nevery = "1h"\n'
                              f'command = ["{sys.executable}", "-c", "{prog}"]\n')
    r = jobs(cfg, "run", "counted")
    assert r.exit_code == 0, r.output
    with app.engine.connect() as c:
        run = c.execute(select(T_RUN).where(T_RUN.c.kind == "job", T_RUN.c.source == "counted")).one()
    assert (run.status, run.items) == ("ok", 7)


def test_an_npswatch_child_sends_its_result_as_json(tmp_path):
    cfg, app = make(tmp_path)
    rates = tmp_path / "rates.csv"
    rates.write_text("date,currency,units_per_usd\n2026-03-02,KZT,501.5\n2026-03-02,KGS,87.4\n2026-03-03,KZT,502\n")
    result = tmp_path / "result.json"
    r = runner.invoke(cli, ["--config", cfg, "--result-file", str(result), "fx", "import", str(rates)])
    assert r.exit_code == 0, r.output
    sent = json.loads(result.read_text())
    assert (sent["kind"], sent["ok"], sent["items"], sent["errors"]) == ("FxImportResult", True, 3, 0)
    assert sent["files"][0]["currencies"] == ["KGS", "KZT"] and sent["files"][0]["last_day"] == "2026-03-03"
