"""`INSERT ... ON CONFLICT` for SQLite and PostgreSQL: the one upsert every bulk writer uses."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection

__all__ = ["upsert", "insert_rows"]


def upsert(conn: Connection, table, rows: Sequence[dict[str, Any]], index: list[str], update_cols=None):
    """`INSERT ... ON CONFLICT (index) DO NOTHING | DO UPDATE` for SQLite and PostgreSQL."""
    if not rows:
        return
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    if update_cols:
        stmt = stmt.on_conflict_do_update(index_elements=index, set_=update_cols(stmt.excluded))
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=index)
    conn.execute(stmt, list(rows))


def insert_rows(conn: Connection, table, rows: Sequence[dict[str, Any]] | Sequence[tuple], *,
                keys: Sequence[str] | None = None, skip_conflicts: list[str] | None = None,
                returning: Sequence[str] = ()) -> list[tuple]:
    """A plain `INSERT` of many rows that all have the same keys (`keys`: the rows are tuples of these columns' values,
    which spares building a dict per row; `skip_conflicts`: `ON CONFLICT (these columns) DO NOTHING`; `returning`:
    the columns of the inserted rows to give back). On SQLite the statement is run by the driver as multi-row VALUES
    (a quarter faster than `executemany` for the facts of an import), each value through its column type's bind
    processor as Core would do, without Core's per-row parameter processing (the larger part of writing posts and
    their facts). PostgreSQL keeps Core's batched multi-row insert."""
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(table)
    if skip_conflicts:
        stmt = stmt.on_conflict_do_nothing(index_elements=skip_conflicts)
    if returning:
        stmt = stmt.returning(*(table.c[c] for c in returning))
    if conn.dialect.name != "sqlite":
        res = conn.execute(stmt, [dict(zip(keys, r)) for r in rows] if keys is not None else list(rows))
        return [tuple(r) for r in res] if returning else []
    if keys is None:
        keys = list(rows[0])
        get = map(itemgetter, keys)
    else:
        get = map(itemgetter, range(len(keys)))
    procs = {}
    for k in keys:
        impl = table.c[k].type.dialect_impl(conn.dialect)
        proc = impl.bind_processor(conn.dialect)
        if proc is not None:
            procs[k] = (proc, _is_plain_datetime(impl))
    if procs or len(rows[0]) != len(keys):  # column by column: each distinct value converted once
        columns = []
        for k, g in zip(keys, get):
            values = list(map(g, rows))
            if k in procs:
                values = _converted(values, *procs[k])
            columns.append(values)
        rows = list(zip(*columns))
    cols = ", ".join(conn.dialect.identifier_preparer.quote(k) for k in keys)
    head = f"INSERT INTO {conn.dialect.identifier_preparer.format_table(table)} ({cols}) VALUES "
    tail = ""
    if skip_conflicts:
        tail += f" ON CONFLICT ({', '.join(skip_conflicts)}) DO NOTHING"
    if returning:
        tail += " RETURNING " + ", ".join(returning)
    one = "(" + ", ".join("?" * len(keys)) + ")"
    per = max(1, 30_000 // len(keys))  # SQLite takes up to 32,766 parameters per statement
    out: list[tuple] = []
    for i in range(0, len(rows), per):
        chunk = rows[i : i + per]
        res = conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, tuple(chain.from_iterable(chunk)))
        if returning:
            out += map(tuple, res.all())
    return out


def _is_plain_datetime(impl) -> bool:
    """SQLite's DATETIME in its default storage form (ISO 8601 with a space and microseconds, the zone left out)."""
    from sqlalchemy.dialects.sqlite import DATETIME

    return isinstance(impl, DATETIME) and impl._storage_format == DATETIME._storage_format


# (datetime, zone) -> its SQLite DATETIME text, across calls: a post's date is its facts' date too. Bounded.
_STAMPS: dict[tuple, str] = {}
_STAMPS_SIZE = 50_000


def _converted(values: list, proc, plain_datetime: bool = False) -> list:
    """`proc` over a column's values, each distinct value converted once (a batch's rows share their dates: a post's
    facts are rows in a row with its one date); keyed with the time zone too, since equal datetimes in two zones are
    written differently. `plain_datetime`: `proc` is SQLite's default DATETIME one, whose text for a datetime is its
    ISO form without the zone (`datetime.isoformat`, a third cheaper; the texts are shared between calls)."""
    done: dict = _STAMPS if plain_datetime else {}
    out = []
    last: Any = done  # the previous value (a sentinel at first) and what it became
    last_out = None
    for v in values:
        if v is last:
            out.append(last_out)
            continue
        if v is None:
            got = None
        elif isinstance(v, (dict, list)):
            got = proc(v)
        else:
            key = (v, getattr(v, "tzinfo", None))
            got = done.get(key, done)
            if got is done:
                if plain_datetime and type(v) is datetime:
                    got = v.replace(tzinfo=None).isoformat(" ", "microseconds")
                else:
                    got = proc(v)
                if len(done) >= _STAMPS_SIZE:
                    done.clear()
                done[key] = got
        out.append(got)
        last, last_out = v, got
    return out
