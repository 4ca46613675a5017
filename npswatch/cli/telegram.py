"""Telegram commands: `telegram login|backfill|discovered|add|graph`, `listen`, `import-telegram`.

Channels watched = `telegram.channels` in the config + channels promoted with `npswatch telegram add`
(table `telegram_channel`, shared by every listener). `listen --shard K/N` takes the channels whose key
hashes to K of N, so N listeners (each with its own account and `session_name`) split the list between
them without overlap.
"""
from __future__ import annotations

import asyncio
import json
import logging
import signal
import sys
import zlib
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from .common import example, fail, out, run

app = typer.Typer()  # this module's top-level commands; npswatch.cli.app registers them

tg_app = typer.Typer(help="Telegram collection.\n\nExample:\n\n    npswatch telegram login && npswatch listen",
                     no_args_is_help=True)
log = logging.getLogger("npswatch.telegram")


# -- helpers -------------------------------------------------------------------------------------------------
def _guard(fn):
    """`run()` plus the Telegram errors that have a one-line fix."""
    from npswatch.crawlers.telegram.client import ChannelNotFound, CredentialError, NotLoggedIn
    from npswatch.crawlers.telegram.export import ExportError

    def inner():
        try:
            return fn()
        except (CredentialError, NotLoggedIn, ChannelNotFound, ExportError) as exc:
            fail(str(exc))

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


def _parse_shard(shard: Optional[str]) -> tuple[int, int] | None:
    if not shard:
        return None
    try:
        k, n = (int(x) for x in shard.split("/"))
    except ValueError:
        fail(f"--shard {shard!r}: expected K/N, e.g. 1/3")
    if not 1 <= k <= n:
        fail(f"--shard {shard!r}: K must be between 1 and N")
    return k, n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Stable across processes and machines (crc32, not Python's salted hash)."""
    return shard is None or zlib.crc32(key.encode()) % shard[1] == shard[0] - 1


def _channel_keys(settings, engine, shard=None) -> list[str]:
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.storage.telegram_store import promoted_channels

    keys = []
    for c in settings.telegram.channels:
        try:
            keys.append(normalise_channel(c))
        except ValueError as exc:
            fail(f"telegram.channels: {exc}")
    keys += promoted_channels(engine)
    return [k for k in dict.fromkeys(keys) if in_shard(k, shard)]


def _collector(app_ctx, client, extract: bool):
    from npswatch.crawlers.telegram.collector import TelegramCollector

    tg = app_ctx.settings.telegram
    return TelegramCollector(client, app_ctx.checked_engine(), app_ctx.writer(extract=extract), app_ctx.pseudonymiser,
                             batch_size=tg.batch_size, flush_seconds=tg.flush_seconds, initial_days=tg.initial_days,
                             join=tg.join)


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
    from npswatch.crawlers.telegram.client import make_client, session_path
    from npswatch.crawlers.telegram.login import login

    def _login():
        from telethon.utils import parse_phone

        settings = ctx.obj.settings
        if phone and not parse_phone(phone):
            fail(f"--phone {phone!r} is not a phone number: give it in international format, e.g. +77000000000")
        client = make_client(settings)

        asked = []

        def code():
            asked.append(1)
            return typer.prompt("Login code Telegram sent you")

        async def go():
            try:
                return await login(
                    client,
                    # a callable even when given: Telethon then does not compare it with a logged-in session's
                    phone=(lambda: phone) if phone else (lambda: typer.prompt("Phone number (international format)")),
                    code=code,
                    password=lambda: typer.prompt("Two-step verification password", hide_input=True),
                )
            finally:
                await client.disconnect()

        me = asyncio.run(go())
        path = session_path(settings)
        path.chmod(0o600)
        state = "logged in" if asked else "already logged in"
        out.print(f"{state} (user id {me.id}); session {path} (mode 0600). Next: `npswatch telegram backfill` "
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
    from npswatch.crawlers.telegram.client import ensure_authorized, make_client
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.storage.runs import finish_run, start_run

    def _backfill():
        settings = ctx.obj.settings
        _setup_logging(settings)
        start = _since(since)
        engine = ctx.obj.checked_engine()
        keys = [normalise_channel(c) for c in channel] if channel else _channel_keys(settings, engine)
        if not keys:
            fail("no channels: list them in telegram.channels or add one with `npswatch telegram add CHANNEL`")
        client = make_client(settings)

        async def go():
            try:
                await ensure_authorized(client)
                col = _collector(ctx.obj, client, not no_extract)
                col.batch.start()
                refs = await col.resolve(keys)
                failed = len(keys) - len(refs)
                for ref in refs:
                    run_id = start_run(engine, "telegram-backfill", ref.key)
                    try:
                        r = await col.backfill(ref, since=start)
                        await col.batch.flush()
                    except Exception as exc:
                        finish_run(engine, run_id, status="failed", message=str(exc))
                        raise
                    finish_run(engine, run_id, items=r.read)
                    out.print(f"{ref.key}: {r.read} messages read ({r.posts} with text), up to id {r.last_id}"
                              + (f", {r.flood_waits} FloodWaits waited out" if r.flood_waits else ""))
                await col.batch.close()
                t = col.totals
                out.print(f"{t.inserted} new posts, {t.updated} edited, {t.unchanged} unchanged")
                return failed
            finally:
                await client.disconnect()

        if asyncio.run(go()):
            raise typer.Exit(1)

    _guard(_backfill)


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
    from npswatch.crawlers.telegram.client import ensure_authorized, make_client
    from npswatch.storage.runs import finish_run, start_run

    def _listen():
        settings = ctx.obj.settings
        _setup_logging(settings)
        sh = _parse_shard(shard)
        engine = ctx.obj.checked_engine()
        if not _channel_keys(settings, engine, sh):
            fail("no channels to listen to" + (f" in shard {shard}" if sh else "")
                 + ": list them in telegram.channels or add one with `npswatch telegram add CHANNEL`")
        client = make_client(settings)
        run_id = start_run(engine, "telegram-listen", f"shard {shard}" if sh else None)

        async def go():
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            try:
                await ensure_authorized(client)
                col = _collector(ctx.obj, client, not no_extract)
                await col.listen(lambda: _channel_keys(settings, engine, sh), stop,
                                 reconcile_every=settings.telegram.reconcile_minutes * 60)
                return col
            finally:
                await client.disconnect()

        try:
            col = asyncio.run(go())
        except BaseException as exc:
            finish_run(engine, run_id, status="failed", message=f"{type(exc).__name__}: {exc}")
            raise
        finish_run(engine, run_id, items=col.totals.inserted + col.totals.updated + col.deleted)

    _guard(_listen)


# -- import ------------------------------------------------------------------------------------------------------
@app.command("import-telegram", epilog=example("npswatch import-telegram ~/Downloads/Telegram\\ Desktop/ChatExport/result.json"))
def import_telegram(
    ctx: typer.Context,
    files: list[Path] = typer.Argument(..., help="result.json of a Telegram Desktop export (single chat or full)."),
    channel: Optional[str] = typer.Option(None, "--channel", help="Username of the exported channel (single chat exports)."),
    no_extract: bool = typer.Option(False, "--no-extract", help="Store posts without extracting facts."),
) -> None:
    """Import Telegram Desktop JSON exports. Rerunning adds nothing twice; a malformed message is reported
    with its index, and the messages before it stay stored."""
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.crawlers.telegram.export import import_export
    from npswatch.storage import telegram_store as store
    from npswatch.storage.runs import finish_run, start_run

    def _import():
        engine = ctx.obj.checked_engine()
        writer = ctx.obj.writer(extract=not no_extract)
        by_id = store.usernames_by_id(engine)
        ch = normalise_channel(channel) if channel else None

        def write_links(links):
            with engine.begin() as conn:
                return store.record_links(conn, links)

        for f in files:
            if not f.exists():
                fail(f"{f}: no such file")
            run_id = start_run(engine, "telegram-import", str(f)[:200])
            try:
                r = import_export(f, writer, write_links, username_of=by_id.get, channel=ch)
            except Exception as exc:
                finish_run(engine, run_id, status="failed", message=str(exc))
                raise
            finish_run(engine, run_id, items=r.messages)
            w = r.write
            out.print(f"{f}: {r.chats} chats, {r.messages} messages ({r.service} service, {r.empty} without text): "
                      f"{w.inserted} new posts, {w.updated} edited, {w.unchanged} already stored; {r.links} channel links found"
                      + (f"; skipped {', '.join(r.skipped_chats)}" if r.skipped_chats else ""))

    _guard(_import)


# -- discovery ---------------------------------------------------------------------------------------------------
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
    from npswatch.storage.telegram_store import discovered

    def _list():
        engine = ctx.obj.checked_engine()
        watched = [] if show_all else _channel_keys(ctx.obj.settings, engine)
        rows = discovered(engine, min_mentions=min_mentions, min_subscribers=min_subscribers, exclude=watched,
                          include_added=show_all, limit=limit)
        if as_json:
            for r in rows:
                typer.echo(json.dumps(r, ensure_ascii=False,
                                      default=lambda v: v.isoformat() if hasattr(v, "isoformat") else str(v)))
            return
        if not rows:
            out.print("no discovered channels match")
            return
        t = Table(title="channels seen in forwards and t.me links")
        t.add_column("channel", no_wrap=True, min_width=max(len(r["key"]) for r in rows))
        for name in ("mentions", "fwd", "links", "chans", "subs", "first seen", "first in", "status"):
            t.add_column(name, overflow="fold")
        for r in rows:
            t.add_row(r["key"] + (f"\n{r['title']}" if r["title"] else ""), str(r["mentions"]), str(r["forwards"]),
                      str(r["links"]), str(r["channels"]), "" if r["subscribers"] is None else str(r["subscribers"]),
                      str(r["first_seen"])[:10] if r["first_seen"] else "", r["first_seen_in"] or "", r["status"])
        out.print(t)
        out.print("promote one with `npswatch telegram add CHANNEL`")

    _guard(_list)


@tg_app.command("add", epilog=example("npswatch telegram add synthetic_shop_02"))
def telegram_add(
    ctx: typer.Context,
    channel: str = typer.Argument(..., help="Username, @username, t.me link or c<id>."),
) -> None:
    """Watch a channel (e.g. one from `telegram discovered`): every listener picks it up at its next reconcile.

    Promoted channels live in the database (table telegram_channel), not in the config file.
    """
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.storage.telegram_store import promote

    def _add():
        try:
            key = normalise_channel(channel)
        except ValueError as exc:
            fail(str(exc))
        engine = ctx.obj.checked_engine()
        configured = set()
        for c in ctx.obj.settings.telegram.channels:
            try:
                configured.add(normalise_channel(c))
            except ValueError:
                pass
        if key in configured:
            out.print(f"{key} is already in telegram.channels")
            return
        if promote(engine, key):
            out.print(f"{key} added: listeners watch it from their next reconcile; `npswatch telegram backfill "
                      f"--channel {key}` reads its history now")
        else:
            out.print(f"{key} was already added")

    _guard(_add)


@tg_app.command("graph", epilog=example("npswatch telegram graph --gexf channels.gexf"))
def telegram_graph(
    ctx: typer.Context,
    gexf: Path = typer.Option(..., "--gexf", help="GEXF file to write (open it in Gephi)."),
) -> None:
    """Export the forward/mention network between channels as GEXF."""
    from npswatch.crawlers.telegram.graph import write_gexf
    from npswatch.storage.telegram_store import link_graph

    def _graph():
        engine = ctx.obj.checked_engine()
        nodes, edges = link_graph(engine)
        gexf.parent.mkdir(parents=True, exist_ok=True)
        n, e = write_gexf(nodes, edges, gexf, watched=set(_channel_keys(ctx.obj.settings, engine)))
        out.print(f"wrote {gexf}: {n} channels, {e} edges")

    _guard(_graph)
