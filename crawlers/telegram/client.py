"""The Telethon client as npswatch uses it: credentials, the session file, entity look-ups and FloodWait.

- `make_client(settings)` checks the credentials (a missing or malformed one raises `CredentialError` saying
  which config key or environment variable to set), creates `<data_dir>/telegram/<session_name>.session`
  with mode 0600 in a 0700 folder *before* Telethon opens it, and builds the client through
  `CLIENT_FACTORY` (the one seam tests and the offline network replace: everything above it is real).
- Clients are built with `flood_sleep_threshold=0`, so every FloodWait comes back to us: `flood_retry`
  logs it, sleeps the given seconds with an injectable `sleep`, and retries.
- `EntityCache` resolves a channel username over the network once: after that from memory, and across
  restarts from the persisted username -> id map (`telegram_entity`) plus the access hash Telethon keeps in
  the session. Repeated `contacts.resolveUsername` calls get accounts limited for hours.
- `redact_secrets()` makes sure the api hash never reaches a log line, whatever logs it.
"""
from __future__ import annotations

import asyncio
import dataclasses
import logging
import os
import re
import sqlite3
from collections.abc import Awaitable, Callable
from contextlib import closing
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from telethon import TelegramClient, errors, types, utils

from npswatch.storage import telegram_store as store

from .convert import ChannelRef, channel_key

log = logging.getLogger("npswatch.telegram")

Sleep = Callable[[float], Awaitable[Any]]

HOW_TO_GET = "get both at https://my.telegram.org (API development tools)"


class CredentialError(RuntimeError):
    """Telegram credentials are missing, malformed or refused; the message says how to fix it."""


class NotLoggedIn(RuntimeError):
    """The session has no authorised account; the message says to run `npswatch telegram login`."""


def credentials(tg: Any) -> tuple[int, str]:
    """(api_id, api_hash) from the `[telegram]` settings, or CredentialError naming the key to set."""
    api_hash = tg.api_hash.get_secret_value().strip()
    missing = []
    if not tg.api_id:
        missing.append("telegram.api_id (config file) or NPSWATCH_TELEGRAM__API_ID")
    if not api_hash:
        missing.append("NPSWATCH_TELEGRAM__API_HASH (environment) or telegram.api_hash")
    if missing:
        raise CredentialError(f"Telegram API credentials missing: set {' and '.join(missing)}; {HOW_TO_GET}")
    if not re.fullmatch(r"[0-9a-fA-F]{32}", api_hash):
        raise CredentialError(
            "telegram api_hash is not the 32-character hex string Telegram issues: check "
            f"NPSWATCH_TELEGRAM__API_HASH or telegram.api_hash; {HOW_TO_GET}")
    return int(tg.api_id), api_hash


def session_path(settings: Any) -> Path:
    folder = settings.data_path / "telegram"
    path = folder / f"{settings.telegram.session_name}.session"
    if path.resolve().parent != folder.resolve():  # load_settings refuses such names; this is the last guard
        raise ValueError(f"telegram.session_name {settings.telegram.session_name!r} leads outside {folder}")
    return path


def prepare_session_file(path: Path) -> Path:
    """Create the session file (and its folder) private to this user before Telethon writes secrets in it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    os.chmod(path.parent, 0o700)
    if not path.exists():
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    os.chmod(path, 0o600)  # SQLite gives its journal files the database file's mode
    return path


def build_client(session: Any, api_id: int, api_hash: str, **kwargs: Any) -> TelegramClient:
    """The network boundary: a real Telethon client. Replaced by `offline.OfflineNetwork.factory` in tests."""
    return TelegramClient(session, api_id, api_hash, **kwargs)


CLIENT_FACTORY: Callable[..., TelegramClient] = build_client


def backfill_session_path(settings: Any) -> Path:
    return session_path(settings).with_name(f"{settings.telegram.session_name}-backfill.session")


def _auth_key(path: Path) -> bytes | None:
    try:
        with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=1)) as db:
            row = db.execute("SELECT auth_key FROM sessions").fetchone()
    except sqlite3.Error:
        return None
    return row[0] if row else None


def prepare_backfill_session(settings: Any) -> Path:
    """The backfill's own session file: a copy of the logged-in session (same account and key, so no second
    login), refreshed whenever the account logs in again. The listener keeps its file to itself, so the two
    never wait on each other's SQLite lock ("database is locked")."""
    main, own = session_path(settings), backfill_session_path(settings)
    prepare_session_file(own)
    key = _auth_key(main) if main.exists() else None
    if key is not None and _auth_key(own) != key:
        with closing(sqlite3.connect(main, timeout=30)) as src, closing(sqlite3.connect(own)) as dst:
            src.backup(dst)
        os.chmod(own, 0o600)
    return own


def make_client(settings: Any, *, role: str = "listener") -> TelegramClient:
    """role "listener" (and login): the session file `<session_name>.session`, live updates on, and Telethon
    retrying a lost connection without limit (`connection_retries=-1`, a log line per attempt; our own loop in
    `TelegramCollector.listen` reconnects if Telethon still gives up). role "backfill": its own copy of the
    session (`prepare_backfill_session`), no live updates, Telethon's default 5 retries (a CLI run should end)."""
    api_id, api_hash = credentials(settings.telegram)
    if role == "backfill":
        path, extra = prepare_backfill_session(settings), {"receive_updates": False}
    else:
        path = prepare_session_file(session_path(settings))
        extra = {"connection_retries": -1, "retry_delay": 5, "auto_reconnect": True}
    redact_secrets(api_hash)
    return CLIENT_FACTORY(
        str(path), api_id, api_hash,
        flood_sleep_threshold=0,  # every FloodWait comes back to flood_retry: logged, waited, resumed
        sequential_updates=True,  # handlers see a channel's new/edit/delete in the order Telegram sent them
        catch_up=False,  # missed updates are recovered by reconciling from checkpoints instead
        device_model="npswatch", app_version="npswatch", **extra,
    )


async def ensure_authorized(client: TelegramClient) -> None:
    if not client.is_connected():
        await client.connect()
    try:
        ok = await client.is_user_authorized()
    except errors.ApiIdInvalidError:
        raise CredentialError(f"Telegram refused api_id/api_hash: check telegram.api_id and NPSWATCH_TELEGRAM__API_HASH; "
                              f"{HOW_TO_GET}") from None
    if not ok:
        raise NotLoggedIn("this Telegram session is not logged in (or was revoked): run `npswatch telegram login`")


# -- logging ---------------------------------------------------------------------------------------------
_SECRETS: set[str] = set()
_BASE_FACTORY = logging.getLogRecordFactory()


def _redacting_factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
    record = _BASE_FACTORY(*args, **kwargs)
    try:
        msg = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed log call is logging's to report, not ours to raise
        msg = str(record.msg) + " " + " ".join(map(str, record.args or ()))
    if any(s in msg for s in _SECRETS):
        for s in _SECRETS:
            msg = msg.replace(s, "**********")
        record.msg, record.args = msg, None
    return record


def redact_secrets(*secrets: str) -> None:
    """From now on, any log record whose message contains one of `secrets` has it masked."""
    _SECRETS.update(s for s in secrets if s and len(s) >= 8)
    if logging.getLogRecordFactory() is not _redacting_factory:
        logging.setLogRecordFactory(_redacting_factory)


# -- FloodWait ---------------------------------------------------------------------------------------------
def forget_flood_wait(client: TelegramClient, exc: errors.FloodWaitError) -> None:
    # Telethon remembers a FloodWait per request type and refuses that request until its own clock passes the
    # deadline; we have just waited it out (with an injectable sleep), so drop its note.
    req = getattr(exc, "request", None)
    if req is not None:
        getattr(client, "_flood_waited_requests", {}).pop(getattr(req, "CONSTRUCTOR_ID", None), None)


async def flood_retry(client: TelegramClient, call: Callable[[], Awaitable[Any]], *, what: str,
                      sleep: Sleep = asyncio.sleep) -> Any:
    """`await call()`, waiting out FloodWaits (logged) and retrying."""
    while True:
        try:
            return await call()
        except errors.FloodWaitError as exc:
            log.warning("FloodWait: Telegram asks to wait %d s before %s; waiting", exc.seconds, what)
            await sleep(exc.seconds)
            forget_flood_wait(client, exc)


# -- channel states -------------------------------------------------------------------------------------------
class ChannelUnavailable(LookupError):
    """A channel that cannot be read (or joined): `.status` is the state recorded for it."""

    def __init__(self, message: str, status: str = "gone") -> None:
        super().__init__(message)
        self.status = status


class ChannelNotFound(ChannelUnavailable):
    pass


# Telegram's answer -> (state, what it means). Joining refusals leave a public channel readable (history, not
# live updates); the others mean nothing can be read until the state changes.
CHANNEL_ERRORS: dict[type, tuple[str, str]] = {
    errors.ChannelsTooMuchError: ("join_refused", "the account is in too many channels (Telegram's ~500 limit)"),
    errors.InviteRequestSentError: ("join_pending", "the channel approves joins; a request was sent"),
    errors.ChannelPrivateError: ("private", "the channel is private or the account was removed from it"),
    errors.ChatForbiddenError: ("private", "the account may not access this chat"),
    errors.UserBannedInChannelError: ("banned", "the account is banned in this channel"),
    errors.ChannelBannedError: ("banned", "the account is banned in this channel"),
    errors.ChannelInvalidError: ("gone", "the channel no longer exists (deleted, or its id is wrong)"),
    errors.ChannelPublicGroupNaError: ("gone", "the channel is no longer available"),
}


def channel_error(exc: BaseException) -> tuple[str, str] | None:
    """(state, explanation) when `exc` is Telegram saying something about one channel; None otherwise."""
    for cls, answer in CHANNEL_ERRORS.items():
        if isinstance(exc, cls):
            return answer
    return None


def unavailable_from(exc: BaseException) -> "ChannelUnavailable":
    """`exc` as the ChannelUnavailable to raise when it says something about the channel; else `exc` itself is
    re-raised (call it inside `except`)."""
    known = channel_error(exc)
    if known is None:
        raise exc
    return ChannelUnavailable(f"{known[1]} ({type(exc).__name__})", known[0])


# -- entities ------------------------------------------------------------------------------------------------
class EntityCache:
    """Channel key -> ChannelRef, resolving each username over the network at most once (per account).

    A join that Telegram refuses (channel limit, join approval) is recorded in `refused` and the channel
    is still returned: its history stays readable by the reconcile. Private, banned and deleted channels raise
    `ChannelUnavailable` with the state to record.
    """

    def __init__(self, client: TelegramClient, engine: Engine, *, sleep: Sleep = asyncio.sleep, join: bool = True):
        self.client = client
        self.engine = engine
        self.sleep = sleep
        self.join = join
        self._refs: dict[str, ChannelRef] = {}
        self._persisted = store.known_entities(engine)
        self.names: dict[int, str] = {cid: u for u, (cid, _t) in self._persisted.items()}
        self.homes: dict[int, str] = store.home_keys(engine)  # channel id -> its source key (renames keep it)
        self.refused: dict[str, tuple[str, str]] = {}  # key -> (state, explanation) of a refused join

    async def channel(self, key: str) -> ChannelRef:
        ref = self._refs.get(key)
        if ref is not None:
            return ref
        ref = await self._offline(key) or await self._resolve(key)
        home = store.home_keys(self.engine).get(ref.channel_id)
        if home is not None and home != ref.key:  # a new name of a channel stored under its old one
            log.warning("@%s is channel %d, stored as @%s: its posts stay in that one source", key, ref.channel_id, home)
            ref = dataclasses.replace(ref, key=home)
        self._refs[key] = ref
        self.homes[ref.channel_id] = ref.key
        if ref.username:
            self.names[ref.channel_id] = ref.username
        return ref

    def forget(self, key: str) -> None:
        self._refs.pop(key, None)

    async def _offline(self, key: str) -> ChannelRef | None:
        """From the persisted map and the session's access hashes, without asking the network."""
        if re.fullmatch(r"c\d+", key):
            cid, title, uname = int(key[1:]), None, None
        elif key in self._persisted:
            (cid, title), uname = self._persisted[key], key
        else:
            return None
        try:
            await self.client.get_input_entity(types.PeerChannel(cid))
        except (ValueError, errors.RPCError):
            if uname is None:
                raise ChannelNotFound(f"channel {key} is not known to this Telegram session; add it by username") from None
            return None
        return ChannelRef(key=key, channel_id=cid, username=uname, title=title)

    async def _resolve(self, key: str) -> ChannelRef:
        try:
            entity = await flood_retry(self.client, lambda: self.client.get_entity(key), what=f"resolving @{key}",
                                       sleep=self.sleep)
        except (ValueError, errors.UsernameInvalidError, errors.UsernameNotOccupiedError) as exc:
            raise ChannelNotFound(f"@{key}: no such public channel or group ({type(exc).__name__})") from None
        except errors.RPCError as exc:
            known = channel_error(exc)
            if known is None:
                raise
            raise ChannelUnavailable(f"@{key}: {known[1]} ({type(exc).__name__})", known[0]) from None
        if isinstance(entity, types.ChannelForbidden):
            raise ChannelUnavailable(f"@{key}: the channel is private or the account is banned from it", "private")
        if not isinstance(entity, types.Channel):
            raise ChannelNotFound(f"@{key} is a {type(entity).__name__.lower()}, not a channel or group")
        if self.join and entity.left:
            # Telegram pushes live updates only for channels the account has joined.
            from telethon.tl.functions.channels import JoinChannelRequest

            try:
                await flood_retry(self.client, lambda: self.client(JoinChannelRequest(entity)),
                                  what=f"joining @{key}", sleep=self.sleep)
                log.info("joined @%s to receive its updates", key)
            except errors.RPCError as exc:
                known = channel_error(exc)
                if known is None:
                    raise
                if known[0] not in ("join_refused", "join_pending"):
                    raise ChannelUnavailable(f"@{key}: {known[1]} ({type(exc).__name__})", known[0]) from None
                self.refused[key] = known
                log.warning("joining @%s refused: %s; its history is still read, live updates are not", key, known[1])
        uname = (entity.username or key).lower()
        if store.adopt_id_source(self.engine, entity.id, uname):
            log.info("@%s: the posts imported from an export as c%d are now this channel's source", uname, entity.id)
        store.remember_entity(self.engine, uname, entity.id, entity.title)
        self._persisted[uname] = (entity.id, entity.title)
        return ChannelRef(key=channel_key(uname), channel_id=entity.id, username=uname, title=entity.title)


def marked_id(channel_id: int) -> int:
    return utils.get_peer_id(types.PeerChannel(channel_id))
