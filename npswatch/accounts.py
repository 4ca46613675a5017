"""Accounts of the analysts' web app and the audit log: who may do what, and a record of every change.

Roles, each including the one before: `viewer` reads; `analyst` also triages signals and reviews candidates;
`admin` also manages accounts. Passwords are stored as argon2id hashes (argon2-cffi's defaults, RFC 9106).
A browser session is a random token in a cookie; only its SHA-256 is stored (`web_session`), with the session's
CSRF token, so a stolen database holds no usable session. `audit()` writes one `audit_log` row in the caller's
transaction, so a change and its record are stored together or not at all (`record()`, in a transaction of
its own, follows a change a lower layer commits itself: a candidate's review).
"""
from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from functools import lru_cache
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING

from sqlalchemy import delete, func, insert, select, update

from npswatch.storage.tables import T_AUDIT, T_SESSION, T_USER

from .errors import WatchError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from .watch import Watch

__all__ = ["ROLES", "Account", "AuditRow", "add_user", "authenticate", "open_session", "session_account",
           "close_session", "audit", "record", "audit_log", "require", "MIN_PASSWORD"]

ROLES = ("viewer", "analyst", "admin")
MIN_PASSWORD = 10
SESSION_DAYS = 7
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


@dataclass(frozen=True)
class Account:
    id: int
    name: str
    role: str
    language: str = "en"
    timezone: str = "UTC"
    csrf: str = ""  # the session's CSRF token, when the account comes from a session

    def can(self, role: str) -> bool:
        """Has this account at least `role`'s rights?"""
        return ROLES.index(self.role) >= ROLES.index(role)


@dataclass(frozen=True)
class AuditRow:
    at: datetime
    actor: str
    action: str
    target_kind: str | None
    target_id: str | None
    detail: dict | None


def require(account: "Account | None", role: str) -> str:
    """The actor name to audit, if `account` may act as `role`; None is the operator at the shell (the CLI)."""
    if account is None:
        return "cli"
    if not account.can(role):
        raise WatchError(f"{account.name} is a {account.role}: this needs the {role} role", code=3)
    return account.name


def _hasher():
    try:
        from argon2 import PasswordHasher
    except ImportError:
        raise WatchError("accounts need argon2-cffi: pip install 'npswatch[web]'") from None

    return PasswordHasher()


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(conn: "Connection", actor: str, action: str, target_kind: str | None = None,
          target_id: object = None, detail: dict | None = None) -> None:
    conn.execute(insert(T_AUDIT).values(at=_now(), actor=actor, action=action, target_kind=target_kind,
                                        target_id=None if target_id is None else str(target_id)[:200],
                                        detail=detail))


def record(watch: "Watch", actor: str, action: str, target_kind: str | None = None, target_id: object = None,
           detail: dict | None = None) -> None:
    """An audit row in a transaction of its own (for a change a lower layer made in its own transaction)."""
    with watch.checked_engine().begin() as c:
        audit(c, actor, action, target_kind, target_id, detail)


def add_user(watch: "Watch", name: str, password: str, role: str = "viewer", *, by: Account | None = None,
             language: str = "en", timezone: str = "UTC") -> Account:
    """Create an account (or, for an existing name, set its password and role: the admin's reset)."""
    actor = require(by, "admin")
    if not _NAME.match(name or ""):
        raise WatchError("a user name is 1-64 letters, digits or . _ @ -")
    if role not in ROLES:
        raise WatchError(f"--role must be one of {', '.join(ROLES)}, not {role!r}")
    if len(password or "") < MIN_PASSWORD:
        raise WatchError(f"the password needs at least {MIN_PASSWORD} characters")
    if language not in ("en", "ru"):
        raise WatchError("--language must be en or ru")
    try:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):
        raise WatchError(f"--timezone {timezone!r} is no IANA time zone (e.g. Asia/Almaty, UTC)") from None
    hashed = _hasher().hash(password)
    U = T_USER
    with watch.checked_engine().begin() as c:
        uid = c.execute(select(U.c.id).where(U.c.name == name)).scalar()
        if uid is None:
            uid = c.execute(insert(U).values(name=name, password_hash=hashed, role=role, language=language,
                                             timezone=timezone, active=True, created_at=_now())
                            .returning(U.c.id)).scalar_one()
            audit(c, actor, "user.add", "user", name, {"role": role})
        else:
            c.execute(update(U).where(U.c.id == uid).values(password_hash=hashed, role=role, language=language,
                                                            timezone=timezone, active=True))
            c.execute(delete(T_SESSION).where(T_SESSION.c.user_id == uid))
            audit(c, actor, "user.reset", "user", name, {"role": role})
    return Account(uid, name, role, language, timezone)


def authenticate(watch: "Watch", name: str, password: str) -> Account | None:
    """The account if the name and password match an active account, else None (the same work either way)."""
    from argon2.exceptions import VerificationError

    U = T_USER
    with watch.checked_engine().connect() as c:
        row = c.execute(select(U.c.id, U.c.name, U.c.role, U.c.language, U.c.timezone, U.c.password_hash)
                        .where(U.c.name == name, U.c.active.is_(True))).first()
    ph = _hasher()
    if row is None:
        try:  # spend the time a real check takes, so the answer's delay does not tell which names exist
            ph.verify(_dummy_hash(), password or "")
        except VerificationError:
            pass
        return None
    try:
        ph.verify(row.password_hash, password or "")
    except VerificationError:
        return None
    return Account(row.id, row.name, row.role, row.language, row.timezone)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher().hash(secrets.token_hex(16))


def open_session(watch: "Watch", account: Account) -> tuple[str, str]:
    """Log `account` in: (the cookie token, the session's CSRF token). Expired sessions are removed."""
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    now = _now()
    with watch.checked_engine().begin() as c:
        c.execute(delete(T_SESSION).where(T_SESSION.c.expires_at < now))
        c.execute(insert(T_SESSION).values(token_hash=_digest(token), user_id=account.id, csrf=csrf, created_at=now,
                                           expires_at=now + timedelta(days=SESSION_DAYS)))
        audit(c, account.name, "login", "user", account.name)
    return token, csrf


def session_account(watch: "Watch", token: str | None) -> Account | None:
    """The account of a session cookie's token, if the session is open and the account active."""
    if not token:
        return None
    S, U = T_SESSION, T_USER
    with watch.checked_engine().connect() as c:
        row = c.execute(select(U.c.id, U.c.name, U.c.role, U.c.language, U.c.timezone, S.c.csrf, S.c.expires_at)
                        .select_from(S.join(U, U.c.id == S.c.user_id))
                        .where(S.c.token_hash == _digest(token), U.c.active.is_(True))).first()
    if row is None:
        return None
    from npswatch.reports.scope import as_datetime

    if as_datetime(row.expires_at) < _now():
        return None
    return Account(row.id, row.name, row.role, row.language, row.timezone, row.csrf)


def close_session(watch: "Watch", token: str | None) -> None:
    if not token:
        return
    with watch.checked_engine().begin() as c:
        c.execute(delete(T_SESSION).where(T_SESSION.c.token_hash == _digest(token)))


def audit_log(watch: "Watch", limit: int = 200, *, by: Account | None = None) -> list[AuditRow]:
    """The newest changes first (admins only, from the web app)."""
    require(by, "admin")
    A = T_AUDIT
    from npswatch.reports.scope import as_datetime

    with watch.checked_engine().connect() as c:
        rows = c.execute(select(A.c.at, A.c.actor, A.c.action, A.c.target_kind, A.c.target_id, A.c.detail)
                         .order_by(A.c.at.desc(), A.c.id.desc()).limit(limit)).all()
    return [AuditRow(as_datetime(r.at), *r[1:]) for r in rows]


def count_users(watch: "Watch") -> int:
    with watch.checked_engine().connect() as c:
        return c.execute(select(func.count()).select_from(T_USER)).scalar_one()
