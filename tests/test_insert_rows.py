"""`insert_rows` (the bulk insert of posts and facts) stores on SQLite exactly what SQLAlchemy Core's insert stores,
over more rows than one multi-row statement holds."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table, create_engine, insert, select

from npswatch.storage.sqlupsert import insert_rows

_md = MetaData()
_T = Table("t", _md, Column("id", Integer, primary_key=True), Column("k", String(20), unique=True),
           Column("price", Float), Column("at", DateTime), Column("extra", JSON))
_COLS = [_T.c.k, _T.c.price, _T.c.at, _T.c.extra]


def _rows(n: int, tag: str) -> list[dict]:
    t0 = datetime(2024, 3, 1, 12, 0, tzinfo=timezone.utc)
    plus5 = timezone(timedelta(hours=5))
    return [{"k": f"{tag}{i}", "price": [None, 1.5, 2][i % 3],
             # equal instants in two zones are written differently: both kinds in one batch
             "at": None if i % 7 == 0 else (t0 + timedelta(minutes=i // 3)).astimezone(plus5 if i % 2 else timezone.utc),
             "extra": {"i": i, "handle": "u_abcdefghij"} if i % 5 else None} for i in range(n)]


def test_many_rows_store_what_core_stores(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _md.create_all(engine)
    n = 7_000  # about three statements of 4 columns' worth of parameters
    with engine.begin() as conn:
        insert_rows(conn, _T, _rows(n, "a"))
        conn.execute(insert(_T), _rows(n, "b"))
    with engine.connect() as conn:
        ours = conn.execute(select(*_COLS).where(_T.c.k.like("a%")).order_by(_T.c.id)).all()
        core = conn.execute(select(*_COLS).where(_T.c.k.like("b%")).order_by(_T.c.id)).all()
        raw_ours = conn.exec_driver_sql("SELECT price, at FROM t WHERE k LIKE 'a%' ORDER BY id").all()
        raw_core = conn.exec_driver_sql("SELECT price, at FROM t WHERE k LIKE 'b%' ORDER BY id").all()
    assert len(ours) == n
    assert [r[1:] for r in ours] == [r[1:] for r in core]
    assert raw_ours == raw_core  # as written (dates in one form); a missing JSON value is SQL NULL here, 'null' in Core


def test_returning_gives_every_inserted_row_and_skips_conflicts(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _md.create_all(engine)
    with engine.begin() as conn:
        first = insert_rows(conn, _T, _rows(100, "a"), skip_conflicts=["k"], returning=["id", "k"])
        again = insert_rows(conn, _T, _rows(9_000, "a"), skip_conflicts=["k"], returning=["id", "k"])
    assert sorted(k for _, k in first) == sorted(f"a{i}" for i in range(100))
    assert sorted(k for _, k in again) == sorted(f"a{i}" for i in range(100, 9_000))


def test_tuple_rows_and_odd_dates_store_what_core_stores(tmp_path):
    """Rows given as tuples of `keys`; dates Core writes with its own format (years before 1000, microseconds, zones,
    a plain date, a datetime subclass) are written the same through the shortcut for SQLite's DATETIME."""
    import pandas as pd

    engine = create_engine(f"sqlite:///{tmp_path / 'x.db'}")
    _md.create_all(engine)
    plus5 = timezone(timedelta(hours=5, minutes=30))
    dates = [datetime(1, 1, 1), datetime(999, 12, 31, 23, 59, 59, 999_999, tzinfo=timezone.utc),
             datetime(2024, 2, 29, 1, 2, 3, 4, tzinfo=plus5), datetime(2024, 2, 29, 1, 2, 3, 4, tzinfo=timezone.utc),
             datetime(9999, 12, 31, 23, 59, 59), pd.Timestamp("2024-05-06 07:08:09.123456"),
             datetime(2024, 1, 1).date(), None]
    rows = [(f"{tag}{i}", float(i), d, {"i": i}) for tag in "ab" for i, d in enumerate(dates * 2)]
    keys = ("k", "price", "at", "extra")
    with engine.begin() as conn:
        insert_rows(conn, _T, [r for r in rows if r[0][0] == "a"], keys=keys)
        conn.execute(insert(_T), [dict(zip(keys, r)) for r in rows if r[0][0] == "b"])
    with engine.connect() as conn:
        raw = conn.exec_driver_sql("SELECT k, price, at, extra FROM t ORDER BY id").all()
    ours, core = raw[: len(raw) // 2], raw[len(raw) // 2 :]
    assert [r[1:] for r in ours] == [r[1:] for r in core]
    assert ours[1][2] == "0999-12-31 23:59:59.999999"
