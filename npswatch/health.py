"""`npswatch status`: is collection healthy? From the job history (`crawl_run`), the stored posts and the
scheduler's job store; exit code 1 when something is unhealthy, so monitoring can run it.

Per source (web sites and Telegram channels that have collection runs, plus the configured channels when
the live listener is on): last run, last success, failure streak, items in the last run, newest post and
whether it is stale. Per scheduled job: schedule, next run, last run, failure streak.

Unhealthy (each gives a one-line problem):

| what                                   | when                                                                |
|----------------------------------------|---------------------------------------------------------------------|
| a source or job keeps failing          | its last `health.max_failures` finished runs all failed, or brought nothing but errors (a crawl of a site that is down finishes "ok" with 0 items) |
| a stale source                         | no new post for `health.stale_after` (per source: `stale_after_by_source`), and never less than two periods of the job that collects it |
| a run stuck in `running`               | longer than its time limit + kill grace + 10 min (its process died and no service has restarted) |
| a job overdue                          | the service runs but a job's next run is more than the misfire grace in the past |
| a job not loaded                       | the service runs but a configured job is not in its store (restart it) |
| no scheduler (only `--require-service`)| nobody holds the scheduler lock                                     |

>>> streak(["failed", "empty", "ok", "failed"]), streak(["running", "failed", "ok"]), streak(["ok"])
(2, 1, 0)
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine, MetaData, Table, func, inspect, select

from npswatch.storage import models
from npswatch.storage.listings import offer_coverage
from npswatch.storage.runs import T_RUN, stale_runs
from npswatch.storage.telegram_store import channel_states

from .config import parse_duration
from .lock import DatabaseLock
from .schedules import JOB_RUN_KIND, JOBSTORE_TABLE, Job, catalogue, human_duration

__all__ = ["Health", "SourceHealth", "JobHealth", "check_health", "streak", "SOURCE_KINDS"]

SOURCE_KINDS = ("crawl", "telegram-backfill")  # crawl_run kinds that collect one source each
HISTORY = 50  # runs read per source or job: enough for a streak; more is shown as "50+"
STUCK_SLACK = 600.0


def streak(outcomes: list[str]) -> int:
    """Failed (or empty) runs in a row, newest first, ignoring runs still going."""
    n = 0
    for s in outcomes:
        if s == "running":
            continue
        if s not in ("failed", "empty", "interrupted"):
            break
        n += 1
    return n


def _aware(d: datetime | None) -> datetime | None:
    if d is None:
        return None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


def _norm(key: str | None) -> str:
    return (key or "").strip().lower().lstrip("@").replace("_", "-")


@dataclass
class Run:
    started_at: datetime | None
    finished_at: datetime | None
    status: str
    items: int
    errors: int
    message: str | None

    @property
    def outcome(self) -> str:
        """ok | failed | running | empty: finished "ok" with nothing but errors."""
        if self.status == "ok" and self.items == 0 and self.errors > 0:
            return "empty"
        return self.status


@dataclass
class SourceHealth:
    source: str
    kinds: list[str]
    runs: int = 0
    last_run_at: datetime | None = None
    last_status: str | None = None  # outcome of the newest run: ok, failed, empty, running
    last_success_at: datetime | None = None
    failure_streak: int = 0
    items_last_run: int | None = None
    last_message: str | None = None
    last_new_at: datetime | None = None
    expected_seconds: float = 0.0
    stale: bool = False
    listings_last_crawl: int | None = None  # web sources: listings the newest finished crawl saw
    no_offer_last_crawl: int | None = None  # ... and how many of them have no offer stored
    problems: list[str] = field(default_factory=list)
    channel_state: str | None = None  # Telegram: ok, join_refused, join_pending, private, banned, gone, renamed
    channel_state_since: datetime | None = None
    channel_state_detail: str | None = None


@dataclass
class JobHealth:
    name: str
    kind: str
    schedule: str
    scheduled: bool
    next_run_at: datetime | None = None
    last_run_at: datetime | None = None
    last_status: str | None = None  # outcome of the newest run: ok, failed, empty, running
    last_success_at: datetime | None = None
    failure_streak: int = 0
    items_last_run: int | None = None
    last_message: str | None = None
    problems: list[str] = field(default_factory=list)


@dataclass
class Health:
    checked_at: datetime
    scheduler_running: bool
    scheduler_holder: str | None
    jobs: list[JobHealth]
    sources: list[SourceHealth]
    problems: list[str] = field(default_factory=list)  # every problem, "what: why"

    @property
    def healthy(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        def conv(v):
            if isinstance(v, datetime):
                return v.isoformat()
            if isinstance(v, dict):
                return {k: conv(x) for k, x in v.items()}
            if isinstance(v, list):
                return [conv(x) for x in v]
            return v

        return conv(asdict(self)) | {"healthy": self.healthy}


def _runs(conn, kinds: tuple[str, ...], source: str) -> list[Run]:
    rows = conn.execute(select(T_RUN.c.started_at, T_RUN.c.finished_at, T_RUN.c.status, T_RUN.c["items"],
                               T_RUN.c.errors, T_RUN.c.message)
                        .where(T_RUN.c.kind.in_(kinds), T_RUN.c.source == source)
                        .order_by(T_RUN.c.started_at.desc(), T_RUN.c.id.desc()).limit(HISTORY)).all()
    return [Run(_aware(r.started_at), _aware(r.finished_at), r.status, r.items, r.errors, r.message) for r in rows]


def _fill(h, runs: list[Run], limit: float, now: datetime, max_failures: int, what: str) -> None:
    """Last run, last success, streak, stuck: shared by sources and jobs."""
    if isinstance(h, SourceHealth):
        h.runs = len(runs)
    if not runs:
        return
    last = runs[0]
    h.last_run_at, h.last_status, h.last_message = last.started_at, last.outcome, last.message
    finished = [r for r in runs if r.status != "running"]
    h.items_last_run = finished[0].items if finished else None
    h.last_success_at = next((r.finished_at or r.started_at for r in runs if r.outcome == "ok"), None)
    h.failure_streak = streak([r.outcome for r in runs])
    if h.failure_streak >= max_failures:
        n = f"{h.failure_streak}+" if h.failure_streak >= HISTORY else str(h.failure_streak)
        since = f"last success {h.last_success_at:%Y-%m-%d %H:%M}" if h.last_success_at else "never succeeded"
        msg = next((r.message for r in finished if r.message), "") or ""
        h.problems.append(f"{what}: failed or brought nothing but errors {n} times in a row ({since})"
                          + (f": {msg[:200]}" if msg else ""))
    if last.status == "interrupted" and h.failure_streak < max_failures:
        h.problems.append(f"{what}: its last run was interrupted ({(last.message or 'process died')[:200]})")
    for r in runs:
        if r.status == "running" and r.started_at and (now - r.started_at).total_seconds() > limit + STUCK_SLACK:
            h.problems.append(f"{what}: a run started {r.started_at:%Y-%m-%d %H:%M} is still marked running, "
                              f"past its time limit ({human_duration(limit)}): its process probably died "
                              "(`npswatch run` marks such runs failed when it starts)")
            break


def _next_runs(engine: Engine) -> dict[str, datetime | None] | None:
    if not inspect(engine).has_table(JOBSTORE_TABLE):
        return None
    t = Table(JOBSTORE_TABLE, MetaData(), autoload_with=engine)
    with engine.connect() as c:
        return {r.id: (datetime.fromtimestamp(r.next_run_time, timezone.utc) if r.next_run_time is not None else None)
                for r in c.execute(select(t.c.id, t.c.next_run_time))}


def _configured_channels(settings) -> list[str]:
    try:
        from npswatch.crawlers.telegram.convert import normalise_channel
    except ImportError:  # pragma: no cover - Telethon missing
        return []
    keys = []
    for c in settings.telegram.channels:
        try:
            keys.append(normalise_channel(c))
        except ValueError:
            pass
    return keys


def check_health(engine: Engine, settings, *, now: datetime | None = None, require_service: bool = False) -> Health:
    now = now or datetime.now(timezone.utc)
    h_cfg, svc = settings.health, settings.service
    max_f = h_cfg.max_failures
    kill = parse_duration(svc.kill_after)
    jobs = catalogue(settings)
    holder = DatabaseLock(engine, "scheduler").holder()
    running = holder is not None
    next_runs = _next_runs(engine)
    grace = parse_duration(svc.misfire_grace)

    job_health: list[JobHealth] = []
    with engine.connect() as conn:
        names = [j.name for j in jobs]
        recent = now - timedelta(days=30)
        extra = [n for (n,) in conn.execute(select(T_RUN.c.source).where(
            T_RUN.c.kind == JOB_RUN_KIND, T_RUN.c.started_at >= recent).distinct()) if n and n not in names]
        for job in jobs + [Job(name=n, kind=n.partition(":")[0]) for n in sorted(extra)]:
            scheduled = job.name in names
            jh = JobHealth(job.name, job.kind, job.schedule, scheduled)
            runs = _runs(conn, (JOB_RUN_KIND,), job.name)
            limit = job.time_limit + kill
            if scheduled:
                _fill(jh, runs, limit, now, max_f, f"job {job.name}")
            else:  # a job run by hand that is no longer (or never was) scheduled: shown, not judged
                _fill(jh, runs, float("inf"), now, 10**9, f"job {job.name}")
            if next_runs is not None:
                jh.next_run_at = next_runs.get(job.name)
            if scheduled and running and next_runs is not None:
                if job.name not in next_runs:
                    jh.problems.append(f"job {job.name}: configured but not loaded by the running service "
                                       "(restart it to load the new configuration)")
                elif jh.next_run_at and (now - jh.next_run_at).total_seconds() > grace + 60:
                    jh.problems.append(f"job {job.name}: due since {jh.next_run_at:%Y-%m-%d %H:%M} and not run")
            job_health.append(jh)

        # sources: those collected by runs, and the live listener's channels
        run_kinds: dict[str, list[str]] = {}
        for key, kind in conn.execute(select(T_RUN.c.source, T_RUN.c.kind).where(
                T_RUN.c.kind.in_(SOURCE_KINDS), T_RUN.c.source.is_not(None)).distinct().order_by(T_RUN.c.kind)):
            run_kinds.setdefault(key, []).append(kind)
        keys = list(run_kinds)
        if svc.listen:
            keys += [k for k in _configured_channels(settings) if k not in keys]
        states = channel_states(engine)
        keys += [k for k in states if k not in keys]
        S, P = models.Source.__table__, models.Post.__table__
        # one look-up in the index on (source_id, first seen) per source, not a pass over every post
        seen = func.coalesce(P.c.first_seen, P.c.collected_at)
        newest = {k: at for k, at in conn.execute(select(
            S.c.key, select(func.max(seen)).where(P.c.source_id == S.c.id).scalar_subquery())
            .where(S.c.key.in_(keys))) if at is not None} if keys else {}
        sources: list[SourceHealth] = []
        last_crawls: dict[int, SourceHealth] = {}  # the newest finished crawl of each web source
        for key in sorted(keys):
            runs = _runs(conn, SOURCE_KINDS, key)
            kinds = run_kinds.get(key, [])
            sh = SourceHealth(key, kinds or ["telegram-listen"])
            limit = parse_duration(svc.crawl_time_limit if "crawl" in kinds else svc.job_time_limit) + kill
            _fill(sh, runs, limit, now, max_f, f"source {key}")
            sh.last_new_at = _aware(newest.get(key)) if newest.get(key) is not None else None
            sh.expected_seconds = _expected(key, kinds, jobs, settings)
            if runs and runs[0].message and "login expired for" in runs[0].message:
                sh.problems.append(f"source {key}: login expired for {key} (refresh the cookies of its [login])")
            # the newest finished crawl, through the (source, started_at) index: by id, PostgreSQL walked every
            # newer run of every source
            crawl_id = conn.execute(select(T_RUN.c.id).where(
                T_RUN.c.kind == "crawl", T_RUN.c.source == key, T_RUN.c.status != "running")
                .order_by(T_RUN.c.started_at.desc(), T_RUN.c.id.desc()).limit(1)).scalar() if "crawl" in kinds else None
            if crawl_id is not None:  # its listings counted below, for every source at once
                sh.listings_last_crawl, sh.no_offer_last_crawl = 0, 0
                last_crawls[crawl_id] = sh
            if key in states:
                st = states[key]
                sh.channel_state, sh.channel_state_since, sh.channel_state_detail = st.status, st.since, st.detail
            first = runs[-1].started_at if runs else None
            if sh.last_new_at is not None:
                sh.stale = (now - sh.last_new_at).total_seconds() > sh.expected_seconds
            elif first is not None:
                sh.stale = (now - first).total_seconds() > sh.expected_seconds
            if sh.stale:
                what = (f"nothing new since {sh.last_new_at:%Y-%m-%d %H:%M}" if sh.last_new_at
                        else f"nothing collected since the first run ({first:%Y-%m-%d %H:%M})")
                sh.problems.append(f"source {key}: stale, {what}; expected something within "
                                   f"{human_duration(sh.expected_seconds)}")
            sources.append(sh)
    for crawl_id, (listed, no_offer) in offer_coverage(engine, list(last_crawls)).items():
        last_crawls[crawl_id].listings_last_crawl, last_crawls[crawl_id].no_offer_last_crawl = listed, no_offer

    problems = [p for j in job_health for p in j.problems] + [p for s in sources for p in s.problems]
    timeout = timedelta(seconds=parse_duration(h_cfg.heartbeat_timeout))
    for rid, kind, source, host, pid, last in stale_runs(engine, timeout, now):
        problems.append(f"run {rid} ({kind} {source or ''}): running on {host or '?'} (process {pid}) but no "
                        f"heartbeat since {_aware(last):%Y-%m-%d %H:%M}: its process died (the next command marks it "
                        "interrupted)")
    if require_service and not running:
        problems.insert(0, "scheduler: not running on this database (start it with `npswatch run`)")
    return Health(now, running, holder, job_health, sources, problems)


def _expected(key: str, kinds: list[str], jobs: list[Job], settings) -> float:
    """How long a source may go without a new post: its own setting or the default, and at least two periods
    of the most frequent job that collects it (nothing new can come more often than it is collected)."""
    h = settings.health
    own = next((v for k, v in h.stale_after_by_source.items() if _norm(k) == _norm(key)), None)
    expected = parse_duration(own or h.stale_after)
    job_kind = {"crawl": "crawl", "telegram-backfill": "backfill"}
    wanted = {job_kind[k] for k in kinds if k in job_kind}
    periods = [j.period for j in jobs if j.kind in wanted and (j.source is None or _norm(j.source) == _norm(key))]
    periods = [p for p in periods if p]
    if periods:
        expected = max(expected, 2 * min(periods))
    return expected
