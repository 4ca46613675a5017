"""A crawl resumes only from a state that says how it stopped; "disappeared" is never set from an interrupted
crawl or from a resumed one that fetched nothing."""
from __future__ import annotations

import json

from npswatch.crawlers.jobs import JobDir


def _paused(tmp_path, reason, queue=True):
    job = JobDir(tmp_path, "synthetic-shop")
    job.begin(run_id=1)
    if queue:
        (job.path / "requests.queue").mkdir()
    job.end(reason)
    return JobDir(tmp_path, "synthetic-shop")


def test_a_stop_without_a_finish_reason_is_interrupted_not_paused(tmp_path):
    job = _paused(tmp_path, None)
    assert json.loads((job.path / "npswatch-job.json").read_text())["state"] == "interrupted"
    start = job.begin(run_id=2)
    assert not start.resumed and start.crashed and start.crashed_run_id == 1


def test_a_paused_state_without_scrapys_queue_is_not_resumed(tmp_path):
    start = _paused(tmp_path, "shutdown", queue=False).begin(run_id=2)
    assert not start.resumed and start.crashed


def test_a_clean_pause_resumes(tmp_path):
    start = _paused(tmp_path, "shutdown").begin(run_id=2)
    assert start.resumed and not start.crashed


def test_a_resumed_crawl_that_fetched_nothing_marks_nothing_disappeared(tmp_path):
    start = _paused(tmp_path, "shutdown").begin(run_id=2)
    assert not start.may_mark_disappeared("finished", pages=0, complete=True)
    assert start.may_mark_disappeared("finished", pages=12, complete=True)
    assert not start.may_mark_disappeared("shutdown", pages=12, complete=True)
    assert not start.may_mark_disappeared(None, pages=12, complete=True)
