"""Telegram metrics commands: `telegram sample` (one sample now; the `metrics` job runs it) and
`telegram metrics CHANNEL` (a channel's subscribers over time, what it changed, its posts' views); also
rendered by `npswatch trends --channel CHANNEL`. The use-cases are `Watch.sample_telegram` and
`Watch.channel_metrics`; scraped text (titles, descriptions) is escaped for the terminal and CSV."""
from __future__ import annotations

import csv
import json
import sys
from typing import Optional

import typer
from rich import box
from rich.markup import escape
from rich.table import Table

from npswatch.results import jsonable

from .common import example, fail, out, result_file
from .telegram import _guard, _setup_logging, report_unavailable, tg_app


@tg_app.command("sample", epilog=example("npswatch telegram sample --days 3"))
def telegram_sample(
    ctx: typer.Context,
    channel: Optional[list[str]] = typer.Option(None, "--channel", help="Only this channel (repeatable)."),
    days: Optional[int] = typer.Option(None, "--days", help="Sample the posts of this many recent days (default "
                                       "telegram.metrics_days; 0: channels only)."),
) -> None:
    """Take one metrics sample now: each channel's subscribers, title, description, username, linked group and
    flags, and the views, forwards, replies and reactions of its recent posts. Schedule it as the `metrics` job."""
    def _sample():
        _setup_logging(ctx.obj.settings)

        def done(c):
            subs = f"{c.subscribers:,} subscribers" if c.subscribers is not None else "subscribers hidden"
            out.print(f"{escape(c.channel)}: {subs}, {c.posts} posts sampled")

        r = ctx.obj.sample_telegram(channels=channel or None, days=days, on_channel=done)
        result_file(ctx, r)
        report_unavailable(r, "sampled")

    _guard(_sample)


@tg_app.command("metrics", epilog=example("npswatch telegram metrics synthetic_shop --since 90d"))
def telegram_metrics(
    ctx: typer.Context,
    channel: str = typer.Argument(..., help="Channel username, t.me link or c<id>."),
    since: Optional[str] = typer.Option(None, "--since", help="From this date or span back (30d)."),
    posts: bool = typer.Option(False, "--posts", help="Also each post's views, forwards and reactions over time."),
    fmt: str = typer.Option("table", "--format", "-f", help="table, csv or json."),
) -> None:
    """A channel's subscribers over time, and when it changed title, description, username, linked group or
    flags (verified, scam, fake, restricted)."""
    _guard(lambda: show_channel_metrics(ctx.obj, channel, since, fmt, posts=posts))


def show_channel_metrics(watch, channel: str, since: str | None, fmt: str, *, posts: bool = False) -> None:
    if fmt not in ("table", "csv", "json"):
        fail("--format must be table, csv or json")
    r = watch.channel_metrics(channel, since=since, posts=posts)
    if fmt == "json":
        data = jsonable(r)
        if not posts:
            data.pop("posts")
        sys.stdout.write(json.dumps(data, ensure_ascii=False) + "\n")
        return
    if fmt == "csv":
        from npswatch.reports.exports import csv_safe

        w = csv.writer(sys.stdout)
        rows = [jsonable(s) for s in (r.posts if posts else r.samples)]
        if rows:
            w.writerow(list(rows[0]))
        for row in rows:
            w.writerow([csv_safe(json.dumps(v, ensure_ascii=False) if isinstance(v, dict) else v)
                        for v in row.values()])
        return
    t = Table(title=f"@{escape(r.channel)}: subscribers over time", box=box.SIMPLE_HEAD)
    for col in ("sampled at", "subscribers", "change", "title", "flags"):
        t.add_column(col, justify="right" if col in ("subscribers", "change") else "left")
    prev = None
    for s in r.samples:
        delta = "" if prev is None or s.subscribers is None else f"{s.subscribers - prev:+,}"
        flags = ",".join(f for f in ("verified", "scam", "fake", "restricted") if getattr(s, f)) or "-"
        t.add_row(s.at.strftime("%Y-%m-%d %H:%M"), "-" if s.subscribers is None else f"{s.subscribers:,}", delta,
                  escape(s.title or ""), flags)
        prev = s.subscribers if s.subscribers is not None else prev
    out.print(t)
    for c in r.changes:
        out.print(f"{c.at:%Y-%m-%d %H:%M} {c.field}: {escape(_short(c.old))} -> {escape(_short(c.new))}", highlight=False)
    if posts:
        pt = Table(title="posts: views, forwards, reactions over time", box=box.SIMPLE_HEAD)
        for col in ("post", "sampled at", "views", "forwards", "replies", "reactions"):
            pt.add_column(col, justify="left" if col == "sampled at" else "right")
        for p in r.posts:
            pt.add_row(str(p.message_id), p.at.strftime("%Y-%m-%d %H:%M"), *("-" if v is None else f"{v:,}"
                       for v in (p.views, p.forwards, p.replies, p.reactions)))
        out.print(pt)


def _short(v, n: int = 60) -> str:
    s = "-" if v is None or v == "" else " ".join(str(v).split())
    return s if len(s) <= n else s[: n - 1] + "…"
