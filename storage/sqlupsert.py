"""`INSERT ... ON CONFLICT` for SQLite and PostgreSQL: the one upsert every bulk writer uses."""
from __future__ import annotations

from collections.abc import Sequence
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


def insert_rows(conn: Connection, table, rows: Sequence[dict[str, Any]], *, skip_conflicts: list[str] | None = None,
                returning: Sequence[str] = ()) -> list[tuple]:
    """A plain `INSERT` of many rows that all have the same keys (`skip_conflicts`: `ON CONFLICT (these columns) DO
    NOTHING`; `returning`: the columns of the inserted rows to give back). On SQLite the statement is run by the
    driver as multi-row VALUES (a quarter faster than `executemany` for the facts of an import), each value through
    its column type's bind processor as Core would do, without Core's per-row parameter processing (the larger part
    of writing posts and their facts). PostgreSQL keeps Core's batched multi-row insert."""
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
        res = conn.execute(stmt, list(rows))
        return [tuple(r) for r in res] if returning else []
    keys = list(rows[0])
    columns = []
    for k in keys:  # column by column: one processor per column, each distinct value converted once
        values = [r[k] for r in rows]
        proc = table.c[k].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
        if proc is not None:
            values = _converted(values, proc)
        columns.append(values)
    data = list(zip(*columns))
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
    for i in range(0, len(data), per):
        chunk = data[i : i + per]
        flat = [v for row in chunk for v in row]
        res = conn.exec_driver_sql(head + ", ".join([one] * len(chunk)) + tail, tuple(flat))
        if returning:
            out += [tuple(r) for r in res]
    return out


def _converted(values: list, proc) -> list:
    """`proc` over a column's values, each distinct value converted once (a batch's rows share their dates); keyed
    with the time zone too, since equal datetimes in two zones are written differently."""
    done: dict = {}
    out = []
    for v in values:
        if v is None:
            out.append(None)
        elif isinstance(v, (dict, list)):
            out.append(proc(v))
        else:
            key = (v, getattr(v, "tzinfo", None))
            got = done.get(key, done)
            if got is done:
                got = done[key] = proc(v)
            out.append(got)
    return out
