"""`npswatch telegram login`: credentials, the session file's permissions, secrets kept out of logs and the
database."""
from __future__ import annotations

import logging
import stat

import pytest
from telethon.sessions import SQLiteSession
from typer.testing import CliRunner

from npswatch.crawlers.telegram import client as client_mod
from npswatch.cli.app import app
from npswatch.config import load_settings

from offline_telegram import offline_network

API_HASH = "0123456789abcdef0123456789abcdef"  # not the shared one: a hash that looks real
runner = CliRunner()


def flat(output: str) -> str:
    return " ".join(output.split())


def config(tmp_path, telegram: str) -> str:
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text(f'data_dir = "data"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n[telegram]\n{telegram}\n'
                   'channels = ["synthetic_channel_01"]\n')
    return str(cfg)


@pytest.fixture
def net(tmp_path, monkeypatch):
    n = offline_network(tmp_path, monkeypatch, api_hash=API_HASH)
    monkeypatch.delenv("NPSWATCH_TELEGRAM__API_HASH", raising=False)
    monkeypatch.delenv("NPSWATCH_TELEGRAM__API_ID", raising=False)
    return n


@pytest.mark.parametrize("telegram,expected", [
    ("", ["Telegram API credentials missing", "telegram.api_id", "NPSWATCH_TELEGRAM__API_HASH", "my.telegram.org"]),
    ("api_id = 1000001", ["credentials missing", "NPSWATCH_TELEGRAM__API_HASH"]),
    ('api_hash = "' + API_HASH + '"', ["credentials missing", "telegram.api_id"]),
    ('api_id = 1000001\napi_hash = "not-a-hash"', ["not the 32-character hex string", "NPSWATCH_TELEGRAM__API_HASH"]),
])
@pytest.mark.parametrize("command", [["telegram", "login"], ["listen"], ["telegram", "backfill"]])
def test_missing_or_malformed_credentials_say_how_to_fix(tmp_path, net, telegram, expected, command):
    cfg = config(tmp_path, telegram)
    assert runner.invoke(app, ["--config", cfg, "db", "upgrade"]).exit_code == 0
    r = runner.invoke(app, ["--config", cfg, *command], terminal_width=300)
    assert r.exit_code == 2, r.output
    for part in expected:
        assert part in flat(r.output)
    assert "Traceback" not in r.output


def test_session_file_is_private(tmp_path, net):
    settings = load_settings(config(tmp_path, f'api_id = 1000001\napi_hash = "{API_HASH}"'))
    client = client_mod.make_client(settings)
    path = client_mod.session_path(settings)
    assert isinstance(client.session, SQLiteSession) and client.session.filename == str(path)
    client.session.save()  # Telethon writes its tables into the file we prepared
    client.session.close()
    assert path.stat().st_size > 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert path.parent == tmp_path / "data" / "telegram" and path.name == "npswatch.session"


def test_login_prompts_for_the_code_and_leaks_no_secret(tmp_path, net, caplog):
    cfg = config(tmp_path, f'api_id = 1000001\napi_hash = "{API_HASH}"')
    assert runner.invoke(app, ["--config", cfg, "db", "upgrade"]).exit_code == 0
    with caplog.at_level(logging.DEBUG):
        r = runner.invoke(app, ["--config", cfg, "telegram", "login"], input="+10000000001\n12345\n",
                          terminal_width=300)
        logging.getLogger("npswatch.test").info("a careless log line with %s in it", API_HASH)
    assert r.exit_code == 0, r.output
    assert "Phone number" in r.output and "Login code" in r.output and "logged in (user id 700000001)" in flat(r.output)
    path = tmp_path / "data" / "telegram" / "npswatch.session"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert caplog.records and API_HASH not in caplog.text and API_HASH not in r.output
    assert "**********" in caplog.text  # the careless line was masked
    # nothing of the hash or the session's key reaches the database
    auth_key = SQLiteSession(str(path)).auth_key.key
    db = (tmp_path / "data" / "npswatch.db").read_bytes()
    assert API_HASH.encode() not in db and auth_key not in db
    # logged in: the next commands use the session without asking again
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    r = runner.invoke(app, ["--config", cfg, "telegram", "backfill", "--no-extract"], terminal_width=300)
    assert r.exit_code == 0, r.output
    assert [c for c, _ in net.calls() if c in ("SendCodeRequest", "SignInRequest")] == ["SendCodeRequest", "SignInRequest"]


def test_refused_credentials_and_wrong_codes_are_explained(tmp_path, net):
    cfg = config(tmp_path, 'api_id = 1000001\napi_hash = "ffffffffffffffffffffffffffffffff"')  # well-formed, wrong
    r = runner.invoke(app, ["--config", cfg, "telegram", "login", "--phone", "+10000000001"], input="12345\n",
                      terminal_width=300)
    assert r.exit_code == 2 and "Telegram refused this api_id/api_hash pair" in flat(r.output)
    cfg = config(tmp_path, f'api_id = 1000001\napi_hash = "{API_HASH}"')
    r = runner.invoke(app, ["--config", cfg, "telegram", "login", "--phone", "+10000000001"], input="1\n2\n3\n",
                      terminal_width=300)
    assert r.exit_code == 2 and "3 wrong login codes" in flat(r.output)


def test_commands_before_login_say_to_log_in(tmp_path, net):
    cfg = config(tmp_path, f'api_id = 1000001\napi_hash = "{API_HASH}"')
    assert runner.invoke(app, ["--config", cfg, "db", "upgrade"]).exit_code == 0
    for command in (["listen"], ["telegram", "backfill"]):
        r = runner.invoke(app, ["--config", cfg, *command], terminal_width=300)
        assert r.exit_code == 2 and "not logged in" in r.output and "npswatch telegram login" in flat(r.output)


def test_hash_from_the_environment_works_and_is_redacted(tmp_path, net, monkeypatch, caplog):
    monkeypatch.setenv("NPSWATCH_TELEGRAM__API_HASH", API_HASH)
    settings = load_settings(config(tmp_path, "api_id = 1000001"))
    assert client_mod.credentials(settings.telegram) == (1000001, API_HASH)
    client_mod.make_client(settings)
    with caplog.at_level(logging.INFO):
        logging.getLogger("telethon.test").info("request carried api_hash=%s", API_HASH)
    assert API_HASH not in caplog.text


def test_login_is_a_no_op_when_already_logged_in(tmp_path, net):
    cfg = config(tmp_path, f'api_id = 1000001\napi_hash = "{API_HASH}"')
    r1 = runner.invoke(app, ["--config", cfg, "telegram", "login", "--phone", "+10000000001"], input="12345\n")
    r2 = runner.invoke(app, ["--config", cfg, "telegram", "login", "--phone", "+10000000001"])
    assert r1.exit_code == r2.exit_code == 0 and "Login code" not in r2.output and "already logged in" in r2.output
    assert len(net.calls("SignInRequest")) == 1
