"""SQLite reads as Arrow in a child process (storage/arrow_reads.py): the same columns as Python's sqlite3 gives,
SQLite's refusal as an error, a reader that dies replaced, and never a second SQLite library in this process."""
from __future__ import annotations

import importlib.util
import os
import signal
import sqlite3
import sys

import numpy as np
import pytest

if importlib.util.find_spec("adbc_driver_sqlite") is None:  # found, not imported: this process must never load it
    pytest.skip("adbc-driver-sqlite is not installed", allow_module_level=True)

from npswatch.reports import trends as tr  # noqa: E402
from npswatch.storage import arrow_reads  # noqa: E402
from npswatch.storage.db import make_engine  # noqa: E402


@pytest.fixture
def eng(tmp_path):
    path = tmp_path / "reads.db"
    c = sqlite3.connect(path)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("CREATE TABLE t (id INTEGER, price REAL, unit TEXT, blob BLOB)")
    c.executemany("INSERT INTO t VALUES (?, ?, ?, ?)",
                  [(i, i / 3, ("g", "ml", "piece")[i % 3], np.arange(i % 5, dtype=np.float64).tobytes())
                   for i in range(2000)])
    c.commit()
    c.close()
    e = make_engine(f"sqlite:///{path}")
    yield e
    e.dispose()


def _same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        x, y = a[k], b[k]
        if isinstance(x, tr.Coded):
            assert [x.values[i] for i in x.codes] == [y.values[i] for i in y.codes]
        elif isinstance(x, tr.Blobs):
            assert bytes(x.data) == bytes(y.data) and x.offsets.tolist() == y.offsets.tolist()
        else:
            assert x.tolist() == y.tolist()


def test_the_child_reads_what_sqlite3_reads_and_this_process_loads_no_second_sqlite(eng):
    sql = "SELECT id, price, unit, blob FROM t WHERE id % 7 <> 3"
    child, stdlib = tr.read_columns(eng, sql), tr.read_columns(eng, sql, arrow=False)
    _same(child, stdlib)
    assert len(child["id"]) == 2000 - 286
    assert arrow_reads.cpu_seconds() > 0  # it ran in the child
    assert "adbc_driver_sqlite" not in sys.modules


def test_a_refused_query_is_sqlites_error_and_the_reader_goes_on(eng):
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        tr.read_columns(eng, "SELECT * FROM nowhere")
    assert len(tr.read_columns(eng, "SELECT id FROM t")["id"]) == 2000


def test_a_reader_that_dies_is_replaced(eng):
    tr.read_columns(eng, "SELECT id FROM t")
    proc = arrow_reads._CHILD._proc
    assert proc is not None
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert len(tr.read_columns(eng, "SELECT id FROM t")["id"]) == 2000
    assert arrow_reads._CHILD._proc is not None and arrow_reads._CHILD._proc.pid != proc.pid


def test_reads_beside_this_processs_own_write_transaction(eng):
    """The crash the child exists for: a write transaction of this process open (its WAL index mapped), reads of
    the same file (before, through a second SQLite library in this process: reset WAL index, SIGBUS)."""
    with eng.begin() as c:
        c.exec_driver_sql("INSERT INTO t SELECT id + 2000, price, unit, blob FROM t")
        for _ in range(3):
            assert len(tr.read_columns(eng, "SELECT id FROM t")["id"]) == 2000  # the committed rows
    assert len(tr.read_columns(eng, "SELECT id FROM t")["id"]) == 4000


def test_a_forked_process_reads_through_its_own_reader(eng):
    tr.read_columns(eng, "SELECT id FROM t")
    parent_reader = arrow_reads._CHILD._proc.pid
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # the forked process: its own reader, the parent's left alone
        try:
            n = len(tr.read_columns(eng, "SELECT id FROM t")["id"])
            os.write(w, f"{n} {arrow_reads._CHILD._proc.pid}".encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    n, reader = os.read(r, 100).decode().split()
    assert int(n) == 2000 and int(reader) != parent_reader
    assert arrow_reads._CHILD._proc.pid == parent_reader
    assert len(tr.read_columns(eng, "SELECT id FROM t")["id"]) == 2000  # the parent's reader still answers
