"""`INSERT ... ON CONFLICT` for SQLite and PostgreSQL: the one upsert every bulk writer uses."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

__all__ = ["upsert"]


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
