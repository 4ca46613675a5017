"""The scheduled jobs as the configuration describes them: `[[schedules]]` read into `Job`s.

What the scheduler runs, what `npswatch jobs list` shows and what `npswatch status` checks against: shared by
the application layer (health) and the scheduler service (which runs them, `npswatch.scheduler.jobs`).

>>> from npswatch.config import Settings
>>> s = Settings(schedules=[{"job": "crawl", "source": "fixture-shop", "every": "6h"},
...                         {"job": "crawl", "cron": "0 3 * * *"}, {"job": "retention", "cron": "15 3 * * *"}])
>>> [(j.name, j.schedule, j.time_limit) for j in catalogue(s)]
[('crawl:fixture-shop', 'every 6h', 21600.0), ('crawl', 'cron 0 3 * * *', 21600.0), ('retention', 'cron 15 3 * * *', 3600.0)]
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from hashlib import sha1

from .config import JOB_KINDS, ConfigError, Settings, parse_duration

__all__ = ["Job", "catalogue", "find_job", "human_duration", "JOB_RUN_KIND", "CHILD_KINDS", "JOBSTORE_TABLE"]

JOBSTORE_TABLE = "apscheduler_jobs"  # APScheduler's own table; none of ours is named like it
JOB_RUN_KIND = "job"  # crawl_run.kind of the scheduler's own rows; their source is the job name
# crawl_run kinds the child command of a job writes itself (its rows are summed into the job's row).
CHILD_KINDS = {"crawl": ("crawl",), "backfill": ("telegram-backfill",), "metrics": ("telegram-metrics",),
               "retention": ("retention",), "extract-pending": ("extract-pending",)}


def human_duration(seconds: float) -> str:
    """A span as the config writes it, at most two units.

    >>> human_duration(5400), human_duration(2), human_duration(86400 * 2)
    ('1h30m', '2s', '2d')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if s >= size:
            parts.append(f"{s // size}{unit}")
            s %= size
    return "".join(parts[:2])


# --- catalogue ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    name: str
    kind: str  # crawl | backfill | metrics | fx | digest | retention | command
    source: str | None = None
    cron: str | None = None
    every: str | None = None
    args: tuple[str, ...] = ()
    command: tuple[str, ...] | None = None
    time_limit: float = 3600.0

    @property
    def schedule(self) -> str:
        if self.cron:
            return f"cron {self.cron}"
        if self.every:
            return f"every {self.every}"
        return "-"

    @property
    def period(self) -> float | None:
        """Seconds between two runs (for cron: between the next two fire times), None if unscheduled."""
        if self.every:
            return parse_duration(self.every)
        if self.cron:
            from apscheduler.triggers.cron import CronTrigger

            t = CronTrigger.from_crontab(self.cron, timezone="UTC")
            now = datetime.now(timezone.utc)
            a = t.get_next_fire_time(None, now)
            b = a and t.get_next_fire_time(a, a + timedelta(seconds=1))
            return (b - a).total_seconds() if a and b else None
        return None

    @property
    def child_kinds(self) -> tuple[str, ...]:
        return CHILD_KINDS.get(self.kind, ())

    def trigger(self, tz):
        from apscheduler.triggers.cron import CronTrigger
        from apscheduler.triggers.interval import IntervalTrigger

        if self.cron:
            return CronTrigger.from_crontab(self.cron, timezone=tz)
        if self.every:
            return IntervalTrigger(seconds=parse_duration(self.every), timezone=tz)
        raise ValueError(f"job {self.name} has no schedule")

    def fingerprint(self, tz) -> str:
        """Changes when the schedule changes (then the stored next run time is recomputed), not otherwise."""
        return sha1(f"{self.kind}|{self.cron}|{self.every}|{tz}".encode()).hexdigest()[:16]


def _time_limit(settings: Settings, kind: str, given: str | None) -> float:
    if given:
        return parse_duration(given)
    return parse_duration(settings.service.crawl_time_limit if kind == "crawl" else settings.service.job_time_limit)


def catalogue(settings: Settings) -> list[Job]:
    """The scheduled jobs, in config order. Two entries with the same explicit name are a config error; two
    unnamed entries of the same job and source are told apart as NAME, NAME-2, ..."""
    jobs: list[Job] = []
    names: set[str] = set()
    for i, e in enumerate(settings.schedules):
        name = e.job_name
        if name in names:
            if e.name:
                raise ConfigError(f"schedules.{i}.name: {name!r} is used by an earlier schedule")
            n = 2
            while f"{name}-{n}" in names:
                n += 1
            name = f"{name}-{n}"
        names.add(name)
        jobs.append(Job(name=name, kind=e.job, source=e.source, cron=e.cron, every=e.every, args=tuple(e.args),
                        command=tuple(e.command) if e.command else None,
                        time_limit=_time_limit(settings, e.job, e.time_limit)))
    return jobs


def find_job(settings: Settings, name: str) -> Job:
    """A scheduled job by name, else an unscheduled one named KIND or KIND:SOURCE (`jobs run retention`)."""
    for job in catalogue(settings):
        if job.name == name:
            return job
    kind, _, source = name.partition(":")
    if kind in JOB_KINDS and kind != "command":
        return Job(name=name, kind=kind, source=source or None, time_limit=_time_limit(settings, kind, None))
    known = ", ".join(j.name for j in catalogue(settings)) or "none scheduled"
    raise KeyError(f"no job {name!r}: scheduled jobs: {known}; or name a job kind "
                   f"({', '.join(k for k in JOB_KINDS if k != 'command')}), optionally with :SOURCE")
