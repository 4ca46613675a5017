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


def insert_rows(conn: Connection, table, rows: Sequence[dict[str, Any]]) -> None:
    """A plain `INSERT` of many rows that all have the same keys: on SQLite, one compiled statement handed to
    the driver's `executemany`, each value through its column type's bind processor as Core would do, without
    Core's per-row parameter processing (the larger part of writing an extracted post's facts). PostgreSQL
    keeps Core's batched multi-row insert."""
    if not rows:
        return
    if conn.dialect.name != "sqlite":
        conn.execute(table.insert(), list(rows))
        return
    keys = list(rows[0])
    compiled = table.insert().compile(dialect=conn.dialect, column_keys=keys)
    order = list(compiled.positiontup)
    procs = [table.c[k].type.dialect_impl(conn.dialect).bind_processor(conn.dialect) for k in order]
    plain = all(p is None for p in procs)
    data = [tuple(r[k] for k in order) if plain else
            tuple(r[k] if p is None or r[k] is None else p(r[k]) for k, p in zip(order, procs)) for r in rows]
    conn.exec_driver_sql(str(compiled), data)
