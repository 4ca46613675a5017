"""Structured logs (text or JSON, with job, source and counts) in which secrets never appear."""
from __future__ import annotations

import io
import json
import logging
import sys

import pytest
from sqlalchemy import select

from npswatch.config import Settings
from npswatch.watch import Watch
from npswatch.scheduler.jobs import Runner
from npswatch.schedules import find_job
from npswatch.scheduler.logs import SecretMasker, masker_for, setup_logging
from npswatch.storage.db import upgrade
from npswatch.storage.runs import T_RUN

PY = sys.executable
API_HASH = "0123456789abcdef0123456789abcdef"
SMTP_PASSWORD = "synthetic-smtp-pass-7"
PRIVACY_KEY = "synthetic-privacy-key-42-0123456789"
SESSION = "1" + "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789_-" * 10 + "=="
SECRETS = (API_HASH, SMTP_PASSWORD, PRIVACY_KEY, SESSION, "hunter22")


@pytest.fixture
def logged(tmp_path, monkeypatch):
    """A job whose child prints every secret and dies with one in its traceback, run with JSON logs."""
    monkeypatch.setenv("NPSWATCH_DIGEST__SMTP__PASSWORD", SMTP_PASSWORD)
    code = ("import sys; "
            f"print('hash {API_HASH} smtp {SMTP_PASSWORD} key {PRIVACY_KEY}'); "
            f"print('session', '{SESSION}'); "
            "print('db postgresql://npswatch:hunter22@db.example.invalid/npswatch'); "
            f"raise RuntimeError('login failed for api_hash={API_HASH}')")
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n[telegram]\napi_id = 1\napi_hash = "{API_HASH}"\n[privacy]\nkey = "{PRIVACY_KEY}"\n'
                   f'[[schedules]]\njob = "command"\nname = "leaky"\nsource = "synthetic-src"\nevery = "1h"\n'
                   f'command = ["{PY}", "-c", "{code}"]\n', encoding="utf-8")
    app = Watch(str(cfg))
    upgrade(app.engine)
    stream = io.StringIO()
    factory = logging.getLogRecordFactory()
    handler = setup_logging(app.settings, stream=stream, json_lines=True)
    try:
        result = Runner(app.engine, app.settings).run(find_job(app.settings, "leaky"))
        try:
            raise ValueError(f"smtp login refused with {SMTP_PASSWORD}")
        except ValueError:
            logging.getLogger("npswatch.test").exception("delivery failed (password=%s)", SMTP_PASSWORD)
    finally:
        logging.getLogger().removeHandler(handler)
        logging.setLogRecordFactory(factory)
    return app, result, stream.getvalue()


def test_secrets_never_reach_the_log_the_job_output_or_the_run_history(logged):
    app, result, log_text = logged
    job_output = result.log_path.read_text()
    with app.engine.connect() as c:
        messages = " ".join(m or "" for m in c.execute(select(T_RUN.c.message)).scalars())
    for where in (log_text, job_output, messages):
        for secret in SECRETS:
            assert secret not in where
    assert "**********" in job_output and "RuntimeError: login failed" in job_output
    assert "postgresql://npswatch:**********@db.example.invalid" in job_output
    assert "session **********" in job_output


def test_log_lines_are_json_with_the_job_source_and_counts(logged):
    _, result, log_text = logged
    lines = [json.loads(line) for line in log_text.splitlines()]
    done = [x for x in lines if x.get("status") == "failed" and x.get("job") == "leaky"]
    assert len(done) == 1
    d = done[0]
    assert (d["kind"], d["source"], d["run_id"], d["exit_code"], d["level"]) == \
        ("command", "synthetic-src", result.run_id, 1, "WARNING")
    assert {"time", "logger", "message", "items", "errors", "duration"} <= set(d)
    [exc] = [x for x in lines if x["logger"] == "npswatch.test"]
    assert "ValueError: smtp login refused with **********" in exc["traceback"]
    assert exc["message"] == "delivery failed (password=**********)"


def test_text_lines_carry_the_fields_too(tmp_path):
    stream = io.StringIO()
    handler = setup_logging(Settings(), stream=stream, json_lines=False)
    try:
        logging.getLogger("npswatch.jobs").info("job x ok", extra={"job": "crawl:x", "items": 12})
    finally:
        logging.getLogger().removeHandler(handler)
    assert stream.getvalue().rstrip().endswith("npswatch.jobs: job x ok [job=crawl:x items=12]")


def test_the_masker_knows_every_configured_secret():
    s = Settings(telegram={"api_hash": API_HASH}, privacy={"key": PRIVACY_KEY},
                 digest={"smtp": {"password": SMTP_PASSWORD},
                         "recipients": [{"webhook": "https://hooks.example.invalid/services/T000/B000/synthetictoken"}]},
                 database={"url": "postgresql+psycopg://npswatch:hunter22@db.example.invalid/npswatch"})
    m = masker_for(s, environ={"NPSWATCH_TELEGRAM__SESSION": "synthetic-session-value", "NPSWATCH_LOG_LEVEL": "INFO"})
    text = (f"{API_HASH} {PRIVACY_KEY} {SMTP_PASSWORD} hunter22 synthetic-session-value INFO "
            "sent to https://hooks.example.invalid/services/T000/B000/synthetictoken")
    assert m.mask(text) == "********** ********** ********** ********** ********** INFO " \
                           "sent to https://hooks.example.invalid/**********"


def test_secret_shapes_are_masked_whatever_their_value():
    m = SecretMasker()
    assert m.mask("Authorization: Bearer abc.def-123") == "Authorization: **********"
    assert m.mask("curl -H 'Bearer abc.def-123'") == "curl -H 'Bearer **********'"
    assert m.mask('{"password": "x-y-z"}') == '{"password": "**********"}'
    assert m.mask(f"StringSession({SESSION!r})") == "StringSession('**********')"
    assert m.mask("redis://:s3cret@127.0.0.1:6379/0") == "redis://:**********@127.0.0.1:6379/0"
    # ordinary text is left alone, and the masker is linear on long adversarial input
    assert m.mask("password manager, token ring, 1 g for 4500") == "password manager, token ring, 1 g for 4500"
    assert len(m.mask("password=" * 100_000 + "a://" * 100_000)) > 0
