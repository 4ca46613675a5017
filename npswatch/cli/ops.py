"""Operations commands: `npswatch run` (the scheduler service), `status`, `jobs list|run`, `retention apply`."""
from __future__ import annotations

import json
import signal
import sys
import threading
from datetime import datetime, timezone

import typer
from rich.markup import escape
from rich.table import Table

from .common import console, example, fail, out, result_file, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

jobs_app = typer.Typer(help="Scheduled jobs: list them, run one now.\n\nExample:\n\n    npswatch jobs run crawl",
                       no_args_is_help=True)
retention_app = typer.Typer(help="Retention of texts and raw pages.\n\nExample:\n\n    npswatch retention apply --dry-run",
                            no_args_is_help=True)


def _when(d: datetime | None, now: datetime | None = None) -> str:
    if d is None:
        return "-"
    from npswatch.schedules import human_duration

    d = d if d.tzinfo else d.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    delta = (now - d).total_seconds()
    rel = f"{human_duration(abs(delta))} {'ago' if delta >= 0 else 'from now'}"
    return f"{d.astimezone(timezone.utc):%Y-%m-%d %H:%M} ({rel})"


def _status_cell(status: str | None, streak: int = 0) -> str:
    if status is None:
        return "-"
    colour = {"ok": "green", "failed": "red", "empty": "red", "running": "cyan"}.get(status, "white")
    label = "nothing, errors" if status == "empty" else status
    return f"[{colour}]{label}[/]" + (f" ×{streak}" if streak > 1 else "")


# --- run ---------------------------------------------------------------------------------------------------
@app.command("run", epilog=example("npswatch --config /etc/npswatch/npswatch.toml run"))
def service_run(ctx: typer.Context) -> None:
    """Run the scheduler service: the `[[schedules]]` jobs of the config, until SIGTERM or Ctrl-C.

    One per database (a second one refuses to start, exit code 3). Jobs run as child processes with time
    limits; every run is recorded (`npswatch status`). On SIGTERM/Ctrl-C running jobs get
    `service.shutdown_grace` to finish, then are stopped; the exit code is 0. After a crash the next start
    marks the interrupted runs failed and runs what was missed (misfire policy: README "Scheduler").
    """
    from npswatch.scheduler.logs import setup_logging
    from npswatch.scheduler.service import EXIT_ALREADY_RUNNING, AlreadyRunning, Service

    def _run():
        setup_logging(ctx.obj.settings)
        service = Service(ctx.obj)
        try:
            service.start()
        except AlreadyRunning as exc:
            fail(str(exc), code=EXIT_ALREADY_RUNNING)
        raise typer.Exit(service.serve())

    run(_run)


# --- status ------------------------------------------------------------------------------------------------
@app.command("status", epilog=example("npswatch status || echo 'collection needs attention'"))
def status(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="One JSON document (for monitoring) instead of tables."),
    require_service: bool = typer.Option(False, "--require-service", help="Also unhealthy when no scheduler is running."),
) -> None:
    """Health of collection; exit code 1 when anything is unhealthy, so monitoring can run it.

    Per source: last success, failure streak, items in the last run, newest post, stale or not. Per job: next
    and last run. Thresholds: `[health]` in the config.
    """
    def _status():
        h = ctx.obj.status(require_service=require_service)
        if as_json:
            sys.stdout.write(json.dumps(h.to_json(), ensure_ascii=False, indent=2) + "\n")
        else:
            _print_health(h)
        if not h.healthy:
            raise typer.Exit(1)

    run(_status)


def _print_health(h) -> None:
    now = h.checked_at
    out.print("scheduler: " + (f"[green]running[/] ({h.scheduler_holder})" if h.scheduler_running
                                 else "[yellow]not running[/] on this database"), highlight=False, soft_wrap=True)
    if h.jobs:
        t = Table(title="jobs (times UTC)")
        for col in ("job", "schedule", "next run", "last run", "status", "items", "last success"):
            t.add_column(col, overflow="fold")
        for j in h.jobs:
            t.add_row(j.name if j.scheduled else f"{j.name} (by hand)", j.schedule, _when(j.next_run_at, now),
                      _when(j.last_run_at, now), _status_cell(j.last_status, j.failure_streak),
                      "-" if j.items_last_run is None else str(j.items_last_run), _when(j.last_success_at, now))
        out.print(t)
    else:
        out.print("jobs: none scheduled ([[schedules]] in the config)")
    if h.sources:
        t = Table(title="sources (times UTC)")
        states = any(s.channel_state for s in h.sources)
        for col in ("source", "last run", "status", "items", "no offer", "last success", "newest post", "stale") + (
                ("channel",) if states else ()):
            t.add_column(col, overflow="fold")
        for s in h.sources:
            row = [escape(s.source), _when(s.last_run_at, now), _status_cell(s.last_status, s.failure_streak),
                   "-" if s.items_last_run is None else str(s.items_last_run),
                   "-" if s.no_offer_last_crawl is None else f"{s.no_offer_last_crawl} of {s.listings_last_crawl}",
                   _when(s.last_success_at, now), _when(s.last_new_at, now), "[red]stale[/]" if s.stale else "no"]
            if states:
                row.append(_channel_cell(s, now))
            t.add_row(*row)
        out.print(t)
    else:
        out.print("sources: no collection runs yet")
    for p in h.problems:
        out.print(f"[bold red]unhealthy:[/] {escape(p)}", highlight=False, soft_wrap=True)
    out.print("[green]healthy[/]" if h.healthy else f"[bold red]{len(h.problems)} problem(s)[/]")


def _channel_cell(s, now) -> str:
    """A Telegram channel's access state and since when (e.g. `private since 2h ago`)."""
    if not s.channel_state:
        return "-"
    colour = {"ok": "green", "renamed": "cyan", "join_refused": "yellow", "join_pending": "yellow"}.get(
        s.channel_state, "red")
    detail = f" ({escape(s.channel_state_detail)})" if s.channel_state_detail and s.channel_state == "renamed" else ""
    return f"[{colour}]{s.channel_state}[/]{detail} since {_when(s.channel_state_since, now)}"


# --- jobs --------------------------------------------------------------------------------------------------
@jobs_app.command("list", epilog=example("npswatch jobs list"))
def jobs_list(ctx: typer.Context) -> None:
    """The scheduled jobs: schedule, command, time limit, next run (as the service stored it), last run."""
    from npswatch.health import check_health
    from npswatch.scheduler.jobs import command_line, display_command
    from npswatch.schedules import catalogue, human_duration

    def _list():
        settings = ctx.obj.settings
        jobs = catalogue(settings)
        if not jobs:
            out.print("no jobs scheduled: add [[schedules]] entries to the config (see `npswatch init`)")
            return
        engine = ctx.obj.checked_engine()
        health = {j.name: j for j in check_health(engine, settings).jobs}
        t = Table(title="scheduled jobs (times UTC)")
        for col in ("job", "schedule", "runs", "limit", "next run", "last run", "status"):
            t.add_column(col, overflow="fold")
        for job in jobs:
            if job.kind == "fx":
                what = f"npswatch fx import, each file of {settings.service.fx_inbox}/"
            else:
                what = display_command(command_line(job, settings), settings)
            h = health.get(job.name)
            t.add_row(job.name, job.schedule, what, human_duration(job.time_limit),
                      _when(h.next_run_at) if h else "-", _when(h.last_run_at) if h else "-",
                      _status_cell(h.last_status, h.failure_streak) if h else "-")
        out.print(t)

    run(_list)


@jobs_app.command("run", epilog=example("npswatch jobs run crawl:fixture-shop"))
def jobs_run(
    ctx: typer.Context,
    name: str = typer.Argument(..., help="A scheduled job's name (`npswatch jobs list`), or a job kind: crawl, "
                                         "crawl:SITE, backfill, fx, digest, retention."),
) -> None:
    """Run a job now, in the foreground, exactly as the service would: child process, time limit, recorded run.

    Refused (exit code 3) while the same job is running elsewhere, e.g. in the service. Ctrl-C stops the job
    cleanly. Exit code 1 when the run failed.
    """
    from npswatch.scheduler.jobs import Runner
    from npswatch.schedules import find_job
    from npswatch.scheduler.logs import setup_logging

    def _run():
        settings = ctx.obj.settings
        try:
            job = find_job(settings, name)
        except KeyError as exc:
            fail(str(exc).strip("'\""))
        setup_logging(settings)
        engine = ctx.obj.checked_engine()
        stop = threading.Event()
        runner = Runner(engine, settings, terminate=stop, stop_reason="interrupted: stopped by signal")
        previous = {}
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                previous[sig] = signal.signal(sig, lambda *_: stop.set())
        try:
            result = runner.run(job)
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if result.status == "skipped":
            fail(f"job {job.name} is already running ({result.message.removeprefix('already running (').rstrip(')')}): "
                 "not started twice", code=3)
        colour = "green" if result.status == "ok" else "red"
        out.print(f"job {job.name}: [{colour}]{result.status}[/], {result.items} items, {result.errors} errors "
                  f"(run {result.run_id}): {result.message}", highlight=False, soft_wrap=True)
        out.print(f"output: {result.log_path}", highlight=False, soft_wrap=True)
        if result.status != "ok":
            raise typer.Exit(1)

    run(_run)


# --- retention ---------------------------------------------------------------------------------------------
@retention_app.command("apply", epilog=example("npswatch retention apply --dry-run"))
def retention_apply(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only say what would be removed."),
) -> None:
    """Remove post texts, raw page snapshots and job logs older than their `[retention]` periods.

    Offers, mentions and every other fact stay; a post keeps its row, dates and text hash, its text becomes
    empty. Recorded as a run (kind `retention`) unless --dry-run.
    """
    def _apply():
        r = ctx.obj.retention(dry_run=dry_run)
        result_file(ctx, r)
        for line in r.lines():
            out.print(line, highlight=False, soft_wrap=True)
        if dry_run:
            console.print("[dim]dry run: nothing was changed[/]")

    run(_apply)
