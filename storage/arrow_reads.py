"""SQLite query results as Arrow tables, read by ADBC's SQLite driver in a child process.

ADBC's driver reads a result as Arrow columns, without a Python object per value: trends over a million offers
take half the time they take through Python's sqlite3. But the driver bundles its own SQLite library, and two
SQLite libraries must never open one database file in one process (SQLite's "How To Corrupt An SQLite Database
File", 2.2.1): POSIX locks belong to the process, so a new connection of the second library takes itself for
the only one and resets the WAL index under the first library's connections (seen here: SIGBUS), and closing it
releases their locks. So the driver runs in a child process of its own (`python -m npswatch.storage.arrow_reads`)
that only reads (`mode=ro`), as any other process reading the database would. One child per process (a forked
process starts its own), started at the first read, shared by threads one read at a time, ended with its parent
(it stops when its input closes).

The protocol over the child's stdin and stdout: the parent writes a length-prefixed JSON request
{"path": ..., "sql": ...}; the child answers a status byte (0: an Arrow IPC stream follows, 1: an error message
follows) and a length-prefixed payload.

`read(path, sql)` returns the Arrow table, or None when the driver cannot be used here (not installed, or the
child failed to start); a query the database refuses raises `ArrowReadError` with SQLite's message.
"""
from __future__ import annotations

import atexit
import json
import os
import struct
import subprocess
import sys
import threading
import urllib.parse

__all__ = ["ArrowReadError", "cpu_seconds", "read"]

_LEN = struct.Struct("<Q")


class ArrowReadError(RuntimeError):
    """The child's SQLite refused the query (its message)."""


class _Child:
    def __init__(self) -> None:
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._proc: subprocess.Popen | None = None
        self._broken = False

    def read(self, path: str, sql: str):
        import pyarrow as pa

        if os.getpid() != self._pid:  # a forked process starts its own reader (the pipes are its parent's)
            self.__init__()
        with self._lock:
            if self._broken:
                return None
            for attempt in (1, 2):
                proc = self._running()
                if proc is None:
                    return None
                try:
                    body = json.dumps({"path": path, "sql": sql}).encode()
                    proc.stdin.write(_LEN.pack(len(body)) + body)
                    proc.stdin.flush()
                    status = _exactly(proc.stdout, 1)
                    payload = _exactly(proc.stdout, _LEN.unpack(_exactly(proc.stdout, _LEN.size))[0])
                except (OSError, EOFError):
                    self._stop()  # the child died (killed, out of memory): once more with a new one
                    if attempt == 2:
                        self._broken = True
                        return None
                    continue
                if status == b"\x01":
                    raise ArrowReadError(payload.decode(errors="replace"))
                return pa.ipc.open_stream(pa.py_buffer(payload)).read_all()
        return None

    def _running(self) -> subprocess.Popen | None:
        if self._proc is not None and self._proc.poll() is None:
            return self._proc
        try:
            self._proc = subprocess.Popen([sys.executable, "-m", "npswatch.storage.arrow_reads"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
            ready = _exactly(self._proc.stdout, 1)
        except (OSError, EOFError):
            self._stop()
            self._broken = True
            return None
        if ready != b"\x00":  # the driver is not installed
            self._stop()
            self._broken = True
            return None
        return self._proc

    def cpu_seconds(self) -> float:
        """CPU seconds the running child has used (Linux; 0 without a child or /proc)."""
        proc = self._proc
        if proc is None or os.getpid() != self._pid:
            return 0.0
        try:
            with open(f"/proc/{proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None and os.getpid() == self._pid:
            try:
                proc.stdin.close()
                proc.wait(timeout=5)
            except Exception:  # noqa: BLE001 - a child that does not stop is killed
                proc.kill()


def _exactly(stream, n: int) -> bytes:
    data = stream.read(n)
    if data is None or len(data) < n:
        raise EOFError("the reader process ended")
    return data


_CHILD = _Child()
atexit.register(_CHILD._stop)


def cpu_seconds() -> float:
    """CPU seconds of the reader process so far (for benchmarks: this process's own time leaves it out)."""
    return _CHILD.cpu_seconds()


def read(path: str, sql: str):
    """The Arrow table of `sql` on the SQLite file `path`, read in the child process; None when unavailable."""
    return _CHILD.read(path, sql)


def _serve() -> None:
    """The child: answer requests until stdin closes."""
    out, inp = sys.stdout.buffer, sys.stdin.buffer
    try:
        import adbc_driver_sqlite.dbapi as dbapi
        import pyarrow as pa
    except ImportError:
        out.write(b"\x01")
        out.flush()
        return
    out.write(b"\x00")
    out.flush()
    while True:
        head = inp.read(_LEN.size)
        if len(head) < _LEN.size:
            return
        req = json.loads(inp.read(_LEN.unpack(head)[0]))
        try:
            uri = "file:" + urllib.parse.quote(req["path"]) + "?mode=ro"
            with dbapi.connect(uri) as conn, conn.cursor() as cur:
                # readers opening a WAL database at the same moment may briefly lock each other out
                cur.execute("PRAGMA busy_timeout = 30000")
                cur.execute(req["sql"])
                table = cur.fetch_arrow_table()
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, table.schema) as writer:
                writer.write_table(table)
            status, payload = b"\x00", sink.getvalue()
        except Exception as exc:  # noqa: BLE001 - every failure goes back to the parent as its message
            status, payload = b"\x01", str(exc).encode()
        out.write(status + _LEN.pack(len(memoryview(payload))))
        out.write(payload)
        out.flush()


if __name__ == "__main__":
    _serve()
