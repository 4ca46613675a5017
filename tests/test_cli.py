"""The command line: help with examples everywhere, init, config errors, db upgrade."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import typer.main
from typer.testing import CliRunner

from npswatch.cli.app import app

runner = CliRunner()


def all_commands():
    root = typer.main.get_command(app)

    def walk(cmd, path):
        yield path
        if getattr(cmd, "commands", None):
            for name, sub in cmd.commands.items():
                yield from walk(sub, path + [name])

    return list(walk(root, []))


@pytest.mark.parametrize("path", all_commands(), ids=lambda p: " ".join(p) or "npswatch")
def test_every_command_help_shows_an_example(path):
    r = runner.invoke(app, [*path, "--help"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "Example" in r.output and "npswatch" in r.output.split("Example", 1)[1]


def test_init_writes_a_config_that_loads(tmp_path):
    cfg = tmp_path / "npswatch.toml"
    r = runner.invoke(app, ["init", str(cfg)])
    assert r.exit_code == 0 and cfg.exists()
    r = runner.invoke(app, ["init", str(cfg)])
    assert r.exit_code == 2 and "--force" in r.output
    r = runner.invoke(app, ["--config", str(cfg), "config", "show"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert str(tmp_path / "data" / "npswatch.db") in r.output


def test_secrets_are_masked_in_config_show(tmp_path, monkeypatch):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('[telegram]\napi_id = 1\napi_hash = "0123456789abcdef-test-hash"\n[privacy]\nkey = "k-test-0123456789abcdef0123456789ab"\n')
    monkeypatch.setenv("NPSWATCH_DIGEST__SMTP__PASSWORD", "smtp-test-password")
    r = runner.invoke(app, ["--config", str(cfg), "config", "show"], terminal_width=200)
    assert r.exit_code == 0, r.output
    for secret in ("0123456789abcdef-test-hash", "k-test-0123456789abcdef0123456789ab", "smtp-test-password"):
        assert secret not in r.output
    assert "**********" in r.output


def test_environment_overrides_the_file(tmp_path, monkeypatch):
    cfg = tmp_path / "npswatch.toml"
    cfg.write_text('[database]\nurl = "sqlite:///from-file.db"\n')
    monkeypatch.setenv("NPSWATCH_DATABASE__URL", "sqlite:///from-env.db")
    r = runner.invoke(app, ["--config", str(cfg), "config", "show"], terminal_width=200)
    assert "from-env.db" in r.output and "from-file.db" not in r.output


@pytest.mark.parametrize("content,expected", [
    ('[database]\nurl = "not a url"\n', "database.url"),
    ('[telegram]\napi_idd = 5\n', "telegram.api_idd: is not a known setting"),
    ('[telegram]\napi_id = "abc"\n', "telegram.api_id"),
    ('[database\nurl = 1\n', "is not valid TOML"),
])
def test_bad_config_gives_one_clear_line(tmp_path, content, expected):
    cfg = tmp_path / "bad.toml"
    cfg.write_text(content)
    r = runner.invoke(app, ["--config", str(cfg), "db", "upgrade"], terminal_width=300)
    assert r.exit_code == 2
    assert expected in r.output and str(cfg) in r.output
    assert "Traceback" not in r.output


def test_missing_config_file_says_how_to_make_one(tmp_path):
    r = runner.invoke(app, ["--config", str(tmp_path / "nope.toml"), "db", "current"], terminal_width=300)
    assert r.exit_code == 2 and "npswatch init" in r.output


def test_config_from_environment_variable(tmp_path, monkeypatch):
    cfg = tmp_path / "elsewhere.toml"
    cfg.write_text(f'data_dir = "{tmp_path / "d"}"\n')
    monkeypatch.setenv("NPSWATCH_CONFIG", str(cfg))
    r = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "d" / "npswatch.db").exists()
    r = runner.invoke(app, ["db", "current"])
    from npswatch.storage.db import head_revision

    assert r.exit_code == 0 and head_revision() in r.output


def test_db_upgrade_on_postgresql(pg_url, monkeypatch):
    monkeypatch.setenv("NPSWATCH_DATABASE__URL", pg_url)
    monkeypatch.delenv("NPSWATCH_CONFIG", raising=False)
    r = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert r.exit_code == 0 and "upgraded empty" in r.output, r.output
    r = runner.invoke(app, ["db", "upgrade"], terminal_width=300)
    assert "already at" in r.output


def test_console_script_is_installed():
    exe = os.path.join(os.path.dirname(sys.executable), "npswatch")
    r = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "early warning" in r.stdout
