"""Telegram Desktop JSON exports (`result.json`) into posts: `npswatch import-telegram`.

Both shapes Telegram Desktop writes are read:
- a single chat export: `{"name", "type", "id", "messages": [...]}`;
- a full export: `{"chats": {"list": [chat, ...]}, "left_chats": {"list": [...]}, ...}`; personal chats,
  bot chats and saved messages are skipped (they are the analyst's own conversations, not market sources).

Per message: `type: "service"` is skipped; `text` is a string or a list of strings and entity objects
(`{"type": "bold", "text": ...}`, `{"type": "text_link", "text": ..., "href": ...}`); `date_unixtime`
(exact) is preferred to `date` (the exporting computer's local time); `edited`/`edited_unixtime` become
`edited_at`; `from_id` ("user123", "channel123") is the author, pseudonymised by the writer, the same
pseudonym the live listener gives; `forwarded_from`/`forwarded_from_id` become the forward origin (a
person's name only as a pseudonym); a photo or file with a caption counts by its caption.

Posts are written in batches, each committed. A malformed message (no date, a text that is not text, an id
beyond 64 bits, JSON nested too deep to read) is skipped and reported in `ImportResult.skipped` with the
chat and its index k; the other messages are stored, so a rerun does not stop at the same message. A bad
optional field is dropped and its message kept (a forward origin id beyond 64 bits). A file cut off mid-way
(a JSON syntax error) is salvaged: every complete message before the break is stored, then the break is
reported. Writes are idempotent on (channel, message id): importing the same file again adds nothing.

The channel's source key is its username when npswatch knows the id (listener, `--channel`), else
`c<id>`; so an export and the listener write the same rows.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import InvalidPost, RawPost, storable
from npswatch.storage.telegram_store import Link
from npswatch.storage.writer import PostWriter, WriteResult

from .convert import ChannelRef, channel_key, links_for

__all__ = ["TelegramExportError", "ImportResult", "import_export", "message_text"]

SKIPPED_CHAT_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages", "self"})


class TelegramExportError(ValueError):
    """The file is not a Telegram Desktop export, or one message in it is malformed (the message says which)."""


@dataclass
class ImportResult:
    chats: int = 0
    skipped_chats: list[str] = field(default_factory=list)
    messages: int = 0
    service: int = 0
    empty: int = 0  # messages with neither text nor caption
    links: int = 0
    write: WriteResult = field(default_factory=WriteResult)
    skipped: list[str] = field(default_factory=list)  # "chat X: message #k (id n) <reason>", one per message


def message_text(text: Any) -> tuple[str, list[str]]:
    """Plain text and link targets of an export's `text` field.

    >>> message_text(["товар ", {"type": "bold", "text": "1г"}, " ", {"type": "text_link", "text": "тут",
    ...                                                              "href": "https://t.me/synthetic_shop_02"}])
    ('товар 1г тут', ['https://t.me/synthetic_shop_02'])
    >>> message_text("plain")
    ('plain', [])
    """
    if isinstance(text, str):
        return text, []
    if not isinstance(text, list):
        raise ValueError(f"`text` is {type(text).__name__}, not a string or a list of strings and entity objects")
    parts, hrefs = [], []
    for i, part in enumerate(text):
        if isinstance(part, str):
            parts.append(part)
        elif isinstance(part, dict) and isinstance(part.get("text", ""), str):
            parts.append(part.get("text", ""))
            if isinstance(part.get("href"), str):
                hrefs.append(part["href"])
        else:
            raise ValueError(f"`text` part {i} is {type(part).__name__}, not a string or an entity object")
    return "".join(parts), hrefs


def _date(msg: dict, key: str) -> datetime | None:
    unix = msg.get(f"{key}_unixtime")
    if unix not in (None, ""):
        try:
            return datetime.fromtimestamp(int(unix), timezone.utc)
        except (TypeError, ValueError, OverflowError):
            raise ValueError(f"`{key}_unixtime` {unix!r} is not a Unix time") from None
    v = msg.get(key)
    if v in (None, ""):
        return None
    try:
        d = datetime.fromisoformat(str(v))
    except ValueError:
        raise ValueError(f"`{key}` {v!r} is not an ISO date") from None
    return d if d.tzinfo else d.replace(tzinfo=timezone.utc)


_PEER = re.compile(r"(user|channel|chat)(\d+)")
_MAX_ID = 2**63 - 1  # ids are stored as 64-bit integers


class _TooDeep:
    """Stands in for a message whose JSON is nested too deep to decode."""


# -- reading the file ----------------------------------------------------------------------------------------
@dataclass
class _Chat:
    header: dict
    messages: list
    broken: tuple[int, str] | None = None  # (index, reason): the file breaks after `messages`


def _chats_of(data: Any, path: Path) -> list[_Chat]:
    if isinstance(data, dict) and isinstance(data.get("messages"), list):
        return [_Chat(data, data["messages"])]
    if isinstance(data, dict) and isinstance(data.get("chats"), dict):
        chats = []
        for section in ("chats", "left_chats"):
            lst = (data.get(section) or {}).get("list", [])
            if not isinstance(lst, list):
                raise TelegramExportError(f"{path}: `{section}.list` is not a list")
            for i, c in enumerate(lst):
                if not isinstance(c, dict) or not isinstance(c.get("messages", []), list):
                    raise TelegramExportError(f"{path}: {section}.list[{i}] is not a chat with a `messages` list")
                chats.append(_Chat(c, c.get("messages", [])))
        return chats
    raise TelegramExportError(f"{path}: not a Telegram Desktop JSON export (no `messages` and no `chats.list`)")


_MESSAGES = re.compile(r'"messages"\s*:\s*\[')
_HEADER = {k: re.compile(rf'"{k}"\s*:\s*("(?:[^"\\]|\\.)*"|-?\d+)') for k in ("name", "type", "id")}


def _salvage(text: str, path: Path, exc: json.JSONDecodeError | None) -> list[_Chat]:
    """Chats and their complete messages from a file with a JSON syntax error, the break marked."""
    dec = json.JSONDecoder()
    chats: list[_Chat] = []
    prev_end = 0
    for m in _MESSAGES.finditer(text):
        if m.start() < prev_end:
            continue
        head_text = text[prev_end:m.start()]
        header = {}
        for k, rx in _HEADER.items():
            found = rx.findall(head_text)
            if found:
                header[k] = json.loads(found[-1])
        chat = _Chat(header, [])
        pos = m.end()
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos < len(text) and text[pos] == "]":
                pos += 1
                break
            try:
                obj, pos = dec.raw_decode(text, pos)
            except json.JSONDecodeError as e:
                chat.broken = (len(chat.messages), f"not valid JSON ({e.msg} at line {e.lineno} column {e.colno})")
                break
            except RecursionError:
                end = _value_end(text, pos)
                if end < 0:
                    chat.broken = (len(chat.messages), "not valid JSON (unterminated)")
                    break
                obj, pos = _TooDeep(), end
            chat.messages.append(obj)
        chats.append(chat)
        prev_end = pos
        if chat.broken:
            break
    if exc is not None and (not chats or not chats[-1].broken):
        raise TelegramExportError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})")
    if not chats:
        raise TelegramExportError(f"{path}: JSON nested too deep, and no `messages` list found")
    return chats


def _value_end(text: str, pos: int) -> int:
    """Index just past the JSON object or array starting at `pos` (brackets counted, strings skipped), or -1."""
    depth, i, n = 0, pos, len(text)
    in_str = False
    while i < n:
        ch = text[i]
        if in_str:
            if ch == "\\":
                i += 1
            elif ch == '"':
                in_str = False
        elif ch == '"':
            in_str = True
        elif ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return -1


def _read(path: Path) -> list[_Chat]:
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise TelegramExportError(f"{path}: not UTF-8 text") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return _salvage(text, path, exc)
    except RecursionError:  # some message is nested too deep: read message by message, that one skipped
        return _salvage(text, path, None)
    return _chats_of(data, path)


# -- converting ------------------------------------------------------------------------------------------------
def _chat_ref(header: dict, channel: str | None, username_of: Callable[[int], str | None]) -> ChannelRef:
    cid = header.get("id")
    if not isinstance(cid, int):
        raise ValueError(f"chat `id` {cid!r} is not a number")
    cid = abs(cid)
    if cid > _MAX_ID:
        raise ValueError(f"chat `id` {str(cid)[:40]} is outside 64 bits")
    uname = channel or username_of(cid)
    return ChannelRef(key=channel_key(uname, cid), channel_id=cid, username=uname, title=header.get("name"))


def _convert(msg: Any, ref: ChannelRef, ps: Pseudonymiser, username_of: Callable[[int], str | None]
             ) -> tuple[RawPost | None, list[Link], str]:
    """(post or None, links, kind) where kind is message | service | empty | other."""
    if not isinstance(msg, dict):
        raise ValueError(f"is {type(msg).__name__}, not an object")
    mid = msg.get("id")
    if not isinstance(mid, int) or isinstance(mid, bool):
        raise ValueError(f"`id` {str(mid)[:40]!r} is not a number")
    if not 0 <= mid <= _MAX_ID:
        raise ValueError(f"`id` {str(mid)[:40]} is outside 64 bits")
    kind = msg.get("type", "message")
    if kind == "service":
        return None, [], "service"
    if kind != "message":
        return None, [], "other"
    date = _date(msg, "date")
    if date is None:
        raise ValueError("has no `date`")
    edited = _date(msg, "edited")
    text, hrefs = message_text(msg.get("text", ""))
    extra: dict[str, Any] = {"channel_id": ref.channel_id}
    media = msg.get("media_type") or next((k for k in ("photo", "file", "sticker_emoji") if k in msg), None)
    if media:
        extra["media"] = "photo" if media == "photo" else str(media)
    links: list[Link] = []
    if "forwarded_from" in msg or "forwarded_from_id" in msg:
        origin: dict[str, Any] = {}
        fid = _PEER.fullmatch(str(msg.get("forwarded_from_id") or ""))
        if fid and int(fid.group(2)) > _MAX_ID:  # an id no chat can have: the origin is dropped, the message kept
            fid = None
        name = msg.get("forwarded_from")
        if not isinstance(name, str):
            name = None
        if fid and fid.group(1) == "channel":
            cid = int(fid.group(2))
            uname = username_of(cid)
            origin = {"channel": channel_key(uname, cid), "channel_id": cid, "username": uname, "title": name}
            links.append(Link(ref.key, mid, origin["channel"], "forward", date, uname, cid, name))
        elif fid:
            origin = {"user": ps.handle(fid.group(0))}
        elif name:  # a bare name may be a person's: keep only its pseudonym
            origin = {"user": ps.handle(f"name:{name}")}
        extra["forward"] = {k: v for k, v in origin.items() if v is not None}
    links += links_for(ref.key, mid, date, [text, *hrefs])
    if not text.strip():
        return None, links, "empty"
    from_id = msg.get("from_id")
    author = from_id if isinstance(from_id, str) and _PEER.fullmatch(from_id) else f"channel{ref.channel_id}"
    post = RawPost(source=ref.key, external_id=str(mid), text=text, url=ref.url(mid), author=author,
                   posted_at=date, edited_at=edited, hints=ref.hints, extra=extra)
    return post, links, "message"


def import_export(path: Path, writer: PostWriter, write_links: Callable[[list[Link]], int], *,
                  username_of: Callable[[int], str | None] = lambda _id: None, channel: str | None = None,
                  batch_size: int = 500, progress: Callable[[str], None] | None = None) -> ImportResult:
    """Import one export file. `write_links(links)` commits discovery links; posts go through `writer`.

    Raises TelegramExportError naming the chat and the message index of the first malformed message, after
    committing every message before it."""
    path = Path(path)
    chats = _read(path)
    if channel and len(chats) != 1:
        raise TelegramExportError(f"{path}: --channel names one channel, but the export holds {len(chats)} chats")
    res = ImportResult()
    posts: list[RawPost] = []
    links: list[Link] = []

    def flush() -> None:
        if posts:
            res.write += writer.write(posts, source_kind="export")
        if links:
            res.links += write_links(links)
        posts.clear()
        links.clear()

    for ci, chat in enumerate(chats):
        header = chat.header
        label = f"chat {ci} ({header.get('name') or header.get('id') or '?'})" if len(chats) > 1 else \
            f"chat {header.get('name') or header.get('id') or '?'}"
        if header.get("type") in SKIPPED_CHAT_TYPES:
            res.skipped_chats.append(f"{header.get('name') or header.get('id')} ({header.get('type')})")
            continue
        try:
            ref = _chat_ref(header, channel, username_of)
        except ValueError as exc:
            flush()
            raise TelegramExportError(f"{path}: {label}: {exc}") from None
        res.chats += 1
        for i, msg in enumerate(chat.messages):
            try:
                if isinstance(msg, _TooDeep):
                    raise ValueError("is JSON nested too deep to read")
                post, lks, kind = _convert(msg, ref, writer.pseudonymiser, username_of)
            except (ValueError, InvalidPost, RecursionError) as exc:
                mid = msg.get("id") if isinstance(msg, dict) else None
                mid = str(mid)[:40] if mid is not None else None
                reason = str(exc) or type(exc).__name__
                res.skipped.append(storable(f"{label}: message #{i}" + (f" (id {mid})" if mid is not None else "")
                                            + f" {reason}"))
                continue
            res.messages += 1
            res.service += kind == "service"
            res.empty += kind == "empty"
            if post is not None:
                posts.append(post)
            links.extend(lks)
            if len(posts) >= batch_size:
                flush()
        if chat.broken:
            flush()
            i, reason = chat.broken
            raise TelegramExportError(f"{path}: {label}: message #{i} {reason}; the messages before it are stored")
        if progress:
            progress(f"{ref.key}: {len(chat.messages)} messages")
    flush()
    return res


def iter_export_messages(path: Path) -> Iterator[tuple[dict, dict]]:
    """(chat header, message) pairs of a well-formed export, for tools and tests."""
    for chat in _read(Path(path)):
        for m in chat.messages:
            yield chat.header, m
