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
  `reconcile_every` seconds (picking up channels promoted in the meantime), until `stop` is set.

FloodWaits anywhere are logged, waited out (injectable `sleep`) and resumed where they stopped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import Engine
from telethon import TelegramClient, errors, events, types, utils

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage import telegram_store as store
from npswatch.storage.writer import PostWriter, WriteResult

from .batch import BatchWriter, Item
from .client import ChannelNotFound, EntityCache, Sleep, forget_flood_wait
from .convert import ChannelRef, convert_message

log = logging.getLogger("npswatch.telegram")


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
                 initial_days: int = 30, join: bool = True, source_kind: str = "telegram") -> None:
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
        self._subscribed = False

    # -- channels --------------------------------------------------------------------------------------------
    async def resolve(self, keys: Iterable[str]) -> list[ChannelRef]:
        """Refs for channel keys; a channel that cannot be resolved is logged and skipped."""
        refs = []
        for key in dict.fromkeys(keys):
            try:
                refs.append(await self.entities.channel(key))
            except ChannelNotFound as exc:
                log.error("%s", exc)
        return refs

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
        if not (links or checkpoints or deletions):
            return
        now = datetime.now(timezone.utc)
        with self.engine.begin() as conn:
            store.record_links(conn, links)
            for key, ids in deletions:
                self.deleted += store.mark_deleted(conn, key, ids, now)
            if checkpoints:
                store.advance_checkpoints(conn, checkpoints, now)

    def _item(self, msg, ref: ChannelRef, checkpoint: bool = False) -> Item:
        c = convert_message(msg, ref, self.pseudonymiser, self.entities.names)
        return Item(post=c.post, links=c.links, checkpoint=(ref.key, msg.id) if checkpoint else None)

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
        if ref is not None:
            await self.batch.put(self._item(event.message, ref))

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
        while True:
            try:
                async for msg in self.client.iter_messages(types.PeerChannel(ref.channel_id), min_id=last,
                                                           offset_date=None if last else offset_date,
                                                           reverse=True, wait_time=0):
                    if isinstance(msg, types.MessageService):  # nothing to store, but the checkpoint passes it
                        item = Item(checkpoint=(ref.key, msg.id))
                    else:
                        item = self._item(msg, ref, checkpoint=True)
                    await self.batch.put(item)
                    res.read += 1
                    res.posts += item.post is not None
                    last = res.last_id = msg.id
                break
            except errors.FloodWaitError as exc:
                res.flood_waits += 1
                log.warning("FloodWait: Telegram asks to wait %d s while reading @%s history (after message %d); "
                            "waiting, then resuming", exc.seconds, ref.key, last)
                await self.sleep(exc.seconds)
                forget_flood_wait(self.client, exc)
        return res

    async def reconcile(self, refs: Sequence[ChannelRef]) -> list[BackfillResult]:
        """Gap repair: each channel from its checkpoint; committed before returning."""
        results = []
        for ref in refs:
            try:
                results.append(await self.backfill(ref))
            except (errors.RPCError, ValueError) as exc:
                log.error("reconciling @%s failed: %s", ref.key, exc)
        await self.batch.flush()
        for r in results:
            if r.read:
                log.info("reconciled @%s: %d messages read, up to id %d", r.channel, r.read, r.last_id)
        return results

    # -- the listener ----------------------------------------------------------------------------------------
    async def listen(self, channel_keys, stop: asyncio.Event, *, reconcile_every: float = 600.0) -> None:
        """Run until `stop` is set. `channel_keys()` returns the keys to watch; it is called again before each
        periodic reconcile, so channels promoted while the listener runs are picked up."""
        self.batch.start()
        self.subscribe()
        started = time.monotonic()
        try:
            while not stop.is_set():
                refs = await self.resolve(k for k in channel_keys() if not self._known_key(k))
                self.watch(refs)
                await self.reconcile(list(self.watched.values()))
                self.reconciles += 1
                log.info("listening to %d channels; next reconcile in %.0f s", len(self.watched), reconcile_every)
                stopped = asyncio.ensure_future(stop.wait())
                lost = asyncio.ensure_future(self.client.disconnected)
                await asyncio.wait([stopped, lost], timeout=reconcile_every, return_when=asyncio.FIRST_COMPLETED)
                stopped.cancel()
                lost.cancel()
                if not stop.is_set() and not self.client.is_connected():
                    # Telethon reconnects by itself after network trouble; this is the end of the session
                    # (logged out, revoked key): exit, so a supervisor restarts us and the reconcile repairs gaps.
                    raise ConnectionError(f"lost the connection to Telegram for good "
                                          f"({getattr(self.client, '_updates_error', None) or 'disconnected'})")
        finally:
            await self.batch.close()
            log.info("listener stopped after %.0f s: %d new posts, %d edits, %d deletions marked",
                     time.monotonic() - started, self.totals.inserted, self.totals.updated, self.deleted)

    def _known_key(self, key: str) -> bool:
        return any(r.key == key for r in self.watched.values())
