"""An offline Telegram: the network end of a real Telethon client, served from one SQLite file.

Tests, the benchmark and demos use it to run the real npswatch code *and* the real Telethon client
(`TelegramClient`, its `connect()`, `_call()` with FloodWait handling, `get_entity`, `iter_messages`,
the update loop with its message box and event builders) with only the MTProto sender replaced: requests
are answered from the file, updates are pushed into the client's update queue as Telegram would push them.

Because the state lives in a file, another process (a listener started with
`python -m npswatch.cli.offline NETWORK.sqlite -- <npswatch args>`) sees what a test "publishes",
and a listener that is killed misses the live updates published while it is down, exactly like a real
client whose update stream dropped them (`getChannelDifference` answers "nothing new", the lossy case).

    net = OfflineNetwork(tmp_path / "tg.sqlite")
    net.add_channel("synthetic_channel_01", "Synthetic Channel 01")
    net.publish("synthetic_channel_01", "synthetic text")              # stored + pushed live
    net.flood("GetHistoryRequest", seconds=42)                          # next history read gets FLOOD_WAIT_42
    monkeypatch.setattr(client_mod, "CLIENT_FACTORY", net.factory)      # npswatch now talks to it
    net.calls("ResolveUsernameRequest")                                 # what the client asked for
    net.publish_media("synthetic_channel_01", types.MessageMediaContact(...))  # any media, as Telegram sends it
    net.set_views("synthetic_channel_01", 1, views=250, reactions={"👍": 3})   # counters change over time

Answered requests: connection set-up, `users.getUsers(self)`, `updates.getState/getDifference/
getChannelDifference`, `contacts.resolveUsername`, `channels.getChannels`, `channels.joinChannel`,
`messages.getHistory` (offset_id/offset_date/add_offset/limit/min_id/max_id as the server applies them),
`channels.getFullChannel` (subscribers, description, linked group, flags: `set_channel_info`),
`upload.getFile` (pictures posted with `publish_photo`: photos, image documents, albums),
`auth.sendCode` (checks api_id/api_hash) and `auth.signIn` (the code is `login_code`). Anything else
raises an RPC error naming the request. Per-channel trouble as Telegram reports it: `set_state` (private,
banned, gone), `refuse_join` (CHANNELS_TOO_MUCH, INVITE_REQUEST_SENT), `rename`; and `cut_connections`
(drop every client, refuse the next N connection attempts).
"""
from __future__ import annotations

import asyncio
import io
import os
import sqlite3
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from telethon import TelegramClient, errors, types
from telethon.crypto import AuthKey
from telethon.extensions import BinaryReader
from telethon.tl import functions
from telethon.tl.types import auth as tauth, contacts as tcontacts, messages as tmessages, updates as tupdates

__all__ = ["OfflineNetwork", "OfflineSender"]

SELF_USER_ID = 700_000_001
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (k TEXT PRIMARY KEY, v TEXT);
CREATE TABLE IF NOT EXISTS channel (id INTEGER PRIMARY KEY, username TEXT, title TEXT, access_hash INTEGER,
    megagroup INTEGER, participants INTEGER, pts INTEGER DEFAULT 1, joined INTEGER DEFAULT 0, created INTEGER,
    state TEXT DEFAULT 'ok', join_error TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS ix_channel_username ON channel (lower(username));
CREATE TABLE IF NOT EXISTS user (id INTEGER PRIMARY KEY, username TEXT, first_name TEXT, access_hash INTEGER);
CREATE TABLE IF NOT EXISTS message (channel_id INTEGER, id INTEGER, date INTEGER, deleted INTEGER DEFAULT 0,
    data BLOB, PRIMARY KEY (channel_id, id));
CREATE TABLE IF NOT EXISTS update_log (seq INTEGER PRIMARY KEY AUTOINCREMENT, channel_id INTEGER, data BLOB);
CREATE TABLE IF NOT EXISTS flood (request TEXT, seconds INTEGER, remaining INTEGER, skip INTEGER DEFAULT 0);
CREATE TABLE IF NOT EXISTS authorized (key_id TEXT PRIMARY KEY);  -- unsigned 64-bit: too big for INTEGER
CREATE TABLE IF NOT EXISTS call_log (n INTEGER PRIMARY KEY AUTOINCREMENT, request TEXT, detail TEXT, pid INTEGER);
CREATE TABLE IF NOT EXISTS channel_full (id INTEGER PRIMARY KEY, about TEXT DEFAULT '', linked_chat_id INTEGER,
    verified INTEGER DEFAULT 0, scam INTEGER DEFAULT 0, fake INTEGER DEFAULT 0, restricted INTEGER DEFAULT 0);
"""


def _ts(d: datetime | None) -> int:
    return int((d or datetime.now(timezone.utc)).timestamp())


def _image_size(data: bytes) -> tuple[int, int]:
    """Width and height of a picture's bytes (Pillow reads the header only); (0, 0) when it is no picture."""
    try:
        from PIL import Image

        with Image.open(io.BytesIO(data)) as img:
            return img.size
    except Exception:  # noqa: BLE001 - a test may post bytes that are no picture on purpose
        return 0, 0


def _load(blob: bytes) -> Any:
    with BinaryReader(blob) as r:
        return r.tgread_object()


class OfflineNetwork:
    """The state of the offline Telegram, in a SQLite file shared by processes."""

    def __init__(self, path: str | Path, *, api_id: int = 1_000_001, api_hash: str = "0" * 31 + "1",
                 login_code: str = "12345") -> None:
        self.path = Path(path)
        self._db = sqlite3.connect(self.path, timeout=30, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.executescript(_SCHEMA)
            for k, v in (("api_id", str(api_id)), ("api_hash", api_hash), ("login_code", login_code)):
                self._db.execute("INSERT OR IGNORE INTO meta VALUES (?, ?)", (k, v))

    # -- setting the scene ------------------------------------------------------------------------------------
    def _meta(self, k: str) -> str:
        return self._q("SELECT v FROM meta WHERE k = ?", (k,))[0][0]

    def _q(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def add_channel(self, username: str | None, title: str, *, channel_id: int | None = None, megagroup: bool = False,
                    participants: int | None = None, joined: bool = False) -> int:
        with self._lock:
            cid = channel_id or 1_500_000_000 + (self._q("SELECT count(*) FROM channel")[0][0] + 1) * 7919
            self._db.execute("INSERT INTO channel (id, username, title, access_hash, megagroup, participants, pts, joined,"
                             " created) VALUES (?, ?, ?, ?, ?, ?, 1, ?, ?)",
                             (cid, username, title, (cid * 31337) % (2**62), int(megagroup), participants, int(joined),
                              _ts(None)))
        return cid

    def add_user(self, username: str | None, first_name: str) -> int:
        with self._lock:
            uid = 800_000_000 + self._q("SELECT count(*) FROM user")[0][0] + 1
            self._db.execute("INSERT INTO user VALUES (?, ?, ?, ?)", (uid, username, first_name, uid * 7 % 2**62))
        return uid

    def flood(self, request: str, seconds: int, times: int = 1, after: int = 0) -> None:
        """After `after` more calls of `request` (class name, e.g. 'GetHistoryRequest') succeed, the next `times`
        get FLOOD_WAIT_<seconds>."""
        with self._lock:
            self._db.execute("INSERT INTO flood VALUES (?, ?, ?, ?)", (request, seconds, times, after))

    def calls(self, request: str | None = None) -> list[tuple[str, str]]:
        rows = self._q("SELECT request, detail FROM call_log ORDER BY n")
        return [r for r in rows if request is None or r[0] == request]

    def channel_id(self, username: str) -> int:
        return self._q("SELECT id FROM channel WHERE lower(username) = lower(?)", (username,))[0][0]

    def set_state(self, channel: str | int, state: str) -> None:
        """'private' or 'banned' (the account may no longer read it), 'gone' (deleted), or back to 'ok'."""
        cid = channel if isinstance(channel, int) else self.channel_id(channel)
        with self._lock:
            self._db.execute("UPDATE channel SET state = ? WHERE id = ?", (state, cid))

    def refuse_join(self, channel: str | int, error: str | None) -> None:
        """Joining `channel` fails with this RPC error message (e.g. 'CHANNELS_TOO_MUCH', 'INVITE_REQUEST_SENT')."""
        cid = channel if isinstance(channel, int) else self.channel_id(channel)
        with self._lock:
            self._db.execute("UPDATE channel SET join_error = ? WHERE id = ?", (error, cid))

    def rename(self, channel: str | int, username: str | None) -> None:
        cid = channel if isinstance(channel, int) else self.channel_id(channel)
        with self._lock:
            self._db.execute("UPDATE channel SET username = ? WHERE id = ?", (username, cid))

    def set_channel_info(self, channel: str | int, *, participants: int | None = None, title: str | None = None,
                         about: str | None = None, linked_chat: int | None = None, verified: bool | None = None,
                         scam: bool | None = None, fake: bool | None = None, restricted: bool | None = None) -> None:
        """Change what `channels.getFullChannel` (and the channel entity) says; None leaves a field as it is."""
        cid = channel if isinstance(channel, int) else self.channel_id(channel)
        with self._lock:
            self._db.execute("INSERT OR IGNORE INTO channel_full (id) VALUES (?)", (cid,))
            for col, v in (("about", about), ("linked_chat_id", linked_chat), ("verified", verified), ("scam", scam),
                           ("fake", fake), ("restricted", restricted)):
                if v is not None:
                    self._db.execute(f"UPDATE channel_full SET {col} = ? WHERE id = ?", (v, cid))
            for col, v in (("participants", participants), ("title", title)):
                if v is not None:
                    self._db.execute(f"UPDATE channel SET {col} = ? WHERE id = ?", (v, cid))

    def cut_connections(self, outage: int = 0) -> None:
        """Drop every connected client; the next `outage` connection attempts fail (a network outage)."""
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('cuts', ?)", (str(self.cuts() + 1),))
            self._db.execute("INSERT OR REPLACE INTO meta VALUES ('outage', ?)", (str(outage),))

    def cuts(self) -> int:
        rows = self._q("SELECT v FROM meta WHERE k = 'cuts'")
        return int(rows[0][0]) if rows else 0

    def try_connect(self) -> None:
        """Raises ConnectionError while an outage lasts (each call uses up one failed attempt)."""
        with self._lock:
            rows = self._q("SELECT v FROM meta WHERE k = 'outage'")
            left = int(rows[0][0]) if rows else 0
            if left > 0:
                self._db.execute("UPDATE meta SET v = ? WHERE k = 'outage'", (str(left - 1),))
                raise ConnectionError("offline network: connection refused (outage)")

    def _state(self, cid: int) -> str | None:
        rows = self._q("SELECT state FROM channel WHERE id = ?", (cid,))
        return rows[0][0] if rows else None

    @staticmethod
    def _rpc_error(message: str, request: Any, code: int = 400) -> Exception:
        return errors.rpc_message_to_error(types.RpcError(code, message), request)

    # -- entities ------------------------------------------------------------------------------------------------
    def _channel(self, cid: int) -> types.Channel:
        row = self._q("SELECT id, username, title, access_hash, megagroup, participants, joined, created FROM channel "
                      "WHERE id = ?", (cid,))
        if not row:
            raise KeyError(cid)
        cid, username, title, ah, mega, parts, joined, created = row[0]
        flags = self._q("SELECT verified, scam, fake, restricted FROM channel_full WHERE id = ?", (cid,))
        verified, scam, fake, restricted = (bool(f) for f in flags[0]) if flags else (False,) * 4
        return types.Channel(id=cid, title=title, photo=types.ChatPhotoEmpty(),
                             date=datetime.fromtimestamp(created, timezone.utc), username=username, access_hash=ah,
                             broadcast=not mega, megagroup=bool(mega), participants_count=parts, left=not joined,
                             verified=verified, scam=scam, fake=fake, restricted=restricted,
                             restriction_reason=[types.RestrictionReason("all", "porn", "synthetic restriction")]
                             if restricted else None)

    def _user(self, uid: int) -> types.User:
        uid, username, first, ah = self._q("SELECT id, username, first_name, access_hash FROM user WHERE id = ?",
                                           (uid,))[0]
        return types.User(id=uid, username=username, first_name=first, access_hash=ah)

    def _self(self) -> types.User:
        return types.User(id=SELF_USER_ID, is_self=True, first_name="Synthetic Analyst", access_hash=424242)

    def _entities_of(self, msgs: list) -> tuple[list, list]:
        chats, users = set(), set()
        for m in msgs:
            peer = getattr(m, "peer_id", None)
            if isinstance(peer, types.PeerChannel):
                chats.add(peer.channel_id)
            if getattr(m, "via_bot_id", None):
                users.add(m.via_bot_id)
            for p in (getattr(m, "from_id", None), getattr(getattr(m, "fwd_from", None), "from_id", None)):
                if isinstance(p, types.PeerUser):
                    users.add(p.user_id)
                elif isinstance(p, types.PeerChannel):
                    chats.add(p.channel_id)
        ch = []
        for c in sorted(chats):
            try:
                ch.append(self._channel(c))
            except KeyError:
                pass
        us = []
        for u in sorted(users):
            try:
                us.append(self._user(u))
            except IndexError:
                pass
        return ch, us

    # -- publishing ----------------------------------------------------------------------------------------------
    def _push(self, cid: int, update_fn) -> None:
        """Bump the channel's pts and log one live update (built by `update_fn(pts)`)."""
        pts = self._q("SELECT pts FROM channel WHERE id = ?", (cid,))[0][0]
        upd, msgs = update_fn(pts)
        chats, users = self._entities_of(msgs)
        if not any(c.id == cid for c in chats):
            chats.append(self._channel(cid))
        blob = bytes(types.Updates(updates=[upd], users=users, chats=chats, date=datetime.now(timezone.utc), seq=0))
        self._db.execute("UPDATE channel SET pts = ? WHERE id = ?", (upd.pts, cid))
        self._db.execute("INSERT INTO update_log (channel_id, data) VALUES (?, ?)", (cid, blob))

    def publish(self, channel: str | int, text: str = "", *, media: bool = False, from_user: int | None = None,
                fwd_channel: str | int | None = None, fwd_post: int | None = None, fwd_user: int | None = None,
                fwd_name: str | None = None, entities: list | None = None, date: datetime | None = None,
                service: bool = False, live: bool = True) -> types.Message:
        """Post a message in `channel` (stored; and pushed to connected clients unless live=False)."""
        with self._lock:
            cid = channel if isinstance(channel, int) else self.channel_id(channel)
            mid = self._q("SELECT coalesce(max(id), 0) + 1 FROM message WHERE channel_id = ?", (cid,))[0][0]
            date = date or datetime.now(timezone.utc).replace(microsecond=0)
            peer = types.PeerChannel(cid)
            if service:
                msg = types.MessageService(id=mid, peer_id=peer, date=date, action=types.MessageActionPinMessage())
            else:
                fwd = None
                if fwd_channel is not None:
                    fcid = fwd_channel if isinstance(fwd_channel, int) else self.channel_id(fwd_channel)
                    fwd = types.MessageFwdHeader(date=date, from_id=types.PeerChannel(fcid), channel_post=fwd_post)
                elif fwd_user is not None:
                    fwd = types.MessageFwdHeader(date=date, from_id=types.PeerUser(fwd_user))
                elif fwd_name is not None:
                    fwd = types.MessageFwdHeader(date=date, from_name=fwd_name)
                msg = types.Message(
                    id=mid, peer_id=peer, date=date, message=text, post=from_user is None,
                    from_id=types.PeerUser(from_user) if from_user else None, fwd_from=fwd, entities=entities,
                    media=types.MessageMediaPhoto(photo=types.PhotoEmpty(id=mid)) if media else None,
                    views=1, forwards=0)
            self._store(cid, msg, live)
        return msg

    def _store(self, cid: int, msg: Any, live: bool) -> None:
        """Keep a new message (and push it to connected clients when `live`)."""
        self._db.execute("INSERT INTO message VALUES (?, ?, ?, 0, ?)", (cid, msg.id, _ts(msg.date), bytes(msg)))
        if live:
            self._push(cid, lambda pts: (types.UpdateNewChannelMessage(message=msg, pts=pts + 1, pts_count=1), [msg]))

    def publish_many(self, channel: str | int, texts: list[str], *, live: bool = True) -> int:
        """Post plain-text messages in one transaction (for benchmarks); returns the last message id."""
        with self._lock:
            self._db.execute("BEGIN")
            try:
                for t in texts:
                    last = self.publish(channel, t, live=live).id
                self._db.execute("COMMIT")
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
        return last

    def publish_photo(self, channel: str | int, images: bytes | list[bytes], caption: str = "", *,
                      document: bool = False, live: bool = True, date: datetime | None = None) -> list[types.Message]:
        """Post a picture (bytes of a JPEG/PNG file) with a caption, or several as an album (one `grouped_id`,
        the caption on the first part, as Telegram clients send them). `document=True` sends each as an image
        file (`MessageMediaDocument`, mime type from the bytes) instead of a photo. Clients download the bytes
        with `upload.getFile`."""
        parts = [images] if isinstance(images, bytes) else list(images)
        grouped = None
        out = []
        with self._lock:
            self._db.execute("CREATE TABLE IF NOT EXISTS photo (id INTEGER PRIMARY KEY, data BLOB)")
            cid = channel if isinstance(channel, int) else self.channel_id(channel)
            for i, data in enumerate(parts):
                msg = self.publish(cid, caption if i == 0 else "", live=False, date=date)
                fid = self._q("SELECT coalesce(max(id), 5000000) + 1 FROM photo")[0][0]
                self._db.execute("INSERT INTO photo VALUES (?, ?)", (fid, data))
                if len(parts) > 1:
                    grouped = grouped or 9_000_000_000 + fid
                    msg.grouped_id = grouped
                w, h = _image_size(data)
                if document:
                    mime = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
                    msg.media = types.MessageMediaDocument(document=types.Document(
                        id=fid, access_hash=fid * 7, file_reference=b"", date=msg.date, mime_type=mime,
                        size=len(data), dc_id=2, attributes=[types.DocumentAttributeImageSize(w=w, h=h),
                                                             types.DocumentAttributeFilename(f"pricelist{fid}.jpg")]))
                else:
                    msg.media = types.MessageMediaPhoto(photo=types.Photo(
                        id=fid, access_hash=fid * 7, file_reference=b"", date=msg.date, dc_id=2,
                        sizes=[types.PhotoStrippedSize(type="i", bytes=b"\x01\x08\x08" + b"\x00" * 8),
                               types.PhotoSize(type="y", w=w, h=h, size=len(data))]))
                self._db.execute("UPDATE message SET data = ? WHERE channel_id = ? AND id = ?", (bytes(msg), cid, msg.id))
                if live:
                    self._push(cid, lambda pts, m=msg: (types.UpdateNewChannelMessage(message=m, pts=pts + 1, pts_count=1),
                                                        [m]))
                out.append(msg)
        return out

    def _file(self, r: Any) -> Any:
        """upload.getFile: a slice of a stored picture."""
        loc = r.location
        row = self._q("SELECT data FROM photo WHERE id = ?", (getattr(loc, "id", None),))
        if not row or getattr(loc, "access_hash", None) != loc.id * 7:
            raise errors.FileReferenceExpiredError(request=r)
        data = row[0][0]
        return types.upload.File(type=types.storage.FileJpeg(), mtime=0, bytes=data[r.offset:r.offset + r.limit])

    def publish_media(self, channel: str | int, media: Any, text: str = "", *, via_bot: int | None = None,
                      date: datetime | None = None, live: bool = True) -> types.Message:
        """Post a message carrying `media` (a real `types.MessageMedia*`: poll, venue, geo, contact...) and
        optionally sent through the inline bot `via_bot` (a user id from `add_user`)."""
        with self._lock:
            cid = channel if isinstance(channel, int) else self.channel_id(channel)
            mid = self._q("SELECT coalesce(max(id), 0) + 1 FROM message WHERE channel_id = ?", (cid,))[0][0]
            date = date or datetime.now(timezone.utc).replace(microsecond=0)
            msg = types.Message(id=mid, peer_id=types.PeerChannel(cid), date=date, message=text, post=True, media=media,
                                via_bot_id=via_bot, views=1, forwards=0)
            self._store(cid, msg, live)
        return msg

    def set_views(self, channel: str | int, message_id: int, *, views: int | None = None, forwards: int | None = None,
                  replies: int | None = None, reactions: dict[str, int] | None = None) -> types.Message:
        """Change a message's counters as people see, forward, comment on and react to it (history reads show them)."""
        with self._lock:
            cid, msg = self._stored(channel, message_id)
            if views is not None:
                msg.views = views
            if forwards is not None:
                msg.forwards = forwards
            if replies is not None:
                msg.replies = types.MessageReplies(replies=replies, replies_pts=1)
            if reactions is not None:
                msg.reactions = types.MessageReactions(results=[
                    types.ReactionCount(reaction=types.ReactionEmoji(emoticon=e), count=n) for e, n in reactions.items()])
            self._db.execute("UPDATE message SET data = ? WHERE channel_id = ? AND id = ?", (bytes(msg), cid, message_id))
        return msg

    def _stored(self, channel: str | int, message_id: int) -> tuple[int, types.Message]:
        cid = channel if isinstance(channel, int) else self.channel_id(channel)
        return cid, _load(self._q("SELECT data FROM message WHERE channel_id = ? AND id = ?", (cid, message_id))[0][0])

    def edit(self, channel: str | int, message_id: int, text: str, *, live: bool = True) -> types.Message:
        with self._lock:
            cid, msg = self._stored(channel, message_id)
            msg.message = text
            msg.edit_date = datetime.now(timezone.utc).replace(microsecond=0)
            self._db.execute("UPDATE message SET data = ? WHERE channel_id = ? AND id = ?", (bytes(msg), cid, message_id))
            if live:
                self._push(cid, lambda pts: (types.UpdateEditChannelMessage(message=msg, pts=pts + 1, pts_count=1), [msg]))
        return msg

    def delete(self, channel: str | int, message_ids: list[int], *, live: bool = True) -> None:
        with self._lock:
            cid = channel if isinstance(channel, int) else self.channel_id(channel)
            self._db.executemany("UPDATE message SET deleted = 1 WHERE channel_id = ? AND id = ?",
                                 [(cid, i) for i in message_ids])
            if live:
                n = len(message_ids)
                self._push(cid, lambda pts: (types.UpdateDeleteChannelMessages(
                    channel_id=cid, messages=list(message_ids), pts=pts + n, pts_count=n), []))

    # -- serving ---------------------------------------------------------------------------------------------------
    def is_authorized(self, key_id: int | None) -> bool:
        return key_id is not None and bool(self._q("SELECT 1 FROM authorized WHERE key_id = ?", (str(key_id),)))

    def updates_after(self, seq: int) -> list[tuple[int, Any]]:
        rows = self._q("SELECT u.seq, u.data FROM update_log u JOIN channel c ON c.id = u.channel_id "
                       "WHERE u.seq > ? AND c.joined = 1 ORDER BY u.seq", (seq,))
        return [(s, _load(d)) for s, d in rows]

    def last_seq(self) -> int:
        return self._q("SELECT coalesce(max(seq), 0) FROM update_log")[0][0]

    def handle(self, request: Any, key_id: int | None) -> Any:
        name = type(request).__name__
        inner = request
        while isinstance(inner, (functions.InvokeWithLayerRequest, functions.InitConnectionRequest,
                                 functions.InvokeWithoutUpdatesRequest)):
            inner = inner.query
        name = type(inner).__name__
        detail = getattr(inner, "username", None) or ""
        with self._lock:
            self._db.execute("INSERT INTO call_log (request, detail, pid) VALUES (?, ?, ?)", (name, detail, os.getpid()))
            flood = self._q("SELECT rowid, seconds, skip FROM flood WHERE request = ? AND remaining > 0 LIMIT 1", (name,))
            if flood and flood[0][2] > 0:
                self._db.execute("UPDATE flood SET skip = skip - 1 WHERE rowid = ?", (flood[0][0],))
            elif flood:
                self._db.execute("UPDATE flood SET remaining = remaining - 1 WHERE rowid = ?", (flood[0][0],))
                raise errors.FloodWaitError(request=inner, capture=flood[0][1])
        if isinstance(inner, functions.help.GetConfigRequest):
            return None  # connect() ignores the answer
        if isinstance(inner, functions.auth.SendCodeRequest):
            if str(inner.api_id) != self._meta("api_id") or inner.api_hash != self._meta("api_hash"):
                raise errors.ApiIdInvalidError(request=inner)
            return tauth.SentCode(type=tauth.SentCodeTypeApp(length=5), phone_code_hash="offline-hash")
        if isinstance(inner, functions.auth.SignInRequest):
            if inner.phone_code != self._meta("login_code"):
                raise errors.PhoneCodeInvalidError(request=inner)
            with self._lock:
                self._db.execute("INSERT OR IGNORE INTO authorized VALUES (?)", (str(key_id),))
            return tauth.Authorization(user=self._self())
        if not self.is_authorized(key_id):
            raise errors.AuthKeyUnregisteredError(request=inner)
        now = datetime.now(timezone.utc)
        if isinstance(inner, functions.users.GetUsersRequest):
            return [self._self()]
        if isinstance(inner, functions.updates.GetStateRequest):
            return tupdates.State(pts=1, qts=0, date=now, seq=1, unread_count=0)
        if isinstance(inner, functions.updates.GetDifferenceRequest):
            return tupdates.DifferenceEmpty(date=now, seq=1)
        if isinstance(inner, functions.updates.GetChannelDifferenceRequest):
            pts = self._q("SELECT pts FROM channel WHERE id = ?", (inner.channel.channel_id,))
            return tupdates.ChannelDifferenceEmpty(pts=pts[0][0] if pts else 1, final=True)
        if isinstance(inner, functions.contacts.ResolveUsernameRequest):
            row = self._q("SELECT id FROM channel WHERE lower(username) = lower(?)", (inner.username,))
            if not row or self._state(row[0][0]) == "gone":
                raise errors.UsernameNotOccupiedError(request=inner)
            if self._state(row[0][0]) in ("private", "banned"):
                raise errors.ChannelPrivateError(request=inner)
            return tcontacts.ResolvedPeer(peer=types.PeerChannel(row[0][0]), chats=[self._channel(row[0][0])], users=[])
        if isinstance(inner, functions.channels.GetChannelsRequest):
            out = []
            for ic in inner.id:
                try:
                    ch = self._channel(ic.channel_id)
                except KeyError:
                    raise errors.ChannelInvalidError(request=inner) from None
                if ic.access_hash != ch.access_hash or self._state(ch.id) == "gone":
                    raise errors.ChannelInvalidError(request=inner)
                if self._state(ch.id) in ("private", "banned"):
                    ch = types.ChannelForbidden(id=ch.id, access_hash=ch.access_hash, title=ch.title)
                out.append(ch)
            return tmessages.Chats(chats=out)
        if isinstance(inner, functions.channels.GetFullChannelRequest):
            return self._full_channel(inner)
        if isinstance(inner, functions.channels.JoinChannelRequest):
            cid = inner.channel.channel_id
            join_error = self._q("SELECT join_error FROM channel WHERE id = ?", (cid,))
            if join_error and join_error[0][0]:
                raise self._rpc_error(join_error[0][0], inner)
            if self._state(cid) == "banned":
                raise errors.UserBannedInChannelError(request=inner)
            with self._lock:
                self._db.execute("UPDATE channel SET joined = 1 WHERE id = ?", (inner.channel.channel_id,))
            return types.Updates(updates=[], users=[], chats=[self._channel(inner.channel.channel_id)], date=now, seq=0)
        if isinstance(inner, functions.messages.GetHistoryRequest):
            return self._history(inner)
        if isinstance(inner, functions.upload.GetFileRequest):
            return self._file(inner)
        raise errors.RPCError(request=inner, message=f"OFFLINE_UNSUPPORTED_{name}", code=400)

    def _readable(self, peer: Any, r: Any) -> tuple[int, int]:
        """(channel id, pts) of the channel `peer` names, or the RPC error Telegram gives for it."""
        cid = getattr(peer, "channel_id", None)
        ch = self._q("SELECT access_hash, pts FROM channel WHERE id = ?", (cid,))
        if not ch or ch[0][0] != peer.access_hash or self._state(cid) == "gone":
            raise errors.ChannelInvalidError(request=r)
        if self._state(cid) in ("private", "banned"):
            raise errors.ChannelPrivateError(request=r)
        return cid, ch[0][1]

    def _full_channel(self, r: Any) -> Any:
        cid, pts = self._readable(r.channel, r)
        entity = self._channel(cid)
        full = self._q("SELECT about, linked_chat_id FROM channel_full WHERE id = ?", (cid,))
        about, linked = full[0] if full else ("", None)
        chats = [entity]
        if linked:
            try:
                chats.append(self._channel(linked))
            except KeyError:
                pass
        return tmessages.ChatFull(
            full_chat=types.ChannelFull(
                id=cid, about=about or "", read_inbox_max_id=0, read_outbox_max_id=0, unread_count=0,
                chat_photo=types.PhotoEmpty(id=0), notify_settings=types.PeerNotifySettings(), bot_info=[], pts=pts,
                participants_count=entity.participants_count, linked_chat_id=linked),
            chats=chats, users=[])

    def _history(self, r: Any) -> Any:
        """messages.getHistory as the server applies it: newest first; `offset_id` (else `offset_date`) picks the
        first message older than it, `add_offset` shifts that position (negative: towards newer), then `limit`
        messages are taken and `min_id`/`max_id` (exclusive) filter them."""
        cid, pts = self._readable(r.peer, r)
        rows = self._q("SELECT id, date FROM message WHERE channel_id = ? AND deleted = 0 ORDER BY id DESC", (cid,))
        if r.offset_id:
            pos = next((i for i, (mid, _) in enumerate(rows) if mid < r.offset_id), len(rows))
        elif r.offset_date:
            od = _ts(r.offset_date)
            pos = next((i for i, (_, d) in enumerate(rows) if d < od), len(rows))
        else:
            pos = 0
        start = pos + (r.add_offset or 0)
        end = start + r.limit
        picked = [mid for mid, _ in rows[max(0, start):max(0, end)]
                  if (not r.min_id or mid > r.min_id) and (not r.max_id or mid < r.max_id)]
        msgs = []
        if picked:
            marks = ",".join("?" * len(picked))
            blobs = dict(self._q(f"SELECT id, data FROM message WHERE channel_id = ? AND id IN ({marks})",
                                 (cid, *picked)))
            msgs = [_load(blobs[i]) for i in picked]
        chats, users = self._entities_of(msgs)
        if not any(c.id == cid for c in chats):
            chats.append(self._channel(cid))
        return tmessages.ChannelMessages(pts=pts, count=len(rows), messages=msgs, topics=[], chats=chats,
                                         users=users)

    # -- clients ---------------------------------------------------------------------------------------------------
    def factory(self, session: Any, api_id: int, api_hash: str, **kwargs: Any) -> TelegramClient:
        """Same signature as `client.build_client`: a real TelegramClient whose sender talks to this network."""
        client = TelegramClient(session, api_id, api_hash, **kwargs)
        client._sender = OfflineSender(self, client.session.auth_key, client._updates_queue)
        return client


class OfflineSender:
    """Stands in for Telethon's MTProtoSender: `send()` answers from the network, updates go to the queue."""

    poll_interval = 0.01

    def __init__(self, network: OfflineNetwork, auth_key: AuthKey | None, updates_queue: asyncio.Queue) -> None:
        self.network = network
        self.auth_key = auth_key if auth_key is not None else AuthKey(None)
        self._queue = updates_queue
        self._connected = False
        self._poll: asyncio.Task | None = None
        self._disconnected: asyncio.Future | None = None

    async def connect(self, connection: Any) -> bool:
        if self._connected:
            return False
        self.network.try_connect()
        if self.auth_key.key is None:  # a fresh session: the key exchange would create one
            self.auth_key.key = os.urandom(256)
        self._connected = True
        loop = asyncio.get_running_loop()
        self._disconnected = loop.create_future()
        # Live updates start now: what was published while no client was connected is not pushed again.
        self._cuts = self.network.cuts()
        self._poll = loop.create_task(self._poll_updates(self.network.last_seq()))
        return True

    def is_connected(self) -> bool:
        return self._connected

    def _transport_connected(self) -> bool:
        return self._connected

    def _keepalive_ping(self, rnd_id: int) -> None:
        pass

    @property
    def disconnected(self) -> asyncio.Future:
        if self._disconnected is None:
            self._disconnected = asyncio.get_running_loop().create_future()
        return asyncio.shield(self._disconnected)

    async def disconnect(self) -> None:
        self._connected = False
        if self._poll is not None:
            self._poll.cancel()
            try:
                await self._poll
            except (asyncio.CancelledError, Exception):  # noqa: BLE001
                pass
            self._poll = None
        if self._disconnected is not None and not self._disconnected.done():
            self._disconnected.set_result(None)

    def send(self, request: Any, ordered: bool = False) -> asyncio.Future:
        fut = asyncio.get_running_loop().create_future()
        if not self._connected:
            fut.set_exception(ConnectionError("offline sender is not connected"))
            return fut
        try:
            fut.set_result(self.network.handle(request, self.auth_key.key_id if self.auth_key.key else None))
        except Exception as exc:  # noqa: BLE001 - RPC errors travel back through the future, as on the wire
            fut.set_exception(exc)
        return fut

    async def _poll_updates(self, seq: int) -> None:
        while self._connected:
            if self.network.cuts() != self._cuts:  # the network dropped us, as a server or a router would
                self._connected = False
                if self._disconnected is not None and not self._disconnected.done():
                    self._disconnected.set_result(None)
                return
            for n, upd in self.network.updates_after(seq):
                self._queue.put_nowait(upd)
                seq = n
            await asyncio.sleep(self.poll_interval)
