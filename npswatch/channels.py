"""Telegram use-cases: the watched channels, `backfill`, `listen`, `import_telegram`, discovery
(behind the `Watch` methods of the same names).

Channels watched = `telegram.channels` in the config + channels promoted with `Watch.add_channel`
(`npswatch telegram add`; table `telegram_channel`, shared by every listener). A shard `(K, N)` takes the
channels whose key hashes to K of N, so N listeners (each with its own account and `session_name`) split
the list between them without overlap.
"""
from __future__ import annotations

import asyncio
import logging
import signal
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .autodiscover import apply_rules
from .bulk import fewer_collections
from .errors import WatchError
from .results import (ChannelBackfill, ChannelMetrics, ExportImport, TelegramBackfillResult, TelegramImportResult,
                      TelegramListenResult, TelegramSampleResult)

if TYPE_CHECKING:
    from .watch import Watch

log = logging.getLogger("npswatch.telegram")

__all__ = ["Login", "login", "in_shard", "parse_shard", "channel_keys", "backfill", "listen", "import_exports",
           "sample", "channel_metrics"]


def run_async(main):
    """Run the coroutine function `main` to its end: in this thread, or, when this thread already runs an event
    loop (a Jupyter notebook does), in a thread of its own."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(main())
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1, thread_name_prefix="npswatch-telegram") as pool:
        return pool.submit(lambda: asyncio.run(main())).result()


def parse_shard(shard: str | None) -> tuple[int, int] | None:
    """`"K/N"` -> (K, N).

    >>> parse_shard("2/3"), parse_shard(None)
    ((2, 3), None)
    """
    if not shard:
        return None
    try:
        k, n = (int(x) for x in shard.split("/"))
    except ValueError:
        raise WatchError(f"--shard {shard!r}: expected K/N, e.g. 1/3") from None
    if not 1 <= k <= n:
        raise WatchError(f"--shard {shard!r}: K must be between 1 and N")
    return k, n


def in_shard(key: str, shard: tuple[int, int] | None) -> bool:
    """Stable across processes and machines (crc32, not Python's salted hash)."""
    return shard is None or zlib.crc32(key.encode()) % shard[1] == shard[0] - 1


def configured_channels(settings) -> list[str]:
    """`telegram.channels` normalised (a bad entry is a WatchError naming it)."""
    from npswatch.crawlers.telegram.convert import normalise_channel

    keys = []
    for c in settings.telegram.channels:
        try:
            keys.append(normalise_channel(c))
        except ValueError as exc:
            raise WatchError(f"telegram.channels: {exc}") from None
    return keys


def channel_keys(watch: "Watch", shard: tuple[int, int] | None = None) -> list[str]:
    """The watched channels (configured, then promoted) of `shard`."""
    from npswatch.storage.telegram_store import promoted_channels

    keys = configured_channels(watch.settings) + promoted_channels(watch.checked_engine())
    return [k for k in dict.fromkeys(keys) if in_shard(k, shard)]


def image_reader(watch: "Watch"):
    """The picture reader of `telegram.ocr`, or None when it is off. When OCR cannot run here (no Tesseract, a
    language pack or the `ocr` extra missing) one warning says what to install, and pictures are not read."""
    tg = watch.settings.telegram
    if not tg.ocr:
        return None
    from npswatch.crawlers.ocr import Ocr, language_packs, missing
    from npswatch.crawlers.telegram.photos import ImageReader

    try:
        langs = language_packs(tg.ocr_languages)
    except ValueError:
        raise WatchError("telegram.ocr_languages: give at least one Tesseract language, e.g. [\"rus\", \"eng\"]") from None
    why = missing(langs)
    if why:
        log.warning("telegram.ocr is on, but %s; pictures are not read (telegram.ocr = false turns OCR off)", why)
        return None
    return ImageReader(Ocr(langs, max_bytes=int(tg.ocr_max_mb * 1_000_000)), watch.pseudonymiser,
                       engine=watch.checked_engine(), workers=tg.ocr_workers)


def _collector(watch: "Watch", client, extract: bool):
    from npswatch.crawlers.telegram.collector import TelegramCollector

    tg = watch.settings.telegram
    return TelegramCollector(client, watch.checked_engine(), watch.writer(extract=extract), watch.pseudonymiser,
                             batch_size=tg.batch_size, flush_seconds=tg.flush_seconds, initial_days=tg.initial_days,
                             join=tg.join, images=image_reader(watch))


@dataclass
class Login:
    user_id: int
    session: Path  # the session file, mode 0600
    logged_in_now: bool  # False: the session was already logged in


def login(watch: "Watch", *, phone: str | None = None, ask_phone: Callable[[], str] | None = None,
          ask_code: Callable[[], str], ask_password: Callable[[], str]) -> Login:
    """Log the configured Telegram account in (`ask_*` are asked only when Telegram needs them)."""
    from telethon.utils import parse_phone

    from npswatch.crawlers.telegram.client import make_client, session_path
    from npswatch.crawlers.telegram.login import login as sign_in

    if phone and not parse_phone(phone):
        raise WatchError(f"--phone {phone!r} is not a phone number: give it in international format, e.g. +77000000000")
    if not phone and ask_phone is None:
        raise WatchError("give the account's phone number")
    client = make_client(watch.settings)
    asked = []

    def code():
        asked.append(1)
        return ask_code()

    async def go():
        try:
            # a callable even when given: Telethon then does not compare it with a logged-in session's
            return await sign_in(client, phone=(lambda: phone) if phone else ask_phone, code=code,
                                 password=ask_password)
        finally:
            await client.disconnect()

    me = run_async(go)
    path = session_path(watch.settings)
    path.chmod(0o600)
    return Login(me.id, path, bool(asked))


def backfill(watch: "Watch", *, since: datetime | None = None, channels: list[str] | None = None,
             extract: bool = True, on_channel: Callable[[ChannelBackfill], None] | None = None
             ) -> TelegramBackfillResult:
    from npswatch.crawlers.telegram.client import ChannelUnavailable, ensure_authorized, make_client
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.storage.telegram_store import channel_states

    watch.checked_engine()  # the schema is current before anything is read
    if not channels:
        apply_rules(watch)
    keys = [normalise_channel(c) for c in channels] if channels else channel_keys(watch)
    if not keys:
        raise WatchError("no channels: list them in telegram.channels or add one with `npswatch telegram add CHANNEL`")
    client = make_client(watch.settings, role="backfill")
    result = TelegramBackfillResult()

    async def go():
        try:
            await ensure_authorized(client)
            col = _collector(watch, client, extract)
            col.batch.start()
            refs = await col.resolve(keys)
            result.unresolved = len(keys) - len(refs)
            result.unavailable = [(k, st.status) for k, st in channel_states(watch.checked_engine()).items()
                                  if k in keys and k not in {r.key for r in refs}]
            for ref in refs:
                with watch.run_record("telegram-backfill", ref.key, error_message=str) as run:
                    try:
                        ref = await col.check(ref)
                        r = await col.backfill(ref, since=since)
                    except ChannelUnavailable as exc:  # recorded; the other channels go on
                        col.unavailable(ref.key, exc, ref.channel_id)
                        run.status, run.message = "failed", f"{exc.status}: {exc}"
                        result.unavailable.append((ref.key, exc.status))
                        continue
                    finally:
                        await col.batch.flush()
                    col.readable(ref)
                    run.items = r.read
                done = ChannelBackfill(ref.key, run.id, r.read, r.posts, r.last_id, r.flood_waits)
                result.channels.append(done)
                if on_channel:
                    on_channel(done)
            await col.batch.close()
            result.written = col.totals
        finally:
            await client.disconnect()

    run_async(go)
    return result


def listen(watch: "Watch", *, shard: tuple[int, int] | None = None, extract: bool = True,
           stop: asyncio.Event | None = None) -> TelegramListenResult:
    """Follow the watched channels live until SIGINT/SIGTERM (or `stop` is set)."""
    from npswatch.crawlers.telegram.client import ensure_authorized, make_client

    settings = watch.settings
    if not channel_keys(watch, shard):
        raise WatchError("no channels to listen to" + (f" in shard {shard[0]}/{shard[1]}" if shard else "")
                         + ": list them in telegram.channels or add one with `npswatch telegram add CHANNEL`")
    client = make_client(settings)

    async def go():
        done = stop or asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, done.set)
            except (RuntimeError, ValueError):  # not the main thread (a notebook): stop with `stop` instead
                break
        try:
            await ensure_authorized(client)
            col = _collector(watch, client, extract)
            def keys():
                if shard is None or shard[0] == 1:  # one listener applies the rules; every shard sees the result
                    apply_rules(watch)
                return channel_keys(watch, shard)

            await col.listen(keys, done,
                             reconcile_every=settings.telegram.reconcile_minutes * 60,
                             recheck_days=settings.telegram.recheck_days,
                             recheck_every=settings.telegram.recheck_minutes * 60)
            return col
        finally:
            await client.disconnect()

    source = f"shard {shard[0]}/{shard[1]}" if shard else None
    with watch.run_record("telegram-listen", source, error_message=lambda e: f"{type(e).__name__}: {e}") as run:
        col = run_async(go)
        result = TelegramListenResult(run.id, col.totals, col.deleted)
        run.items = result.items
    return result


def sample(watch: "Watch", *, channels: list[str] | None = None, days: int | None = None,
           on_channel: Callable | None = None) -> TelegramSampleResult:
    """One metrics sample of each channel (subscribers, names, flags) and of its posts of the last `days` days
    (default `telegram.metrics_days`), through the backfill's session file: one `telegram-metrics` run."""
    from npswatch.crawlers.telegram.client import ChannelUnavailable, ensure_authorized, make_client
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.crawlers.telegram.metrics import MetricsSampler
    from npswatch.storage.telegram_store import channel_states

    engine = watch.checked_engine()
    keys = [normalise_channel(c) for c in channels] if channels else channel_keys(watch)
    if not keys:
        raise WatchError("no channels: list them in telegram.channels or add one with `npswatch telegram add CHANNEL`")
    days = watch.settings.telegram.metrics_days if days is None else days
    if days < 0:
        raise WatchError(f"--days {days}: give 0 (channels only) or more days")
    client = make_client(watch.settings, role="backfill")
    result = TelegramSampleResult(days=days)

    async def go():
        try:
            await ensure_authorized(client)
            col = _collector(watch, client, extract=False)
            sampler = MetricsSampler(client, engine, watch.pseudonymiser)
            refs = await col.resolve(keys)
            result.unavailable = [(k, st.status) for k, st in channel_states(engine).items()
                                  if k in keys and k not in {r.key for r in refs}]
            for ref in refs:
                try:
                    done = await sampler.sample(ref, days)
                except ChannelUnavailable as exc:  # recorded; the other channels go on
                    col.unavailable(ref.key, exc, ref.channel_id)
                    result.unavailable.append((ref.key, exc.status))
                    continue
                result.channels.append(done)
                if on_channel:
                    on_channel(done)
        finally:
            await client.disconnect()

    with watch.run_record("telegram-metrics", None, error_message=str) as run:
        run_async(go)
        run.items = result.items
    return result


def channel_metrics(watch: "Watch", channel: str, *, since: datetime | None = None, posts: bool = True
                    ) -> ChannelMetrics:
    """A channel's metrics over time, from the samples stored (`sample`, the listener)."""
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.storage import telegram_metrics as mstore

    try:
        key = normalise_channel(channel)
    except ValueError as exc:
        raise WatchError(str(exc)) from None
    engine = watch.checked_engine()
    samples = mstore.channel_series(engine, key, since)
    if not samples:
        known = ", ".join(k for k, _n, _at in mstore.sampled_channels(engine)[:20]) or "none yet"
        raise WatchError(f"no metrics of @{key}: sample it with `npswatch telegram sample --channel {key}` "
                         f"(or run the listener); channels sampled: {known}")
    return ChannelMetrics(key, samples, mstore.channel_changes(samples),
                          mstore.post_series(engine, key, since=since) if posts else [])


def export_file(path: Path | str) -> Path:
    """The `result.json` of an export: the file itself, or the one in the export folder given."""
    p = Path(path)
    if p.is_dir():
        found = p / "result.json"
        if not found.is_file():
            raise WatchError(f"{p}: a folder without result.json (export the chat as JSON in Telegram Desktop)")
        return found
    if not p.exists():
        raise WatchError(f"{p}: no such file")
    return p


def export_timezone(settings, tz: str | None):
    """The zone of an export's local `date`s (exports without `date_unixtime`): --tz, else the config's
    `service.timezone`, else this computer's zone."""
    from datetime import datetime as _dt
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    name = tz or settings.service.timezone
    if not name:
        return _dt.now().astimezone().tzinfo
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise WatchError(f"--tz {name!r}: not a time zone name (e.g. Asia/Almaty, Europe/Moscow, UTC)") from None


def import_exports(watch: "Watch", files: list[Path], *, channel: str | None = None, extract: bool = True,
                   on_file: Callable[[ExportImport], None] | None = None, tz: str | None = None
                   ) -> TelegramImportResult:
    """Telegram Desktop JSON exports (files or export folders) into the database; each file is one
    `telegram-import` run. `tz`: zone of local dates in exports without `date_unixtime`."""
    from npswatch.crawlers.telegram.convert import normalise_channel
    from npswatch.crawlers.telegram.export import import_export
    from npswatch.storage import telegram_store as store

    engine = watch.checked_engine()
    writer = watch.writer(extract=extract)
    by_id = store.usernames_by_id(engine)
    ch = normalise_channel(channel) if channel else None

    def write_links(links):
        with engine.begin() as conn:
            return store.record_links(conn, links)

    def write_images(rows):
        from npswatch.storage.images import record_images

        with engine.begin() as conn:
            return record_images(conn, rows)

    titles = store.channels_by_title(engine)
    homes = store.home_keys(engine)
    zone = export_timezone(watch.settings, tz)
    images = image_reader(watch)
    result = TelegramImportResult()
    with fewer_collections():  # a sixth of an import's time went to collecting garbage it hardly makes
        for f in map(export_file, files):
            with watch.run_record("telegram-import", str(f)[:200], error_message=str) as run:
                r = import_export(f, writer, write_links, username_of=by_id.get, channel=ch, tz=zone,
                                  channel_named=lambda name: titles.get(name.casefold().strip()), home_of=homes.get,
                                  images=images, write_images=write_images)
                run.items = r.messages
                run.message = f"{len(r.skipped)} malformed messages skipped" if r.skipped else None
            done = ExportImport(f, run.id, r.chats, r.messages, r.service, r.empty, r.links, r.write,
                                list(r.skipped_chats), list(r.skipped), duplicates=list(r.duplicates),
                                duplicate_count=r.duplicate_count, named_forwards=r.named_forwards,
                                pictures=r.pictures, pictures_skipped=dict(r.pictures_skipped))
            result.files.append(done)
            if on_file:
                on_file(done)
    return result
