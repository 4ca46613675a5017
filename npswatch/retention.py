"""`npswatch retention apply [--dry-run]`: the retention periods of the config applied to storage and files.

What goes (`[retention]`): post texts older than `post_text_days` (facts stay: storage/retention.py),
raw page snapshots older than their period (a site definition's `snapshot_days`, else `snapshot_days`),
and job output files older than `job_log_days`. A dry run counts the same things and changes nothing.

>>> r = RetentionReport(dry_run=True, post_texts=3, version_texts=1)
>>> r.lines()[0]
'post texts older than - (would be removed): 3 posts, 1 earlier versions, 0 signal snippets, 0 texts read from pictures'
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import Engine

from npswatch.storage.retention import clear_texts, count_snapshots, count_texts, prune_snapshots

__all__ = ["RetentionReport", "apply_retention", "snapshot_cutoffs"]


@dataclass
class RetentionReport:
    dry_run: bool
    text_before: datetime | None = None
    post_texts: int = 0
    version_texts: int = 0
    snippets: int = 0
    picture_texts: int = 0
    snapshot_rows: int = 0
    snapshot_files: int = 0
    snapshot_bytes: int = 0
    job_logs: int = 0
    snapshot_periods: dict[str, int] = field(default_factory=dict)  # sources with their own period (days)

    @property
    def total(self) -> int:
        return (self.post_texts + self.version_texts + self.snippets + self.picture_texts + self.snapshot_rows
                + self.job_logs)

    def lines(self) -> list[str]:
        verb = "would be removed" if self.dry_run else "removed"
        before = f"{self.text_before:%Y-%m-%d}" if self.text_before else "-"
        snap = f"{self.snapshot_rows} snapshot pages, {self.snapshot_files} body files"
        if self.dry_run:
            snap += f" ({self.snapshot_bytes / 1e6:.1f} MB)"
        own = ", ".join(f"{k} {v}d" for k, v in sorted(self.snapshot_periods.items()))
        return [f"post texts older than {before} ({verb}): {self.post_texts} posts, {self.version_texts} earlier "
                f"versions, {self.snippets} signal snippets, {self.picture_texts} texts read from pictures",
                f"raw snapshots past their period ({verb}): {snap}" + (f"; own periods: {own}" if own else ""),
                f"job logs ({verb}): {self.job_logs} files",
                "offers, mentions and all other facts are kept"]


def snapshot_cutoffs(settings, now: datetime) -> tuple[dict[str | None, datetime], dict[str, int]]:
    """Cut-off per site with its own `snapshot_days` (definitions of the sites folder and built-in), else the
    default (key None)."""
    from npswatch.crawlers.sitedef import FIXTURE_SITES_DIR, SiteDefError, load_site

    own: dict[str, int] = {}
    for folder in (FIXTURE_SITES_DIR, settings.sites_path):  # the sites folder's definitions win
        if not folder.is_dir():
            continue
        for path in sorted(folder.glob("*.toml")):
            try:
                site = load_site(path)
            except SiteDefError:
                continue  # `npswatch sources list` reports it; the default period applies
            if site.snapshot_days:
                own[site.name] = site.snapshot_days
            else:
                own.pop(site.name, None)
    cutoffs: dict[str | None, datetime] = {None: now - timedelta(days=settings.retention.snapshot_days)}
    cutoffs.update({name: now - timedelta(days=days) for name, days in own.items()})
    return cutoffs, own


def _old_logs(folder: Path, days: int) -> list[Path]:
    if not folder.is_dir():
        return []
    limit = time.time() - days * 86400
    return [p for p in folder.glob("*.log") if p.is_file() and p.stat().st_mtime < limit]


def apply_retention(engine: Engine, settings, *, dry_run: bool = False, now: datetime | None = None) -> RetentionReport:
    now = now or datetime.now(timezone.utc)
    r = settings.retention
    before = now - timedelta(days=r.post_text_days)
    cutoffs, own = snapshot_cutoffs(settings, now)
    root = settings.data_path / "snapshots"
    logs = _old_logs(settings.data_path / "logs" / "jobs", r.job_log_days)
    report = RetentionReport(dry_run=dry_run, text_before=before, snapshot_periods=own, job_logs=len(logs))
    if dry_run:
        texts, snaps = count_texts(engine, before), count_snapshots(engine, root, cutoffs)
    else:
        texts, snaps = clear_texts(engine, before), prune_snapshots(engine, root, cutoffs)
        for p in logs:
            p.unlink(missing_ok=True)
    report.post_texts, report.version_texts, report.snippets = texts.posts, texts.versions, texts.snippets
    report.picture_texts = texts.pictures
    report.snapshot_rows, report.snapshot_files, report.snapshot_bytes = snaps.rows, snaps.files, snaps.bytes
    return report
