"""Installed, npswatch is one import name: nothing generic at the top of site-packages, and a user's own module
named like one of our folders hides nothing."""
import subprocess
import sys


def _run(code: str, cwd) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_the_folders_are_subpackages_of_npswatch_only(tmp_path):
    for name in ("pipelines", "storage", "crawlers", "reports", "scheduler"):
        run = _run(f"import {name}", tmp_path)
        assert run.returncode != 0 and "ModuleNotFoundError" in run.stderr, name
    run = _run("import npswatch.pipelines.extract, npswatch.storage.db, npswatch.reports.trends; print('ok')", tmp_path)
    assert run.stdout.strip() == "ok", run.stderr


def test_a_users_own_reports_module_hides_nothing(tmp_path):
    (tmp_path / "reports.py").write_text("raise SystemExit('the notebook folder reports.py was imported')\n")
    (tmp_path / "scheduler.py").write_text("raise SystemExit('the notebook folder scheduler.py was imported')\n")
    run = _run("from npswatch.reports.trends import trends; import npswatch.config; print('ok')",
               tmp_path)
    assert run.stdout.strip() == "ok", run.stderr
