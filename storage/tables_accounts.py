"""Tables of the analysts' web app: accounts, their sessions, the audit log, and the triage state of signals.

`web_user` holds an account (argon2 hash, role viewer | analyst | admin). `web_session` holds a logged-in browser:
only the SHA-256 of its cookie token is stored, with the session's CSRF token, so logging out or disabling an
account ends its sessions at once. `audit_log` records every change made through the application layer (who,
when, what, on which object). `signal_review` is a signal's current triage status and note, with who set it
and when; the history of every change is in `audit_log`.
"""
from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Column, DateTime, Index, Text
from sqlmodel import Field, SQLModel


def _ts(index: bool = False):
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=index))


class WebUser(SQLModel, table=True):
    __tablename__ = "web_user"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True, max_length=64)
    password_hash: str = Field(max_length=255)
    role: str = Field(max_length=10)  # viewer | analyst | admin
    language: str = Field(default="en", max_length=5)  # en | ru
    timezone: str = Field(default="UTC", max_length=64)  # IANA name: the dates the app shows
    active: bool = True
    created_at: datetime | None = _ts()


class WebSession(SQLModel, table=True):
    __tablename__ = "web_session"
    id: int | None = Field(default=None, primary_key=True)
    token_hash: str = Field(unique=True, max_length=64)  # sha256 hex of the cookie's token
    user_id: int = Field(foreign_key="web_user.id", index=True)
    csrf: str = Field(max_length=64)
    created_at: datetime | None = _ts()
    expires_at: datetime | None = _ts()


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_target", "target_kind", "target_id"),)
    id: int | None = Field(default=None, primary_key=True)
    at: datetime | None = _ts(index=True)
    actor: str = Field(max_length=64)  # the account's name (or "cli:<name>" for changes made from the CLI)
    action: str = Field(max_length=40)  # signal.status, candidate.confirm, user.add, login, ...
    target_kind: str | None = Field(default=None, max_length=20)
    target_id: str | None = Field(default=None, max_length=200)
    detail: dict | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class SignalReview(SQLModel, table=True):
    __tablename__ = "signal_review"
    signal_id: int = Field(primary_key=True, foreign_key="signal.id")
    status: str = Field(max_length=10, index=True)  # new | reviewed | escalated | dismissed
    note: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    reviewed_by: str = Field(max_length=64)
    reviewed_at: datetime | None = _ts()
