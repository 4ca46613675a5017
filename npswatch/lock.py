"""Named locks shared by every process that uses one database: one scheduler per database, one run of a
job at a time (the scheduler's run and a `npswatch jobs run` of the same job exclude each other).

- PostgreSQL: a session advisory lock (``pg_try_advisory_lock(npswatch, crc32(schema + name))``) held on a
  dedicated AUTOCOMMIT connection, so no transaction stays open for months. The server releases it when
  the holder's connection ends, including after kill -9 or a lost machine. The holder names itself in
  ``application_name``, so `holder()` reads who it is from ``pg_locks`` without taking the lock. The key
  includes the schema: two npswatch databases in separate schemas of one PostgreSQL database do not clash.
- SQLite: ``fcntl.flock`` on a file in a folder next to the database (``npswatch.db.locks/``); the kernel
  drops the lock when the holder dies. The file holds the holder's pid, host and start time.

A lock taken by this process is not inherited by its children (descriptors are close-on-exec), so a job's
child process that outlives a killed scheduler does not keep the scheduler lock.

>>> import tempfile
>>> from sqlalchemy import create_engine
>>> engine = create_engine(f"sqlite:///{tempfile.mkdtemp()}/x.db")
>>> first, second = DatabaseLock(engine, "scheduler"), DatabaseLock(engine, "scheduler")
>>> first.acquire(), second.acquire()
(True, False)
>>> "pid" in second.holder()
True
>>> first.release(); second.acquire()
True
"""
from __future__ import annotations

import json
import os
import re
import socket
import time
import zlib
from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Engine, text

__all__ = ["DatabaseLock", "LockError"]

# First half of every npswatch advisory lock key: "npsw" in ASCII, so other applications' locks never clash.
_PG_CLASS = 0x6E707377


class LockError(RuntimeError):
    pass


def slug(name: str) -> str:
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._")[:60] or "lock"
    return f"{safe}-{zlib.crc32(name.encode()):08x}"


def _me(name: str) -> dict:
    return {"lock": name, "pid": os.getpid(), "host": socket.gethostname(),
            "since": datetime.now(timezone.utc).isoformat(timespec="seconds")}


class DatabaseLock:
    """A named, non-reentrant lock tied to a database; `acquire(timeout)` never blocks longer than timeout."""

    def __init__(self, engine: Engine, name: str) -> None:
        self.engine = engine
        self.name = name
        self.backend = engine.url.get_backend_name()
        self._fd: int | None = None
        self._conn = None
        self._key: tuple[int, int] | None = None
        if self.backend == "sqlite":
            db = engine.url.database
            if not db or db == ":memory:":
                raise LockError("an in-memory SQLite database cannot be shared between processes: use a file")
            self.path: Path | None = Path(db).expanduser().resolve().parent / f"{Path(db).name}.locks" / f"{slug(name)}.lock"
        elif self.backend == "postgresql":
            self.path = None
        else:
            raise LockError(f"no lock for {self.backend} databases (npswatch supports SQLite and PostgreSQL)")

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def acquire(self, timeout: float = 0.0) -> bool:
        """Take the lock; retry until `timeout` seconds have passed. True if it is now ours."""
        if self.held:
            raise LockError(f"lock {self.name!r} is already held by this object")
        deadline = time.monotonic() + timeout
        while True:
            if self._try():
                return True
            if time.monotonic() >= deadline:
                return False
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))

    def release(self) -> None:
        if self._fd is not None:
            import fcntl

            try:
                os.ftruncate(self._fd, 0)
                fcntl.flock(self._fd, fcntl.LOCK_UN)
            finally:
                os.close(self._fd)
                self._fd = None
        if self._conn is not None:
            try:
                self._conn.execute(text("SELECT pg_advisory_unlock(:a, :b)"), {"a": _PG_CLASS, "b": self._pg_key()[1]})
            except Exception:  # noqa: BLE001 - a dead connection has released it already
                pass
            finally:
                try:
                    self._conn.close()
                except Exception:  # noqa: BLE001
                    pass
                self._conn = None

    def alive(self) -> bool:
        """Whether the lock is still ours (a PostgreSQL connection can drop; the server then releases it)."""
        if self._fd is not None:
            return True
        if self._conn is None:
            return False
        try:
            n = self._conn.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
                "AND classid::int8 = :a AND objid::int8 = :b AND objsubid = 2 AND granted"),
                {"a": _PG_CLASS, "b": self._pg_key()[1]}).scalar()
            return bool(n)
        except Exception:  # noqa: BLE001 - connection lost
            return False

    def holder(self) -> str | None:
        """Who holds the lock (pid, host, since), or None if nobody does. Never takes it on PostgreSQL."""
        if self.backend == "postgresql":
            with self.engine.connect() as conn:
                row = conn.execute(text(
                    "SELECT a.application_name, a.pid, a.client_addr, a.backend_start FROM pg_locks l "
                    "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                    "AND l.classid::int8 = :a AND l.objid::int8 = :b AND l.objsubid = 2"),
                    {"a": _PG_CLASS, "b": self._pg_key(conn)[1]}).first()
            if row is None:
                return None
            since = f" since {row.backend_start:%Y-%m-%d %H:%M:%S %Z}" if row.backend_start else ""
            return (row.application_name or f"PostgreSQL backend pid {row.pid}") + since + (
                f" (connected from {row.client_addr})" if row.client_addr else "")
        import fcntl

        assert self.path is not None
        if self._fd is not None:
            return self._describe(self.path.read_text(encoding="utf-8", errors="replace"))
        try:
            fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return self._describe(os.pread(fd, 4096, 0).decode("utf-8", "replace"))
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    # -- internals --------------------------------------------------------------------------------------
    @staticmethod
    def _describe(content: str) -> str:
        try:
            info = json.loads(content)
            return f"pid {info['pid']} on {info['host']} since {info['since']}"
        except (ValueError, KeyError, TypeError):
            return "another process"

    def _pg_key(self, conn=None) -> tuple[int, int]:
        if self._key is None:
            if conn is None:
                with self.engine.connect() as c:
                    schema = c.execute(text("SELECT current_schema()")).scalar()
            else:
                schema = conn.execute(text("SELECT current_schema()")).scalar()
            self._key = (_PG_CLASS, zlib.crc32(f"{schema}\0{self.name}".encode()) & 0x7FFFFFFF)
        return self._key

    def _try(self) -> bool:
        if self.backend == "sqlite":
            return self._try_file()
        return self._try_pg()

    def _try_file(self) -> bool:
        import fcntl

        assert self.path is not None
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(_me(self.name)).encode(), 0)
        self._fd = fd
        return True

    def _try_pg(self) -> bool:
        conn = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        try:
            key = self._pg_key(conn)
            got = conn.execute(text("SELECT pg_try_advisory_lock(:a, :b)"), {"a": key[0], "b": key[1]}).scalar()
            if got:
                me = _me(self.name)  # application_name holds at most 63 bytes
                conn.execute(text("SELECT set_config('application_name', :n, false)"),
                             {"n": f"npswatch {self.name} pid {me['pid']} on {me['host']}"[:63]})
                self._conn = conn
                return True
        except BaseException:
            conn.close()
            raise
        conn.close()
        return False
