"""Live listener, backfill and gap repair over one Telethon client.

`TelegramCollector` turns Telethon events and history into stored rows:

- `subscribe()` registers handlers for `events.NewMessage`, `events.MessageEdited` and
  `events.MessageDeleted` (built by Telethon from its own updates); a handler converts the message
  (`convert.convert_message`) and puts it on the batching writer. Edits become post versions (the writer
  keeps the old text); deletions set `post.deleted_at`, rows are never removed.
- `backfill(ref, since)` reads a channel's history oldest first with `iter_messages(min_id=checkpoint)`
  (or from a date) and advances the channel's checkpoint only after the batch holding those messages has
  committed. Live messages never move the checkpoint: Telethon's update stream can drop messages silently
  after a reconnect, so "everything up to the checkpoint is stored" must only ever be claimed by history
  reads. Re-reading what the live stream already stored changes nothing (writes are idempotent on
  channel + message id).
- `listen()` subscribes first, then reconciles every channel from its checkpoint, and again every
  `reconcile_every` seconds (picking up channels promoted in the meantime), until `stop` is set. On start
  and at each recheck it also samples every channel's subscribers, names and flags (`metrics`); history
  reads (first sight) and rechecks store the views, forwards and reactions of the posts they read as
  post samples.

FloodWaits anywhere are logged, waited out (injectable `sleep`) and resumed where they stopped. A channel
Telegram refuses (private, banned, deleted; a refused join) is recorded in `telegram_channel_status` and
skipped, never stopping the others; a renamed channel keeps its key. A lost connection is retried without
limit with backoff (`_reconnect`).
"""
from __future__ import annotations

import asyncio
import copy
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine
from telethon import TelegramClient, errors, events, types, utils
from telethon.tl.functions.channels import GetChannelsRequest

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage import telegram_store as store
from npswatch.storage.telegram_metrics import record_post_samples
from npswatch.storage.images import record_images
from npswatch.storage.writer import PostWriter, WriteResult

from .batch import BatchWriter, Item
from .client import ChannelUnavailable, EntityCache, NotLoggedIn, Sleep, channel_error, flood_retry, forget_flood_wait
from .convert import ChannelRef, convert_message
from .metrics import MetricsSampler, post_sample
from .photos import ImageReader, albums, compose, picture_of

log = logging.getLogger("npswatch.telegram")


@dataclass
class RecheckResult:
    channel: str
    read: int = 0
    deleted: int = 0  # posts found gone and marked


@dataclass
class BackfillResult:
    channel: str
    read: int = 0  # messages read from history
    posts: int = 0  # of which had text or a caption
    last_id: int = 0
    flood_waits: int = 0


class TelegramCollector:
    def __init__(self, client: TelegramClient, engine: Engine, writer: PostWriter, pseudonymiser: Pseudonymiser, *,
                 batch_size: int = 500, flush_seconds: float = 0.2, sleep: Sleep = asyncio.sleep,
                 initial_days: int = 30, join: bool = True, source_kind: str = "telegram",
                 retry_delay: float = 1.0, max_retry_delay: float = 300.0, images: ImageReader | None = None) -> None:
        self.client = client
        self.engine = engine
        self.writer = writer
        self.pseudonymiser = pseudonymiser
        self.sleep = sleep
        self.initial_days = initial_days
        self.source_kind = source_kind
        self.entities = EntityCache(client, engine, sleep=sleep, join=join)
        self.batch = BatchWriter(self._commit, max_items=batch_size, max_delay=flush_seconds)
        self.watched: dict[int, ChannelRef] = {}  # bare channel id -> ref
        self.totals = WriteResult()
        self.deleted = 0
        self.reconciles = 0  # completed reconcile rounds of `listen()`
        self.reconnects = 0
        self.retry_delay, self.max_retry_delay = retry_delay, max_retry_delay
        self._subscribed = False
        self.images = images  # None: OCR off, pictures are not read

    # -- channels --------------------------------------------------------------------------------------------
    async def resolve(self, keys: Iterable[str]) -> list[ChannelRef]:
        """Refs for channel keys; a channel that cannot be resolved is logged, its state recorded, and skipped."""
        refs: dict[int, ChannelRef] = {}
        for key in dict.fromkeys(keys):
            try:
                ref = await self.entities.channel(key)
            except ChannelUnavailable as exc:
                self.unavailable(key, exc)
                continue
            refs.setdefault(ref.channel_id, ref)  # an old and a new name of one channel: read once
        return list(refs.values())

    def unavailable(self, key: str, exc: ChannelUnavailable, channel_id: int | None = None) -> None:
        """Record that `key` cannot be read (logged once per change of state) and stop watching it."""
        if store.record_channel_state(self.engine, key, exc.status, str(exc), channel_id=channel_id):
            log.error("channel @%s: %s (recorded as %s; the other channels go on)", key, exc, exc.status)
        if channel_id is not None:
            self.watched.pop(channel_id, None)
        self.entities.forget(key)

    def readable(self, ref: ChannelRef) -> None:
        """Record that `ref` was read: `ok`, or the join refusal that keeps it off live updates."""
        status, detail = self.entities.refused.get(ref.key, ("ok", None))
        if store.record_channel_state(self.engine, ref.key, status, detail, channel_id=ref.channel_id) and status != "ok":
            log.warning("channel @%s: %s (recorded as %s)", ref.key, detail, status)

    async def check(self, ref: ChannelRef) -> ChannelRef:
        """Ask Telegram for the channel itself: raises ChannelUnavailable when it went private, was banned or
        deleted; a new username is recorded as `renamed` and the channel keeps its key (one source)."""
        try:
            peer = await self.client.get_input_entity(types.PeerChannel(ref.channel_id))
            got = await flood_retry(self.client, lambda: self.client(GetChannelsRequest([peer])),
                                    what=f"checking @{ref.key}", sleep=self.sleep)
            entity = got.chats[0]
        except errors.RPCError as exc:
            known = channel_error(exc)
            if known is None:
                raise
            raise ChannelUnavailable(f"{known[1]} ({type(exc).__name__})", known[0]) from None
        if isinstance(entity, types.ChannelForbidden):
            raise ChannelUnavailable("the channel is private now, or the account was banned from it", "private")
        new = (entity.username or "").lower() or None
        if ref.username and new != ref.username:
            detail = f"@{ref.username} -> " + (f"@{new}" if new else "no public username")
            store.record_channel_state(self.engine, ref.key, "renamed", detail, channel_id=ref.channel_id)
            log.warning("channel @%s renamed: %s; it stays one source", ref.key, detail)
            if new:
                store.remember_entity(self.engine, new, entity.id, entity.title)
                self.entities.names[entity.id] = new
            ref = ChannelRef(key=ref.key, channel_id=ref.channel_id, username=new, title=entity.title)
            self.watched[ref.channel_id] = ref
        return ref

    def watch(self, refs: Iterable[ChannelRef]) -> None:
        for ref in refs:
            self.watched[ref.channel_id] = ref

    # -- writing ---------------------------------------------------------------------------------------------
    def _commit(self, items: list[Item]) -> None:
        """Runs in a worker thread: posts first (PostWriter, one transaction per run), then links, deletions and
        checkpoints in one more transaction. A checkpoint therefore never gets ahead of committed posts."""
        posts, run_keys = [], set()
        for it in items:
            if it.post is None:
                continue
            key = (it.post.source, it.post.external_id)
            if key in run_keys:  # same message twice (new, then edited): keep both versions, in order
                self.totals += self.writer.write(posts, source_kind=self.source_kind)
                posts, run_keys = [], set()
            posts.append(it.post)
            run_keys.add(key)
        if posts:
            self.totals += self.writer.write(posts, source_kind=self.source_kind)
        links = [ln for it in items for ln in it.links]
        checkpoints: dict[str, int] = {}
        for it in items:
            if it.checkpoint:
                k, v = it.checkpoint
                checkpoints[k] = max(v, checkpoints.get(k, 0))
        deletions = [it.deleted for it in items if it.deleted]
        pictures = [row for it in items for row in it.images]
        if not (links or checkpoints or deletions or pictures):
            return
        now = datetime.now(timezone.utc)
        with self.engine.begin() as conn:
            store.record_links(conn, links)
            if pictures:
                record_images(conn, pictures)
            for key, ids in deletions:
                self.deleted += store.mark_deleted(conn, key, ids, now)
            if checkpoints:
                store.advance_checkpoints(conn, checkpoints, now)

    def _item(self, msg, ref: ChannelRef, checkpoint: bool = False) -> Item:
        c = convert_message(msg, ref, self.pseudonymiser, self.entities.names, self.entities.homes)
        return Item(post=c.post, links=c.links, checkpoint=(ref.key, msg.id) if checkpoint else None)

    def _plain(self, msgs: list) -> bool:
        """One message whose picture (if any) is not read: the fast path, no OCR, no album."""
        return len(msgs) == 1 and (self.images is None or picture_of(msgs[0], self.images.max_bytes) is None)

    async def _post_item(self, msgs: list, ref: ChannelRef, checkpoint: bool = False) -> Item:
        """One post from an album's messages (or one message) with the text of its pictures: the captions, then
        what OCR read, through the same conversion as any message; the pictures' hashes go with it."""
        if self._plain(msgs):
            return self._item(msgs[0], ref, checkpoint)
        main = msgs[0]
        images = await self.images.from_messages(self.client, msgs, ref.hints.country) if self.images else []
        captions = "\n\n".join(m.message for m in msgs if (m.message or "").strip())
        whole = copy.copy(main)
        whole.message = compose(captions, images)
        whole.edit_date = max((m.edit_date for m in msgs if m.edit_date), default=None)
        c = convert_message(whole, ref, self.pseudonymiser, self.entities.names)
        links = list(c.links)
        for part in msgs[1:]:
            links += convert_message(part, ref, self.pseudonymiser, self.entities.names).links
        post = c.post
        if post is not None and (images or len(msgs) > 1):
            extra = dict(post.extra)
            if len(msgs) > 1:
                extra["album"] = [m.id for m in msgs]
            if images:
                extra["images"] = {"count": len(images), "with_text": sum(1 for im in images if im.text)}
            post = post.model_copy(update={"extra": extra})
        rows = ImageReader.rows(ref.key, str(main.id), images, main.date)
        return Item(post=post, links=links, images=rows,
                    checkpoint=(ref.key, max(m.id for m in msgs)) if checkpoint else None)

    async def _album_around(self, ref: ChannelRef, msg) -> list:
        """Every part of the album `msg` belongs to (an album holds at most 10 messages), from history."""
        parts = [m async for m in self.client.iter_messages(types.PeerChannel(ref.channel_id), min_id=msg.id - 10,
                                                            max_id=msg.id + 10, wait_time=0)
                 if getattr(m, "grouped_id", None) == msg.grouped_id]
        return sorted(parts, key=lambda m: m.id) or [msg]

    # -- live ------------------------------------------------------------------------------------------------
    def _ref_of(self, event) -> ChannelRef | None:
        chat_id = event.chat_id
        if chat_id is None:
            return None
        bare, _ = utils.resolve_id(chat_id)
        return self.watched.get(bare)

    def _is_watched(self, event) -> bool:
        return self._ref_of(event) is not None

    async def _on_message(self, event) -> None:
        ref = self._ref_of(event)
        if ref is None:
            return
        msg = event.message
        if msg.grouped_id is None:
            await self.batch.put(self._item(msg, ref) if self._plain([msg]) else await self._post_item([msg], ref))
        elif isinstance(event, events.MessageEdited.Event):  # a part of an album changed: the album again
            await self.batch.put(await self._post_item(await self._album_around(ref, msg), ref))
        # a new album part: the Album handler takes the whole album

    async def _on_album(self, event) -> None:
        ref = self._ref_of(event)
        if ref is not None:
            await self.batch.put(await self._post_item(sorted(event.messages, key=lambda m: m.id), ref))

    async def _on_deleted(self, event) -> None:
        ref = self._ref_of(event)
        if ref is not None and event.deleted_ids:
            await self.batch.put(Item(deleted=(ref.key, list(event.deleted_ids))))

    def subscribe(self) -> None:
        """Register the handlers; they act on channels in `self.watched` (which may grow later)."""
        if self._subscribed:
            return
        self.client.add_event_handler(self._on_message, events.NewMessage(func=self._is_watched))
        self.client.add_event_handler(self._on_message, events.MessageEdited(func=self._is_watched))
        self.client.add_event_handler(self._on_album, events.Album(func=self._is_watched))
        self.client.add_event_handler(self._on_deleted, events.MessageDeleted(func=self._is_watched))
        self._subscribed = True

    # -- history ---------------------------------------------------------------------------------------------
    async def backfill(self, ref: ChannelRef, *, since: datetime | None = None, min_id: int | None = None) -> BackfillResult:
        """Read `ref`'s history oldest first from message `min_id` (default: its checkpoint) or from date `since`,
        through the batching writer; the checkpoint follows the committed batches."""
        if min_id is None and since is None:
            min_id = store.checkpoints(self.engine).get(ref.key, 0)
            if not min_id and self.initial_days:
                since = datetime.now(timezone.utc) - timedelta(days=self.initial_days)
        res = BackfillResult(ref.key, last_id=min_id or 0)
        last = min_id or 0
        offset_date = since
        seen_at, samples = datetime.now(timezone.utc), []  # views/forwards/reactions at first sight
        while True:
            try:
                history = self.client.iter_messages(types.PeerChannel(ref.channel_id), min_id=last,
                                                    offset_date=None if last else offset_date, reverse=True, wait_time=0)
                async for msgs in albums(history):
                    if isinstance(msgs[0], types.MessageService):  # nothing to store, but the checkpoint passes it
                        item = Item(checkpoint=(ref.key, msgs[0].id))
                    else:
                        item = await self._post_item(msgs, ref, checkpoint=True)
                        for m in msgs:
                            if (row := post_sample(m, ref.key, seen_at)) is not None:
                                samples.append(row)
                    await self.batch.put(item)
                    res.read += len(msgs)
                    res.posts += item.post is not None
                    last = res.last_id = msgs[-1].id
                    if len(samples) >= self.batch.max_items:
                        await asyncio.to_thread(self._record_samples, samples)
                        samples = []
                break
            except errors.FloodWaitError as exc:
                res.flood_waits += 1
                log.warning("FloodWait: Telegram asks to wait %d s while reading @%s history (after message %d); "
                            "waiting, then resuming", exc.seconds, ref.key, last)
                await self.sleep(exc.seconds)
                forget_flood_wait(self.client, exc)
            except errors.RPCError as exc:
                known = channel_error(exc)
                if known is None:
                    raise
                raise ChannelUnavailable(f"{known[1]} ({type(exc).__name__})", known[0]) from None
        await asyncio.to_thread(self._record_samples, samples)
        return res

    async def recheck(self, ref: ChannelRef, days: int) -> RecheckResult:
        """What changed while away: re-read the last `days` days of `ref`; a changed text becomes a version (the
        writer keeps the old one), and a stored post no longer in the history is marked deleted, with the time
        it was noticed. Only posts stored before this read started are judged, so a live post arriving
        meanwhile is never taken for a deleted one."""
        started = datetime.now(timezone.utc)
        since = started - timedelta(days=days)
        res = RecheckResult(ref.key)
        seen: set[int] = set()
        samples: dict[int, dict] = {}
        while True:
            try:
                async for msgs in albums(self._since(ref, since)):
                    seen.update(m.id for m in msgs)
                    res.read += len(msgs)
                    if not isinstance(msgs[0], types.MessageService):
                        await self.batch.put(await self._post_item(msgs, ref))
                        for m in msgs:
                            if (row := post_sample(m, ref.key, started)) is not None:
                                samples[m.id] = row
                break
            except errors.FloodWaitError as exc:
                log.warning("FloodWait: Telegram asks to wait %d s while re-reading @%s; waiting, then starting over",
                            exc.seconds, ref.key)
                await self.sleep(exc.seconds)
                forget_flood_wait(self.client, exc)
                seen.clear()
                res.read = 0
            except errors.RPCError as exc:
                known = channel_error(exc)
                if known is None:
                    raise
                raise ChannelUnavailable(f"{known[1]} ({type(exc).__name__})", known[0]) from None
        await self.batch.flush()
        await asyncio.to_thread(self._record_samples, samples.values())
        gone = sorted(store.live_ids_since(self.engine, ref.key, since, started) - seen)
        if gone:
            before = self.deleted
            await self.batch.put(Item(deleted=(ref.key, gone)))
            await self.batch.flush()
            res.deleted = self.deleted - before
            log.info("re-read @%s: %d posts deleted while we were away, marked", ref.key, res.deleted)
        return res

    def _record_samples(self, rows) -> None:
        if not rows:
            return
        with self.engine.begin() as conn:
            record_post_samples(conn, rows)

    async def sample_channels(self, refs: Sequence[ChannelRef]) -> int:
        """One metrics sample (subscribers, names, flags) of each channel; a refused channel is recorded as such."""
        sampler, n = MetricsSampler(self.client, self.engine, self.pseudonymiser, sleep=self.sleep), 0
        for ref in refs:
            try:
                await sampler.sample_channel(ref)
                n += 1
            except ChannelUnavailable as exc:
                self.unavailable(ref.key, exc, ref.channel_id)
            except (errors.RPCError, ValueError) as exc:
                log.error("sampling @%s's metrics failed: %s", ref.key, exc)
        return n

    async def _since(self, ref: ChannelRef, since: datetime):
        """The channel's messages from the newest back to `since`."""
        async for msg in self.client.iter_messages(types.PeerChannel(ref.channel_id), wait_time=0):
            if msg.date < since:
                return
            yield msg

    async def reconcile(self, refs: Sequence[ChannelRef], *, recheck_days: int = 0) -> list[BackfillResult]:
        """Gap repair: each channel from its checkpoint, then (with `recheck_days`) its recent days re-read for
        edits and deletions missed; committed before returning."""
        results = []
        for ref in refs:
            try:
                ref = await self.check(ref)
                results.append(await self.backfill(ref))
                if recheck_days:
                    await self.batch.flush()
                    await self.recheck(ref, recheck_days)
                self.readable(ref)
            except ChannelUnavailable as exc:
                self.unavailable(ref.key, exc, ref.channel_id)
            except (errors.RPCError, ValueError) as exc:
                log.error("reconciling @%s failed: %s", ref.key, exc)
        await self.batch.flush()
        for r in results:
            if r.read:
                log.info("reconciled @%s: %d messages read, up to id %d", r.channel, r.read, r.last_id)
        return results

    # -- the listener ----------------------------------------------------------------------------------------
    async def listen(self, channel_keys, stop: asyncio.Event, *, reconcile_every: float = 600.0,
                     recheck_days: int = 0, recheck_every: float = 6 * 3600.0) -> None:
        """Run until `stop` is set. `channel_keys()` returns the keys to watch; it is called again before each
        periodic reconcile, so channels promoted while the listener runs are picked up."""
        self.batch.start()
        self.subscribe()
        started = time.monotonic()
        last_recheck = None
        try:
            while not stop.is_set():
                refs = await self.resolve(k for k in channel_keys() if not self._known_key(k))
                self.watch(refs)
                due = recheck_days and (last_recheck is None or time.monotonic() - last_recheck >= recheck_every)
                await self.reconcile(list(self.watched.values()), recheck_days=recheck_days if due else 0)
                if due or not self.reconciles:  # metrics: on start and at each recheck
                    await self.sample_channels(list(self.watched.values()))
                if due:
                    last_recheck = time.monotonic()
                self.reconciles += 1
                log.info("listening to %d channels; next reconcile in %.0f s", len(self.watched), reconcile_every)
                stopped = asyncio.ensure_future(stop.wait())
                lost = asyncio.ensure_future(self.client.disconnected)
                await asyncio.wait([stopped, lost], timeout=reconcile_every, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                lost.cancel()
                if not stop.is_set() and not self.client.is_connected():
                    await self._reconnect(stop)
        finally:
            await self.batch.close()
            log.info("listener stopped after %.0f s: %d new posts, %d edits, %d deletions marked",
                     time.monotonic() - started, self.totals.inserted, self.totals.updated, self.deleted)

    async def _reconnect(self, stop: asyncio.Event) -> None:
        """Telethon retries a lost connection by itself (`connection_retries=-1`); when it still gives up, try
        again here without limit, with exponential backoff (`retry_delay` doubling up to `max_retry_delay`) and a
        log line per attempt. A session that is no longer authorised ends the listener (NotLoggedIn)."""
        why = getattr(self.client, "_updates_error", None) or "disconnected"
        delay, attempt = self.retry_delay, 0
        while not stop.is_set():
            attempt += 1
            log.warning("lost the connection to Telegram (%s); reconnecting in %.0f s (attempt %d)", why, delay, attempt)
            await self.sleep(delay)
            try:
                await self.client.disconnect()
                await self.client.connect()
                ok = await self.client.is_user_authorized()
            except (OSError, ConnectionError, asyncio.TimeoutError) as exc:
                why, delay = f"{type(exc).__name__}: {exc}", min(delay * 2, self.max_retry_delay)
                continue
            if not ok:
                raise NotLoggedIn("the Telegram session was logged out or revoked: run `npswatch telegram login`")
            self.reconnects += 1
            log.info("reconnected to Telegram after %d attempt(s); reconciling to repair the gap", attempt)
            return

    def _known_key(self, key: str) -> bool:
        return any(r.key == key for r in self.watched.values())
