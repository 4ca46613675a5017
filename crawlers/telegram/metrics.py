"""Channel and post metrics over time, read with Telethon: subscribers, names and flags of a channel; views,
forwards, replies and reactions of its recent posts.

- `channel_sample` asks `channels.getFullChannel` (one request per channel) for the subscriber count, the
  description and the linked discussion group, and takes the title, username and the verified / scam / fake /
  restricted flags from the channel entity it returns. The description and title are scrubbed (phones, handles
  and wallets in them pseudonymised) before they are stored.
- `post_sample` reads the counters Telegram sends with every message (no extra request).
- `MetricsSampler.sample_posts` re-reads a channel's last N days of history (newest first, stopping at the
  first older message) and stores one sample per post, without touching the posts themselves; the listener
  stores the same samples from its own re-reads (`TelegramCollector.recheck`).

Used on listener start and at each recheck, and by `npswatch telegram sample` (the `metrics` job).
"""
from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Engine
from telethon import TelegramClient, errors, types
from telethon.tl.functions.channels import GetFullChannelRequest

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.storage import telegram_metrics as mstore

from .client import Sleep, flood_retry, forget_flood_wait, unavailable_from
from .convert import ChannelRef

log = logging.getLogger("npswatch.telegram")

__all__ = ["MetricsSampler", "SampleResult", "channel_sample", "post_sample"]


def _reaction_label(r: Any) -> str:
    if isinstance(r, types.ReactionEmoji):
        return r.emoticon
    if isinstance(r, types.ReactionCustomEmoji):
        return f"custom:{r.document_id}"
    return type(r).__name__.removeprefix("Reaction").lower() or "other"


def post_sample(msg: Any, key: str, at: datetime) -> dict[str, Any] | None:
    """The counters of one message as a `telegram_post_sample` row; None when it carries none."""
    views, forwards = getattr(msg, "views", None), getattr(msg, "forwards", None)
    replies = getattr(getattr(msg, "replies", None), "replies", None)
    counts: dict[str, int] = {}
    for rc in getattr(getattr(msg, "reactions", None), "results", None) or ():
        label = _reaction_label(rc.reaction)
        counts[label] = counts.get(label, 0) + int(rc.count)
    if views is None and forwards is None and replies is None and not counts:
        return None
    return {"key": key, "message_id": int(msg.id), "at": at, "views": views, "forwards": forwards,
            "replies": replies, "reactions": sum(counts.values()) if counts else None,
            "reaction_counts": counts or None}


async def channel_sample(client: TelegramClient, ref: ChannelRef, ps: Pseudonymiser, *,
                         sleep: Sleep = asyncio.sleep) -> dict[str, Any]:
    """A `telegram_channel_sample` row for `ref`, now. ChannelUnavailable when Telegram refuses the channel."""
    try:
        peer = await client.get_input_entity(types.PeerChannel(ref.channel_id))
        full = await flood_retry(client, lambda: client(GetFullChannelRequest(peer)), what=f"reading @{ref.key}'s info",
                                 sleep=sleep)
    except errors.RPCError as exc:
        raise unavailable_from(exc) from None
    info = full.full_chat
    entity = next((c for c in full.chats if c.id == ref.channel_id), None)
    region = ref.hints.country
    title = getattr(entity, "title", None) or ref.title
    return {
        "key": ref.key, "channel_id": ref.channel_id, "at": datetime.now(timezone.utc),
        "subscribers": getattr(info, "participants_count", None) or getattr(entity, "participants_count", None),
        "title": ps.scrub(title, region)[:255] if title else None,
        "username": (getattr(entity, "username", None) or "").lower() or None,
        "about": ps.scrub(info.about, region) if getattr(info, "about", None) else None,
        "linked_chat_id": getattr(info, "linked_chat_id", None),
        **{f: bool(getattr(entity, f, False)) for f in ("verified", "scam", "fake", "restricted")},
    }


@dataclass
class SampleResult:
    channel: str
    subscribers: int | None = None
    posts: int = 0  # posts sampled
    status: str = "ok"  # or the channel's state when Telegram refused it


class MetricsSampler:
    def __init__(self, client: TelegramClient, engine: Engine, pseudonymiser: Pseudonymiser, *,
                 sleep: Sleep = asyncio.sleep) -> None:
        self.client = client
        self.engine = engine
        self.pseudonymiser = pseudonymiser
        self.sleep = sleep

    async def sample_channel(self, ref: ChannelRef) -> dict[str, Any]:
        row = await channel_sample(self.client, ref, self.pseudonymiser, sleep=self.sleep)
        await asyncio.to_thread(mstore.record_channel_sample, self.engine, row)
        return row

    async def sample_posts(self, ref: ChannelRef, days: int) -> int:
        """One sample of every post of the last `days` days of `ref`; returns how many."""
        at = datetime.now(timezone.utc)
        since = at - timedelta(days=days)
        rows: dict[int, dict] = {}
        while True:
            try:
                async for msg in self.client.iter_messages(types.PeerChannel(ref.channel_id), wait_time=0):
                    if msg.date < since:
                        break
                    if (row := post_sample(msg, ref.key, at)) is not None:
                        rows[msg.id] = row
                break
            except errors.FloodWaitError as exc:
                log.warning("FloodWait: Telegram asks to wait %d s while sampling @%s's posts; waiting, then "
                            "starting over", exc.seconds, ref.key)
                await self.sleep(exc.seconds)
                forget_flood_wait(self.client, exc)
                rows.clear()
            except errors.RPCError as exc:
                raise unavailable_from(exc) from None

        def write() -> int:
            with self.engine.begin() as conn:
                return mstore.record_post_samples(conn, rows.values())

        return await asyncio.to_thread(write)

    async def sample(self, ref: ChannelRef, days: int) -> SampleResult:
        """The channel, then its posts of the last `days` days (0: the channel only)."""
        row = await self.sample_channel(ref)
        res = SampleResult(ref.key, row["subscribers"])
        if days:
            res.posts = await self.sample_posts(ref, days)
        return res
