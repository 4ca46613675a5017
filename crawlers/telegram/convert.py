"""Telegram messages to `RawPost`s and channel links: the one place that decides what a message becomes.

Used by the live listener, backfill/reconcile (Telethon `Message`s) and the export importer (JSON dicts),
so that the same message gives the same post, author pseudonym and links whichever way it arrives.

- text: the message text, or the caption of a photo/video/document (media itself is never downloaded), then
  the lines of a poll, venue/location or contact card (`kinds`: what they become, what is never stored);
  a message with none of these is not a post;
- author: the sender as `user<id>` / `channel<id>` (the form Telegram Desktop exports use), pseudonymised by
  the writer; a channel broadcast's sender is the channel itself. Ids, not usernames: usernames change;
- url: `https://t.me/<channel>/<id>` (or `https://t.me/c/<id>/<post>` for a channel without a username);
- extra: channel id, media kind, views, and for a forward its origin (channel username/id/post, or a
  pseudonym when the origin is a person);
- links: channels the message forwards from or links to with t.me URLs, and the bot it was sent through
  (`via_bot`), for the discovery queue.

>>> channel_key("@Synthetic_Channel_01"), channel_key(None, 1234567890)
('synthetic_channel_01', 'c1234567890')
>>> normalise_channel("https://t.me/s/Synthetic_Shop_02"), normalise_channel("-1001234567890")
('synthetic_shop_02', 'c1234567890')
>>> [(m.key, m.post) for m in tme_links("см. t.me/synthetic_shop_02/15 и https://t.me/joinchat/AAAA и t.me/c/777000123/5")]
[('synthetic_shop_02', 15), ('c777000123', 5)]
"""
from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import RawPost, SourceHints
from npswatch.storage.telegram_store import Link

from . import kinds

__all__ = ["ChannelRef", "Converted", "channel_key", "normalise_channel", "tme_links", "TmeLink",
           "convert_message", "peer_author"]

# t.me/<name>[/<post>], telegram.me, telegram.dog and the web preview t.me/s/<name>. Names are 4-32 chars
# (Telegram's own minimum is 5; a few old ones are shorter) and the match is anchored on both sides, so
# "t.me/abcdefg" inside a longer token does not match a prefix of it.
_TME = re.compile(
    r"(?<![\w.])(?:https?://)?(?:www\.)?(?:t\.me|telegram\.me|telegram\.dog)/(?:s/)?"
    r"(?:c/(?P<cid>\d{5,16})|(?P<name>[A-Za-z][A-Za-z0-9_]{3,31}))(?![\w])(?:/(?P<post>\d{1,10}))?",
    re.IGNORECASE,
)
# Paths of t.me that are not channels (invites, sticker sets, proxies, login and share links).
_RESERVED = frozenset(
    "joinchat addstickers addemoji addtheme addlist share proxy socks login confirmphone setlanguage "
    "invoice boost giftcode iv contact bg".split()
)
_USERNAME = re.compile(r"[a-z][a-z0-9_]{3,31}")


def channel_key(username: str | None, channel_id: int | None = None) -> str:
    """The source key of a channel: its lowercase username, else `c<id>`."""
    if username:
        return username.strip().lstrip("@").lower()
    if channel_id is None:
        raise ValueError("a channel needs a username or an id")
    cid = int(channel_id)
    if cid < -1_000_000_000_000:  # a "marked" id as Telethon's get_peer_id gives it: -100<id>
        cid = -cid - 1_000_000_000_000
    return f"c{abs(cid)}"


def normalise_channel(text: str) -> str:
    """`@Name`, `Name`, `t.me/Name`, `https://t.me/s/Name/12`, `c123`, `-100123` -> a channel key."""
    s = text.strip()
    m = _TME.search(s)
    if m:
        return f"c{m.group('cid')}" if m.group("cid") else m.group("name").lower()
    s = s.lstrip("@")
    if re.fullmatch(r"-100\d{5,16}", s):
        return f"c{s[4:]}"
    if re.fullmatch(r"c\d{5,16}", s, re.I):
        return s.lower()
    if not _USERNAME.fullmatch(s.lower()):
        raise ValueError(f"{text!r} is not a channel username, t.me link or channel id")
    return s.lower()


@dataclass(frozen=True)
class TmeLink:
    key: str
    username: str | None
    channel_id: int | None
    post: int | None


def tme_links(*texts: str | None) -> list[TmeLink]:
    """Channels linked with t.me URLs in the given texts, in order, each once."""
    seen: dict[str, TmeLink] = {}
    for text in texts:
        if not text or "me/" not in text and "dog/" not in text:
            continue
        for m in _TME.finditer(text):
            post = int(m.group("post")) if m.group("post") else None
            if m.group("cid"):
                link = TmeLink(f"c{m.group('cid')}", None, int(m.group("cid")), post)
            else:
                name = m.group("name").lower()
                if name in _RESERVED:
                    continue
                link = TmeLink(name, name, None, post)
            seen.setdefault(link.key, link)
    return list(seen.values())


@dataclass(frozen=True)
class ChannelRef:
    """A watched channel: its source key, id and (when it has one) username."""

    key: str
    channel_id: int
    username: str | None = None
    title: str | None = None
    hints: SourceHints = field(default_factory=SourceHints)

    def url(self, message_id: int) -> str:
        if self.username:
            return f"https://t.me/{self.username}/{message_id}"
        return f"https://t.me/c/{self.channel_id}/{message_id}"


@dataclass
class Converted:
    """What one message gives: a post (None for a message without text or caption) and channel links."""

    message_id: int
    post: RawPost | None
    links: list[Link]


def peer_author(peer: Any) -> str | None:
    """`PeerUser(5)` -> 'user5', `PeerChannel(7)` -> 'channel7' (the export's `from_id` form)."""
    if peer is None:
        return None
    for attr, prefix in (("user_id", "user"), ("channel_id", "channel"), ("chat_id", "chat")):
        v = getattr(peer, attr, None)
        if v is not None:
            return f"{prefix}{v}"
    return None


def _media_kind(media: Any) -> str | None:
    if media is None:
        return None
    name = type(media).__name__
    return name.removeprefix("MessageMedia").lower() or None


def _entity_urls(msg: Any) -> list[str]:
    return [e.url for e in (getattr(msg, "entities", None) or ()) if getattr(e, "url", None)]


def convert_message(msg: Any, ref: ChannelRef, pseudonymiser: Pseudonymiser,
                    names: Mapping[int, str] | Callable[[int], str | None] = {},  # noqa: B006
                    homes: Mapping[int, str] = {}) -> Converted:  # noqa: B006
    """A Telethon `Message` of channel `ref` -> post and links. `names` maps known channel ids to usernames,
    `homes` channel ids to the source key they are stored under (a renamed channel keeps its first key)."""
    lookup = names if callable(names) else names.get
    text = getattr(msg, "message", None) or ""
    date: datetime | None = getattr(msg, "date", None)
    extra: dict[str, Any] = {"channel_id": ref.channel_id}
    kind = _media_kind(getattr(msg, "media", None))
    if kind:
        extra["media"] = kind
    if getattr(msg, "views", None) is not None:
        extra["views"] = msg.views
    links: list[Link] = []

    fwd = getattr(msg, "fwd_from", None)
    if fwd is not None:
        origin: dict[str, Any] = {}
        src_peer = fwd.from_id
        if getattr(src_peer, "channel_id", None) is not None:
            cid = src_peer.channel_id
            chat = getattr(getattr(msg, "forward", None), "chat", None)
            uname = getattr(chat, "username", None) or lookup(cid)
            origin = {"channel": homes.get(cid) or channel_key(uname, cid), "channel_id": cid, "username": uname,
                      "title": getattr(chat, "title", None), "message_id": fwd.channel_post}
            links.append(Link(ref.key, msg.id, origin["channel"], "forward", date, uname and uname.lower(), cid,
                              origin["title"], getattr(chat, "participants_count", None)))
        elif src_peer is not None:  # forwarded from a person: only a pseudonym
            origin = {"user": pseudonymiser.handle(peer_author(src_peer))}
        elif fwd.from_name:  # a person who hides their account: their display name, pseudonymised
            origin = {"user": pseudonymiser.handle(f"name:{fwd.from_name}")}
        if fwd.date:
            origin["date"] = fwd.date.isoformat()
        extra["forward"] = {k: v for k, v in origin.items() if v is not None}

    text = kinds.merge(text, extra, links, kinds.from_media(getattr(msg, "media", None), pseudonymiser,
                                                           ref.hints.country), kinds.bot_link(msg, ref.key, date))
    for ln in tme_links(text, *_entity_urls(msg)):
        links.append(Link(ref.key, msg.id, ln.key, "link", date, ln.username, ln.channel_id))

    post = None
    if text.strip():
        post = RawPost(
            source=ref.key,
            external_id=str(msg.id),
            text=text,
            url=ref.url(msg.id),
            author=peer_author(getattr(msg, "from_id", None)) or f"channel{ref.channel_id}",
            posted_at=date,
            edited_at=getattr(msg, "edit_date", None),
            hints=ref.hints,
            extra=extra,
        )
    return Converted(msg.id, post, links)


def links_for(src: str, message_id: int, date: datetime | None, texts: Iterable[str | None]) -> list[Link]:
    """Links found in plain texts (used by the export importer)."""
    return [Link(src, message_id, ln.key, "link", date, ln.username, ln.channel_id) for ln in tme_links(*texts)]
