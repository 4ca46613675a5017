"""Every failure a user can cause is one line naming the file or setting and the fix, exit code 2 (`--debug`
shows the traceback); paths from the config stay inside the data folder; a short privacy key is refused on a
new database and kept with a warning on one that used it; `config show` masks the database password and
webhook tokens. These run the installed `npswatch` command."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost
from npswatch.storage.db import make_engine, upgrade
from npswatch.storage.writer import PostWriter

NPSWATCH = os.path.join(os.path.dirname(sys.executable), "npswatch")
KEY = "k" * 32


def npswatch(*args, cwd=None):
    return subprocess.run([NPSWATCH, *args], capture_output=True, text=True, timeout=120, cwd=cwd,
                          env={**os.environ, "COLUMNS": "300", "NPSWATCH_CONFIG": ""})


def _cfg(tmp_path, body: str, name="npswatch.toml"):
    p = tmp_path / name
    p.write_text(f'data_dir = "{tmp_path / "data"}"\n' + body, encoding="utf-8")
    return str(p)


CASES = {
    "unknown database scheme": ('[database]\nurl = "nosuchdb://x/y"\n', ["status"], "database.url"),
    "database unreachable": ('[database]\nurl = "postgresql+psycopg://u:pw@127.0.0.1:1/x"\n', ["status"],
                             "database cannot be reached"),
    "session name leaves the data folder": ('[telegram]\nsession_name = "../../outside"\n', ["status"],
                                            "telegram.session_name"),
    "fx inbox leaves the data folder": ('[service]\nfx_inbox = "../../../tmp/inbox"\n', ["status"], "service.fx_inbox"),
    "a short key on a new database": ('[privacy]\nkey = "abc"\n', ["privacy", "rescrub"], "privacy.key is 3 bytes"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_user_errors_are_one_line_with_exit_2_and_debug_shows_the_traceback(tmp_path, case):
    body, args, says = CASES[case]
    cfg = _cfg(tmp_path, body)
    if case == "a short key on a new database":
        assert npswatch("-c", _cfg(tmp_path, "", "ok.toml"), "db", "upgrade").returncode == 0
    r = npswatch("-c", cfg, *args)
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and says in lines[0], r.stderr
    assert "pw@" not in r.stderr  # a password never shows
    d = npswatch("--debug", "-c", cfg, *args)
    assert d.returncode != 0 and "Traceback (most recent call last)" in d.stderr


@pytest.mark.parametrize("what", ["binary config", "config is a folder", "data_dir is a file", "binary input"])
def test_unreadable_files_and_wrong_folders_are_one_line(tmp_path, what):
    if what == "binary config":
        (tmp_path / "bin.toml").write_bytes(b"\x7fELF\x00\x01\xff\xfe" * 50)
        r = npswatch("-c", str(tmp_path / "bin.toml"), "status")
    elif what == "config is a folder":
        r = npswatch("-c", str(tmp_path), "status")
    elif what == "data_dir is a file":
        (tmp_path / "afile").write_text("x")
        (tmp_path / "c.toml").write_text(f'data_dir = "{tmp_path / "afile"}"\n')
        r = npswatch("-c", str(tmp_path / "c.toml"), "status")
    else:
        (tmp_path / "in.jsonl").write_bytes(b"\x00\x01binary\xff" * 100)
        r = npswatch("-c", _cfg(tmp_path, ""), "extract", str(tmp_path / "in.jsonl"))
    assert r.returncode == 2, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error:") and str(tmp_path) in lines[0], r.stderr


def test_a_short_key_is_kept_with_a_warning_on_a_database_that_used_it(tmp_path):
    cfg = _cfg(tmp_path, '[privacy]\nkey = "abc"\n')
    engine = make_engine(f"sqlite:///{tmp_path / 'data' / 'npswatch.db'}")
    upgrade(engine)
    PostWriter(engine, Pseudonymiser(b"abc")).write([RawPost(source="s", external_id="1", text="меф 1г")])
    r = npswatch("-c", cfg, "privacy", "rescrub")
    assert r.returncode == 0, r.stderr
    assert "privacy.key is 3 bytes" in r.stderr and "kept" in r.stderr


def test_a_new_key_is_32_random_bytes(tmp_path):
    cfg = _cfg(tmp_path, "")
    assert npswatch("-c", cfg, "db", "upgrade").returncode == 0
    assert npswatch("-c", cfg, "privacy", "rescrub").returncode == 0
    key = (tmp_path / "data" / "privacy.key").read_text().strip()
    assert len(bytes.fromhex(key)) == 32 and (tmp_path / "data" / "privacy.key").stat().st_mode & 0o777 == 0o600


def test_config_show_masks_the_database_password_and_webhook_tokens(tmp_path):
    cfg = _cfg(tmp_path, '[database]\nurl = "postgresql+psycopg://ews:s3cr3t-pw@db.example.invalid/npswatch"\n'
                         '[[digest.recipients]]\nwebhook = "https://hooks.example.invalid/T000/B000/tok3n-secret"\n')
    r = npswatch("-c", cfg, "config", "show")
    assert r.returncode == 0, r.stderr
    assert "s3cr3t-pw" not in r.stdout and "tok3n-secret" not in r.stdout
    assert "ews:***@db.example.invalid/npswatch" in r.stdout and "https://hooks.example.invalid/***" in r.stdout
