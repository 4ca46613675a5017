"""Telegram commands: `telegram login|backfill|discovered|add|auto-add|graph`, `listen`, `import-telegram`.

The use-cases live in `npswatch.channels` (`Watch.backfill`, `Watch.listen`, `Watch.import_telegram`, ...);
this module parses, calls, renders. `listen --shard K/N` takes the channels whose key hashes to K of N.
"""
from __future__ import annotations

import json
import logging
import sys
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table
from rich.text import Text


from .common import console, example, fail, out, result_file, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

tg_app = typer.Typer(help="Telegram collection.\n\nExample:\n\n    npswatch telegram login && npswatch listen",
                     no_args_is_help=True)
log = logging.getLogger("npswatch.telegram")


# -- helpers -------------------------------------------------------------------------------------------------
def _guard(fn):
    """`run()` plus the Telegram errors that have a one-line fix."""
    from npswatch.crawlers.telegram.export import TelegramExportError

    def inner():
        try:
            return fn()
        except Exception as exc:
            # the client's errors only when the command loaded the client (Telethon: a second of start-up that
            # an import of an export does not need)
            client = sys.modules.get("npswatch.crawlers.telegram.client")
            known = (TelegramExportError,) if client is None else (
                TelegramExportError, client.CredentialError, client.NotLoggedIn, client.ChannelNotFound)
            if isinstance(exc, known):
                fail(str(exc))
            raise

    return run(inner)


def _setup_logging(settings) -> None:
    root = logging.getLogger()
    if not root.handlers:
        handler = logging.StreamHandler(sys.stderr)
        if settings.log_json:
            class _Json(logging.Formatter):
                def format(self, r):  # noqa: A003
                    return json.dumps({"time": self.formatTime(r), "level": r.levelname, "logger": r.name,
                                       "message": r.getMessage()}, ensure_ascii=False)
            handler.setFormatter(_Json())
        else:
            handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(handler)
        root.setLevel(settings.log_level)
    if settings.log_level != "DEBUG":
        logging.getLogger("alembic").setLevel(logging.WARNING)
        logging.getLogger("telethon").setLevel(logging.WARNING)


def _since(value: Optional[str]) -> Optional[datetime]:
    if not value:
        return None
    try:
        d = datetime.fromisoformat(value)
    except ValueError:
        fail(f"--since {value!r} is not a date like 2026-03-01 or 2026-03-01T12:00")
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


# -- login -----------------------------------------------------------------------------------------------------
@tg_app.command("login", epilog=example("NPSWATCH_TELEGRAM__API_HASH=... npswatch telegram login --phone +77000000000"))
def telegram_login(
    ctx: typer.Context,
    phone: Optional[str] = typer.Option(None, "--phone", help="Account phone number, international format (prompted if absent)."),
) -> None:
    """Log a Telegram account in; the login code (and 2FA password) are prompted for.

    Needs telegram.api_id and the api hash (NPSWATCH_TELEGRAM__API_HASH) from https://my.telegram.org. The
    session is kept in <data_dir>/telegram/<session_name>.session, readable only by you.
    """
    def _login():
        r = ctx.obj.login(
            phone=phone,
            ask_phone=lambda: typer.prompt("Phone number (international format)"),
            ask_code=lambda: typer.prompt("Login code Telegram sent you"),
            ask_password=lambda: typer.prompt("Two-step verification password", hide_input=True))
        state = "logged in" if r.logged_in_now else "already logged in"
        out.print(f"{state} (user id {r.user_id}); session {r.session} (mode 0600). Next: `npswatch telegram backfill` "
                  "or `npswatch listen`")

    _guard(_login)


# -- backfill ----------------------------------------------------------------------------------------------------
@tg_app.command("backfill", epilog=example("npswatch telegram backfill --since 2026-01-01"))
def telegram_backfill(
    ctx: typer.Context,
    since: Optional[str] = typer.Option(None, "--since", help="Read from this date (default: from each channel's checkpoint)."),
    channel: Optional[list[str]] = typer.Option(None, "--channel", help="Only this channel (repeatable)."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Store posts without extracting facts."),
) -> None:
    """Read channel history into the database, from each channel's checkpoint (or --since a date).

    A channel read for the first time goes back telegram.initial_days days. Rerunning adds nothing twice.
    """
    def _backfill():
        _setup_logging(ctx.obj.settings)
        start = _since(since)

        def done(c):
            out.print(f"{escape(c.channel)}: {c.read} messages read ({c.posts} with text), up to id {c.last_id}"
                      + (f", {c.flood_waits} FloodWaits waited out" if c.flood_waits else ""))

        r = ctx.obj.backfill(since=start, channels=channel or None, extract=not no_extract, on_channel=done)
        result_file(ctx, r)
        t = r.written
        out.print(f"{t.inserted} new posts, {t.updated} edited, {t.unchanged} unchanged")
        report_unavailable(r, "read")

    _guard(_backfill)


def report_unavailable(r, what: str) -> None:
    """The channels Telegram refused, one line each; exit 1 when there were any (the others were done)."""
    for key, state in r.unavailable:
        out.print(f"[red]{escape(key)}: {state}[/] (not {what}; recorded, see `npswatch status`)", highlight=False)
    if not r.ok:
        raise typer.Exit(1)


# -- listen ------------------------------------------------------------------------------------------------------
@app.command("listen", epilog=example("npswatch listen --shard 1/2"))
def listen(
    ctx: typer.Context,
    shard: Optional[str] = typer.Option(None, "--shard", help="K/N: watch only the channels of shard K of N."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Store posts without extracting facts."),
) -> None:
    """Follow the watched Telegram channels live: new posts, edits (as versions) and deletions (marked).

    On start and every telegram.reconcile_minutes it re-reads each channel from its checkpoint, so
    messages the update stream dropped are still stored. Stop with Ctrl-C or SIGTERM.
    """
    def _listen():
        from npswatch.channels import parse_shard

        _setup_logging(ctx.obj.settings)
        result_file(ctx, ctx.obj.listen(shard=parse_shard(shard), extract=not no_extract))

    _guard(_listen)


# -- import ------------------------------------------------------------------------------------------------------
@app.command("import-telegram", epilog=example("npswatch import-telegram ~/Downloads/Telegram\\ Desktop/ChatExport/result.json"))
def import_telegram(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="result.json of a Telegram Desktop export (single chat or full)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Username of the exported channel (single chat exports)."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Store posts without extracting facts."),
    tz: Optional[str] = typer.Option(None, "--tz", help="Zone of the export's local times, for exports without "
                                     "date_unixtime (before 2021); default: service.timezone, else this computer's."),
) -> None:
    """Import Telegram Desktop JSON exports (result.json, or the export folder). Rerunning adds nothing twice;
    a malformed message is reported with its index and skipped, and the others are stored."""
    def done(f):
        w = f.written
        out.print(f"{f.path}: {f.chats} chats, {f.messages} messages ({f.service} service, {f.empty} without text): "
                  f"{w.inserted} new posts, {w.updated} edited, {w.unchanged} already stored; {f.links} channel links found"
                  + (f" ({f.named_forwards} forwards linked by channel title)" if f.named_forwards else "")
                  + (f"; skipped {', '.join(f.skipped_chats)}" if f.skipped_chats else ""), highlight=False, markup=False)
        for reason in f.skipped:
            console.print(Text("skipped ", style="yellow") + Text(reason), highlight=False, soft_wrap=True)
        if f.skipped:
            console.print(Text(f"{f.path}: {len(f.skipped)} malformed messages skipped, the rest stored"),
                          highlight=False)
        if f.pictures or f.pictures_skipped:
            out.print(f"{f.pictures} pictures read" + ("; not read: " + ", ".join(
                f"{n} ({why})" for why, n in sorted(f.pictures_skipped.items())) if f.pictures_skipped else ""),
                highlight=False, markup=False)
        if f.duplicate_count:
            out.print(f"{f.duplicate_count} repeated message ids (the first of each kept): "
                      + "; ".join(f.duplicates[:5]) + (" ..." if len(f.duplicates) > 5 else ""),
                      highlight=False, markup=False)

    def _import():
        result_file(ctx, ctx.obj.import_telegram(files, channel=channel, extract=not no_extract, on_file=done, tz=tz))

    _guard(_import)


# -- discovery ---------------------------------------------------------------------------------------------------
def _json_lines(rows: list[dict]) -> None:
    for r in rows:
        typer.echo(json.dumps(r, ensure_ascii=False, default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))


@tg_app.command("discovered", epilog=example("npswatch telegram discovered --min-mentions 3"))
def telegram_discovered(
    ctx: typer.Context,
    min_mentions: int = typer.Option(1, "--min-mentions", help="Only channels forwarded or linked by at least N posts."),
    min_subscribers: Optional[int] = typer.Option(None, "--min-subscribers", help="Only channels known to have N subscribers."),
    show_all: bool = typer.Option(False, "--all", help="Include channels already added or watched."),
    limit: int = typer.Option(50, "--limit", help="At most N rows."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines instead of a table."),
) -> None:
    """The review queue: channels seen in forwards and t.me links, most mentioned first."""
    def _list():
        rows = ctx.obj.discovered(min_mentions=min_mentions, min_subscribers=min_subscribers, show_all=show_all,
                                  limit=limit)
        if as_json:
            _json_lines(rows)
            return
        if not rows:
            out.print("no discovered channels match")
            return
        t = Table(title="channels seen in forwards and t.me links")
        t.add_column("channel", no_wrap=True, min_width=max(len(r["key"]) for r in rows))
        for name in ("mentions", "fwd", "links", "chans", "subs", "first seen", "first in", "status"):
            t.add_column(name, overflow="fold")
        for r in rows:
            # Channel titles are scraped text: Text cells, so markup in them is shown, never interpreted.
            t.add_row(Text(r["key"] + (f"\n{r['title']}" if r["title"] else "")), str(r["mentions"]),
                      str(r["forwards"]), str(r["links"]), str(r["channels"]),
                      "" if r["subscribers"] is None else str(r["subscribers"]),
                      str(r["first_seen"])[:10] if r["first_seen"] else "", Text(r["first_seen_in"] or ""),
                      Text(r["status"]))
        out.print(t)
        out.print("promote one with `npswatch telegram add CHANNEL`")

    _guard(_list)


@tg_app.command("reposts", epilog=example("npswatch telegram reposts --channel synthetic_shop_02"))
def telegram_reposts(
    ctx: typer.Context,
    channel: Optional[str] = typer.Option(None, "--channel", help="Only reposts in this channel."),
    limit: int = typer.Option(50, "--limit", help="At most N rows."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines instead of a table."),
) -> None:
    """Pictures posted again, in the same channel or another (same perceptual hash), and where each was first
    seen: a repost, or channels of one shop network."""
    def _list():
        rows = ctx.obj.reposts(channel=channel, limit=limit)
        if as_json:
            _json_lines(rows)
            return
        if not rows:
            out.print("no picture was posted twice")
            return
        t = Table(title="pictures posted again")
        for name in ("channel", "post", "seen", "first in", "first post", "first seen"):
            t.add_column(name, overflow="fold")
        for r in rows:
            t.add_row(Text(r["src"]), Text(str(r["message_id"])), str(r["seen_at"] or "")[:16], Text(r["first_src"]),
                      Text(str(r["first_message_id"])), str(r["first_seen_at"] or "")[:16])
        out.print(t)

    _guard(_list)


@tg_app.command("add", epilog=example("npswatch telegram add synthetic_shop_02"))
def telegram_add(
    ctx: typer.Context,
    channel: str = typer.Argument(..., help="Username, @username, t.me link or c<id>."),
) -> None:
    """Watch a channel (e.g. one from `telegram discovered`): every listener picks it up at its next reconcile.

    Promoted channels live in the database (table telegram_channel), not in the config file.
    """
    def _add():
        key, state = ctx.obj.add_channel(channel)
        if state == "configured":
            out.print(f"{key} is already in telegram.channels")
        elif state == "added":
            out.print(f"{key} added: listeners watch it from their next reconcile; `npswatch telegram backfill "
                      f"--channel {key}` reads its history now")
        else:
            out.print(Text(f"{key} was already added"))

    _guard(_add)


@tg_app.command("auto-add", epilog=example("npswatch telegram auto-add --dry-run"))
def telegram_auto_add(
    ctx: typer.Context,
    dry_run: bool = typer.Option(False, "--dry-run", help="Only show which channels the rules would add, and why not the others."),
    as_json: bool = typer.Option(False, "--json", help="JSON Lines instead of a table."),
) -> None:
    """Apply the [telegram.discovery] rules now: add the discovered channels that pass them to the watch list.

    With `auto_add = true` in the config, the listener and backfill do this by themselves at each round.
    """
    def _auto():
        r = ctx.obj.auto_add_channels(dry_run=dry_run)
        if as_json:
            for v in r.verdicts:
                typer.echo(json.dumps(v.__dict__, ensure_ascii=False))
            return
        if r.verdicts:
            t = Table(title="discovered channels judged by the [telegram.discovery] rules")
            for name in ("channel", "chans", "posts", "market", "lang", "verdict"):
                t.add_column(name, overflow="fold")
            for v in r.verdicts:
                verdict = ("would be added: " if dry_run else "added: ") + v.reason if v.added else v.reason
                t.add_row(Text(v.key), str(v.channels), str(v.posts),
                          "" if v.market_score is None else f"{v.market_score:.2f}", v.language or "", Text(verdict))
            out.print(t)
        verb = "would add" if dry_run else "added"
        out.print(f"{verb} {len(r.added)} channels; {r.watched} watched before, room for {r.room} more under the join limit")

    _guard(_auto)


@tg_app.command("graph", epilog=example("npswatch telegram graph --gexf channels.gexf"))
def telegram_graph(
    ctx: typer.Context,
    gexf: Path = typer.Option(..., "--gexf", help="GEXF file to write (open it in Gephi)."),
) -> None:
    """Export the forward/mention network between channels as GEXF."""
    def _graph():
        n, e = ctx.obj.channel_graph(gexf)
        out.print(f"wrote {gexf}: {n} channels, {e} edges")

    _guard(_graph)
