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
person's name only as a pseudonym); a photo or file with a caption counts by its caption; `poll`,
`location_information`/`place_name`/`address`, `contact_information` and `via_bot` as `kinds` reads them.

Posts are written in batches, each committed. A malformed message (no date, a text that is not text, an id
beyond 64 bits, JSON nested too deep to read) is skipped and reported in `ImportResult.skipped` with the
chat and its index k; the other messages are stored, so a rerun does not stop at the same message. A bad
optional field is dropped and its message kept (a forward origin id beyond 64 bits). A file cut off mid-way
(a JSON syntax error) is salvaged: every complete message before the break is stored, then the break is
reported. What Python's `json` reads but strict JSON forbids (NaN, Infinity, a raw control character in a
string) does not break the file: a NaN or Infinity is read as null, so its message is judged without it.
Writes are idempotent on (channel, message id): importing the same file again adds nothing.

The channel's source key is its username when npswatch knows the id (listener, `--channel`), else
`c<id>`; so an export and the listener write the same rows.

Every age of export: `peer_of` reads each `from_id` form (prefixed, bare numbers, pre-2021 shifted and
Bot-API marked ids) and `chat_id_of` undoes the pre-2021 chat id shift, so the author pseudonym and the
source are the listener's; local `date`s are read in `tz`; a named forward without an id is linked when
`channel_named` knows the title; the `replies` chat is skipped; repeated ids are reported, the first kept.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, Any

from npswatch.pipelines.privacy import Pseudonymiser
from npswatch.pipelines.rawpost import InvalidPost, RawPost, storable
from npswatch.storage.telegram_store import Link
from npswatch.storage.writer import PostWriter, WriteResult

from . import kinds
from .convert import ChannelRef, channel_key, links_for

if TYPE_CHECKING:  # the picture reader (Telethon, OCR) is loaded only when pictures are read
    from npswatch.storage.images import ImageRow

    from .photos import ImageReader, PostImage

__all__ = ["TelegramExportError", "ImportResult", "import_export", "message_text"]

SKIPPED_CHAT_TYPES = frozenset({"personal_chat", "bot_chat", "saved_messages", "self", "replies",
                                "verification_codes"})
CHANNEL_TYPES = frozenset({"public_channel", "private_channel", "public_supergroup", "private_supergroup"})
# Before 2021 Telegram Desktop wrote peer ids shifted by type: channels + 2**33, basic groups + 2**32.
CHANNEL_SHIFT, CHAT_SHIFT = 1 << 33, 1 << 32


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
    duplicates: list[str] = field(default_factory=list)  # "chat X: message #k repeats id n" (the first 100)
    duplicate_count: int = 0  # repeated message ids (the first message of each id is kept)
    named_forwards: int = 0  # forwards with a name and no id: linked when the name is a known channel's title
    skipped: list[str] = field(default_factory=list)  # "chat X: message #k (id n) <reason>", one per message
    pictures: int = 0  # pictures read (OCR) or known from before
    pictures_skipped: dict[str, int] = field(default_factory=dict)  # reason -> pictures not read


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
        kind = "null" if text is None else type(text).__name__  # null: also a NaN read leniently
        raise ValueError(f"`text` is {kind}, not a string or a list of strings and entity objects")
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


def _date(msg: dict, key: str, tz: tzinfo = timezone.utc) -> datetime | None:
    """`<key>_unixtime` (exact), else `<key>`: the exporting computer's local time, read in `tz`."""
    unix = msg.get(f"{key}_unixtime")
    if unix not in (None, ""):
        try:
            return datetime.fromtimestamp(int(unix), timezone.utc)
        except (TypeError, ValueError, OverflowError, OSError):  # OSError: beyond the C library's years
            raise ValueError(f"`{key}_unixtime` {str(unix)[:40]!r} is not a Unix time") from None
    v = msg.get(key)
    if v in (None, ""):
        return None
    try:
        d = datetime.fromisoformat(str(v))
        return d if d.tzinfo else d.replace(tzinfo=tz).astimezone(timezone.utc)
    except ValueError:
        raise ValueError(f"`{key}` {str(v)[:40]!r} is not an ISO date") from None
    except OverflowError:  # year 1 or 9999 moved across midnight by `tz`
        raise ValueError(f"`{key}` {str(v)[:40]!r} is out of the years a date can hold") from None


_PEER = re.compile(r"(user|channel|chat)(\d+)")
_MAX_ID = 2**63 - 1  # ids are stored as 64-bit integers


class _TooDeep:
    """Stands in for a message whose JSON is nested too deep to decode."""


def peer_of(value: Any) -> tuple[str, int] | None:
    """(kind, bare id) of a `from_id`/`forwarded_from_id` in every form exports have used: "user123",
    "channel123", "chat123" (2021 on), a number (before: a user, or a shifted channel/group id), a Bot-API
    style marked id (-100...).

    >>> peer_of("user123"), peer_of(123), peer_of((1 << 33) + 77), peer_of((1 << 32) + 5), peer_of(-1001234567890)
    (('user', 123), ('user', 123), ('channel', 77), ('chat', 5), ('channel', 1234567890))
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        m = _PEER.fullmatch(value)
        if m:
            return m.group(1), int(m.group(2))
        if not re.fullmatch(r"-?\d{1,20}", value):
            return None
        value = int(value)
    if not isinstance(value, int):
        return None
    if value < 0:
        text = str(value)
        return ("channel", int(text[4:])) if text.startswith("-100") else ("chat", -value)
    if value >= CHANNEL_SHIFT:
        return "channel", value - CHANNEL_SHIFT
    if value >= CHAT_SHIFT:
        return "chat", value - CHAT_SHIFT
    return "user", value


def chat_id_of(header: dict) -> int:
    """The bare channel/group id of a chat header: pre-2021 exports shifted it (see CHANNEL_SHIFT), Bot-API
    style ids are marked; both give the id the listener sees, so both write the same source."""
    cid = header.get("id")
    if not isinstance(cid, int) or isinstance(cid, bool):
        raise ValueError(f"chat `id` {str(cid)[:40]!r} is not a number")
    if cid < 0 or (header.get("type") in CHANNEL_TYPES and cid >= CHANNEL_SHIFT):
        return peer_of(cid)[1]
    return cid


class _SeenIds:
    """Message ids seen in one chat, in a bitmap (ids are dense and below 2**27: at most 16 MB, whatever the
    file size) with a set for the rare larger id."""

    _BITMAP_LIMIT = 1 << 27

    def __init__(self) -> None:
        self._bits = bytearray()
        self._other: set[int] = set()

    def add(self, i: int) -> bool:
        """Mark `i`; False when it was already there."""
        if not 0 <= i < self._BITMAP_LIMIT:
            if i in self._other:
                return False
            self._other.add(i)
            return True
        byte, bit = divmod(i, 8)
        if byte >= len(self._bits):
            self._bits.extend(bytes(max(byte + 1 - len(self._bits), len(self._bits))))
        if self._bits[byte] >> bit & 1:
            return False
        self._bits[byte] |= 1 << bit
        return True


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


_CHAT_PREFIXES = ("", "chats.list.item", "left_chats.list.item")
_MAX_DEPTH = 200  # a message nested deeper is skipped as "nested too deep" (real ones nest 4 levels)


class _NeedsBigInts(Exception):
    """The C parser cannot hold a number in the file (beyond 64 bits): read again with the Python one."""


class _NeedsLenient(Exception):
    """The file is not strict JSON: read again through `_Lenient`."""


def _events(path: Path) -> Iterator[tuple]:
    """The export as a stream of ("chat", header, full), ("message", obj) and ("broken", k, reason) items, read
    with ijson so memory does not grow with the file. The fast C parser is used; when it meets a number
    beyond 64 bits (a poisoned file), reading resumes with ijson's Python parser, and when it meets what strict
    JSON forbids but Python's `json` reads (NaN, Infinity, a raw control character in a string), through
    `_Lenient`; either way after the items already given, so nothing is given twice."""
    import ijson

    given = 0
    backend = ijson.get_backend("python") if _has_surrogate_escapes(path) else ijson
    lenient = False
    while True:
        try:
            for n, item in enumerate(_parse(path, backend, lenient)):
                if n >= given:
                    given += 1
                    yield item
            return
        except _NeedsBigInts:
            if backend is not ijson:
                raise
            backend = ijson.get_backend("python")
        except _NeedsLenient:
            lenient = True


class _Lenient:
    """A binary file read as strict JSON: NaN, Infinity and -Infinity outside strings become null (a missing
    value, so the message that holds one is judged without it), raw control characters inside strings are
    escaped. Used only for a file the strict reading failed on; a string is never cut between two reads."""

    # a string (`q` unset: it goes on in the next block), a non-finite number, a word at the end of the block
    _TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*(?:(?P<q>")|\\?)|-?Infinity|NaN|[A-Za-z-]+\Z', re.S)
    _CONTROL = re.compile(rb"[\x00-\x1f]")

    def __init__(self, raw: Any, chunk: int = 1 << 20) -> None:
        self._raw, self._chunk, self._held, self._eof = raw, chunk, b"", False

    def _fix(self, m: re.Match) -> bytes:
        tok = m.group()
        if tok[:1] == b'"':
            return self._CONTROL.sub(lambda c: b"\\u%04x" % c.group()[0], tok)
        return b"null" if tok in (b"NaN", b"Infinity", b"-Infinity") else tok

    def read(self, size: int = -1) -> bytes:  # noqa: ARG002 - ijson reads blocks; any length will do
        if size == 0:
            return b""
        while not self._eof:
            block = self._raw.read(self._chunk)
            self._eof = not block
            buf, end = self._held + block, None
            if not self._eof:  # hold back what may go on in the next block
                end = next((m.start() for m in self._TOKEN.finditer(buf) if m.end() == len(buf) and not (
                    m.group()[:1] == b'"' and m.group("q"))), None)
            self._held = buf[end:] if end is not None else b""
            out = self._TOKEN.sub(self._fix, buf[:end])
            if out:
                return out
        return b""


_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


def _has_surrogate_escapes(path: Path, chunk: int = 8 << 20) -> bool:
    """Whether the file holds `\\udXXX` escapes (Telegram Desktop writes UTF-8, so only a hand-made or
    poisoned file does): the C parser turns a lone one into "?", the Python parser keeps it for
    `storable` to replace visibly."""
    with open(path, "rb") as f:
        tail = b""
        while block := f.read(chunk):
            if _SURROGATE_ESCAPE.search(tail + block):
                return True
            tail = block[-6:]
    return False


def _parse(path: Path, backend: Any, lenient: bool = False) -> Iterator[tuple]:
    import ijson

    def short(exc: Exception) -> str:
        text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
        if "overflow" in text and backend.backend_name != "python":
            raise _NeedsBigInts(text)
        return text

    with open(path, "rb") as f:
        if f.read(3) != b"\xef\xbb\xbf":  # Telegram Desktop writes no BOM, an editor may have added one
            f.seek(0)
        events = backend.parse(_Lenient(f) if lenient else f, use_float=True)
        header: dict | None = None
        found = False
        counts = dict.fromkeys(_CHAT_PREFIXES, -1)
        chat_prefix = ""
        n = 0
        try:
            for prefix, event, value in events:
                if event == "start_map" and prefix in _CHAT_PREFIXES:
                    header, chat_prefix = {}, prefix
                    counts[prefix] += 1
                elif header is not None and chat_prefix and prefix == f"{chat_prefix}.messages" and \
                        event != "start_array":
                    section = chat_prefix.split(".")[0]
                    raise TelegramExportError(f"{path}: {section}.list[{counts[chat_prefix]}] is not a chat with a "
                                              "`messages` list")
                elif header is not None and event in ("string", "number") and \
                        prefix.rpartition(".")[0] == chat_prefix and prefix.rpartition(".")[2] in ("name", "type", "id"):
                    header[prefix.rpartition(".")[2]] = value
                elif header is not None and event == "start_array" and prefix == (
                        f"{chat_prefix}.messages" if chat_prefix else "messages"):
                    found = True
                    yield ("chat", header, bool(chat_prefix))
                    item, n = prefix + ".item", 0
                    for p, ev, v in events:
                        if p == prefix and ev == "end_array":
                            break
                        if p == item and ev in ("start_map", "start_array"):
                            msg = _build({} if ev == "start_map" else [], events)  # may raise: n counts whole ones
                            n += 1
                            yield ("message", msg)
                        elif p == item:  # a scalar where a message should be
                            n += 1
                            yield ("message", v)
                    else:
                        yield ("broken", n, "not valid JSON (the file ends inside `messages`)")
                        return
                    header = None
        except ijson.JSONError as exc:
            reason = short(exc)
            if not lenient:
                raise _NeedsLenient(reason) from None
            if not found:
                raise TelegramExportError(f"{path}: not valid JSON ({short(exc)})") from None
            yield ("broken", n, f"not valid JSON ({short(exc)})")
            return
    if not found:
        raise TelegramExportError(f"{path}: not a Telegram Desktop JSON export (no `messages` and no `chats.list`)")


def _build(top: dict | list, events: Iterator[tuple]) -> Any:
    """The value whose first container `top` the events have just opened, from the events up to its end (what
    ijson's ObjectBuilder makes, in a third of its time: a message is two dozen events); `_TooDeep` when it nests
    deeper than `_MAX_DEPTH` (its events are read to its end, nothing more is built)."""
    stack: list = []
    cur: Any = top
    key = None
    for _p, ev, v in events:
        if ev == "map_key":
            key = v
        elif ev == "start_map" or ev == "start_array":
            new: Any = {} if ev == "start_map" else []
            if type(cur) is dict:
                cur[key] = new
            else:
                cur.append(new)
            stack.append(cur)
            cur = new
            if len(stack) >= _MAX_DEPTH:  # `new` is at depth _MAX_DEPTH + 1: read on to the message's end
                depth = len(stack) + 1
                for _p2, ev2, _v2 in events:
                    if ev2 == "start_map" or ev2 == "start_array":
                        depth += 1
                    elif ev2 == "end_map" or ev2 == "end_array":
                        depth -= 1
                        if depth == 0:
                            break
                return _TooDeep()
        elif ev == "end_map" or ev == "end_array":
            if not stack:
                return top
            cur = stack.pop()
        elif type(cur) is dict:
            cur[key] = v
        else:
            cur.append(v)
    return top


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
def _chat_ref(header: dict, channel: str | None, username_of: Callable[[int], str | None],
              home_of: Callable[[int], str | None] = lambda _id: None) -> ChannelRef:
    cid = chat_id_of(header)
    if cid > _MAX_ID:
        raise ValueError(f"chat `id` {str(cid)[:40]} is outside 64 bits")
    uname = channel or username_of(cid)
    # a channel already stored (renamed since, or known by id only) keeps its source, unless --channel names one
    key = (None if channel else home_of(cid)) or channel_key(uname, cid)
    return ChannelRef(key=key, channel_id=cid, username=uname, title=header.get("name"))


def _convert(msg: Any, ref: ChannelRef, ps: Pseudonymiser, username_of: Callable[[int], str | None],
             tz: tzinfo = timezone.utc, channel_named: Callable[[str], tuple[int, str | None] | None] = lambda _n: None,
             home_of: Callable[[int], str | None] = lambda _id: None,
             pictures: Callable[[dict], Sequence[PostImage]] | None = None,
             collected_at: datetime | None = None) -> tuple[RawPost | None, list[Link], str]:
    """(post or None, links, kind) where kind is message | service | empty | other. `pictures(msg)`: the read
    pictures of the message, whose text joins the post's (`photos.compose`). `collected_at`: when the import
    started (default: now)."""
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
    date = _date(msg, "date", tz)
    if date is None:
        raise ValueError("has no `date`")
    edited = _date(msg, "edited", tz)
    text, hrefs = message_text(msg.get("text", ""))
    extra: dict[str, Any] = {"channel_id": ref.channel_id}
    pics = pictures(msg) if pictures is not None and ("photo" in msg or "file" in msg) else ()
    if pics:
        from .photos import compose

        text = compose(text, pics)
        extra["images"] = {"count": len(pics), "with_text": sum(1 for p in pics if p.text)}
    media = msg.get("media_type") or next((k for k in ("photo", "file", "sticker_emoji") if k in msg), None)
    if media:
        extra["media"] = "photo" if media == "photo" else str(media)
    links: list[Link] = []
    if "forwarded_from" in msg or "forwarded_from_id" in msg:
        origin: dict[str, Any] = {}
        fpeer = peer_of(msg.get("forwarded_from_id"))
        if fpeer and fpeer[1] > _MAX_ID:  # an id no chat can have: the origin is dropped, the message kept
            fpeer = None
        name = msg.get("forwarded_from")
        if not isinstance(name, str):
            name = None
        named = channel_named(name) if fpeer is None and name else None
        if named is not None:  # no id, but the name is a known channel's title: a link all the same
            fpeer = ("channel", named[0])
            kind = "named_forward"
        if fpeer and fpeer[0] == "channel":
            cid = fpeer[1]
            uname = username_of(cid)
            origin = {"channel": home_of(cid) or channel_key(uname, cid), "channel_id": cid, "username": uname,
                      "title": name}
            links.append(Link(ref.key, mid, origin["channel"], "forward", date, uname, cid, name))
        elif fpeer:
            origin = {"user": ps.handle(f"{fpeer[0]}{fpeer[1]}")}
        elif name:  # a bare name may be a person's: keep only its pseudonym
            origin = {"user": ps.handle(f"name:{name}")}
        extra["forward"] = {k: v for k, v in origin.items() if v is not None}
    text = kinds.merge(text, extra, links, kinds.from_export(msg, ps, ref.hints.country),
                       kinds.export_bot(msg, ref.key, mid, date))
    links += links_for(ref.key, mid, date, [text, *hrefs])
    if not text.strip():
        return None, links, "empty"
    sender = peer_of(msg.get("from_id"))
    if sender is not None:  # the listener's form: user<id> / channel<id>, pseudonymised by the writer
        author = f"{sender[0]}{sender[1]}"
    elif isinstance(msg.get("from"), str) and msg["from"] and msg["from"] != ref.title:
        author = f"name:{msg['from']}"  # no id at all: at least one pseudonym per sender
    else:
        author = f"channel{ref.channel_id}"
    post = RawPost(source=ref.key, external_id=str(mid), text=text, url=ref.url(mid), author=author,
                   posted_at=date, edited_at=edited, collected_at=collected_at or datetime.now(timezone.utc),
                   hints=ref.hints, extra=extra)
    return post, links, kind if kind == "named_forward" else "message"


def import_export(path: Path, writer: PostWriter, write_links: Callable[[list[Link]], int], *,
                  username_of: Callable[[int], str | None] = lambda _id: None, channel: str | None = None,
                  batch_size: int = 5000, progress: Callable[[str], None] | None = None,
                  tz: tzinfo = timezone.utc,
                  channel_named: Callable[[str], tuple[int, str | None] | None] = lambda _n: None,
                  home_of: Callable[[int], str | None] = lambda _id: None,
                  images: ImageReader | None = None,
                  write_images: Callable[[list[ImageRow]], int] | None = None) -> ImportResult:
    """Import one export file. `write_links(links)` commits discovery links; posts go through `writer`.
    `images`: reads the pictures the export wrote beside the file (`photos/`, `files/`); `write_images(rows)`
    commits what is kept of them.

    Raises TelegramExportError naming the chat and the message index of the first malformed message, after
    committing every message before it. `tz`: the zone of local `date`s in exports without `date_unixtime`.
    `channel_named(title)`: (channel id, username) of a known channel with that title, for forwards without ids.
    `home_of(channel id)`: the source key a channel is already stored under (a renamed channel keeps it)."""
    path = Path(path)
    res = ImportResult()
    collected = datetime.now(timezone.utc)  # the file's posts are collected by this import (one date to store)
    posts: list[RawPost] = []
    links: list[Link] = []
    image_rows: list[ImageRow] = []
    pics: list[PostImage] = []
    skipped_before = dict(images.skipped) if images is not None else {}

    def flush() -> None:
        if posts:
            res.write += writer.write(posts, source_kind="export")
        if links:
            res.links += write_links(links)
        if image_rows and write_images is not None:
            write_images(image_rows)
        posts.clear()
        links.clear()
        image_rows.clear()

    def pictures(msg: dict) -> list[PostImage]:
        pics[:] = images.from_export(path.parent, msg, ref.hints.country) if images is not None and ref else []
        return pics

    ci, ref, label, seen, i = -1, None, "", _SeenIds(), 0

    def chat_done() -> None:
        if progress and ref is not None:
            progress(f"{ref.key}: {i} messages")

    for item in _events(path):
        if item[0] == "chat":
            chat_done()
            _tag, header, full = item
            ci += 1
            if channel and ci > 0:
                flush()
                raise TelegramExportError(f"{path}: --channel names one channel, but the export holds more than one chat")
            label = f"chat {ci} ({header.get('name') or header.get('id') or '?'})" if full else \
                f"chat {header.get('name') or header.get('id') or '?'}"
            ref, seen, i = None, _SeenIds(), 0
            if header.get("type") in SKIPPED_CHAT_TYPES:
                res.skipped_chats.append(f"{header.get('name') or header.get('id')} ({header.get('type')})")
                continue
            try:
                ref = _chat_ref(header, channel, username_of, home_of)
            except ValueError as exc:
                flush()
                raise TelegramExportError(f"{path}: {label}: {exc}") from None
            res.chats += 1
            continue
        if item[0] == "broken":
            flush()
            raise TelegramExportError(f"{path}: {label}: message #{item[1]} {item[2]}; the messages before it are stored")
        msg = item[1]
        i += 1
        if ref is None:  # a skipped chat's message
            continue
        k = i - 1
        mid = msg.get("id") if isinstance(msg, dict) else None
        if isinstance(mid, int) and msg.get("type", "message") == "message":
            if not seen.add(mid):  # the first one is kept, whatever the batch size
                res.duplicate_count += 1
                if len(res.duplicates) < 100:
                    res.duplicates.append(f"{label}: message #{k} repeats id {mid}")
                continue
        try:
            if isinstance(msg, _TooDeep):
                raise ValueError("is JSON nested too deep to read")
            pics.clear()
            post, lks, kind = _convert(msg, ref, writer.pseudonymiser, username_of, tz, channel_named, home_of,
                                       pictures if images is not None else None, collected)
        except (ValueError, InvalidPost, RecursionError) as exc:
            mid = str(mid)[:40] if mid is not None else None
            reason = str(exc) or type(exc).__name__
            res.skipped.append(storable(f"{label}: message #{k}" + (f" (id {mid})" if mid is not None else "")
                                        + f" {reason}"))
            continue
        res.messages += 1
        res.service += kind == "service"
        res.empty += kind == "empty"
        res.named_forwards += kind == "named_forward"
        if post is not None:
            posts.append(post)
        if pics:
            from .photos import ImageReader

            res.pictures += len(pics)
            image_rows.extend(ImageReader.rows(ref.key, str(mid), pics, post.posted_at if post else None))
        links.extend(lks)
        if len(posts) >= batch_size:
            flush()
    chat_done()
    flush()
    if images is not None:
        res.pictures_skipped = {k: n - skipped_before.get(k, 0) for k, n in images.skipped.items()
                                if n > skipped_before.get(k, 0)}
    return res


def iter_export_messages(path: Path) -> Iterator[tuple[dict, dict]]:
    """(chat header, message) pairs of a well-formed export, for tools and tests."""
    for chat in _read(Path(path)):
        for m in chat.messages:
            yield chat.header, m
