"""Engines, sessions and the schema version check.

SQLite (the default) gets WAL, foreign keys and a busy timeout on every connection; PostgreSQL is used by
URL (`postgresql+psycopg://user@host/db`). The schema is owned by Alembic (`npswatch db upgrade`); the
app refuses to run on a database whose revision is not the code's head.

SQLAlchemy and Alembic are imported by the functions that use them: a command that never opens a database
imports this module (for `SchemaError`) without loading either.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy import Engine
    from sqlalchemy.orm import Session

MIGRATIONS = Path(__file__).with_name("migrations")


class SchemaError(RuntimeError):
    """The database schema does not match the code; the message says which command fixes it."""


def make_engine(url: str, *, echo: bool = False) -> Engine:
    """An engine for `url`; creates the folder of a SQLite file."""
    from sqlalchemy import create_engine, event
    from sqlalchemy.engine import make_url

    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(u, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # noqa: ANN001
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(u, echo=echo, pool_pre_ping=True)


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def include_object(obj, name, type_, reflected, compare_to) -> bool:
    """What Alembic compares with the models: not APScheduler's job store (`npswatch run` keeps it in the same
    database) nor the full-text index (storage/search.py makes it with its own DDL: FTS5, an expression index)."""
    from .search import SEARCH_OBJECTS

    if type_ == "table" and name == "apscheduler_jobs":
        return False
    return not (name or "").startswith(SEARCH_OBJECTS)


def head_revision() -> str:
    from alembic.script import ScriptDirectory

    return ScriptDirectory(str(MIGRATIONS)).get_current_head() or ""


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Run migrations up to `revision`; returns (before, after)."""
    from alembic import command

    from .search import ensure_index

    before = current_revision(engine)
    command.upgrade(alembic_config(engine), revision)
    with engine.begin() as conn:
        ensure_index(conn)  # a later migration that rebuilt `post` (SQLite batch mode) dropped the index's triggers
    return before, current_revision(engine)


def downgrade(engine: Engine, revision: str) -> None:
    from alembic import command

    command.downgrade(alembic_config(engine), revision)


def file_head_revision() -> str | None:
    """The head revision read from the migration files' `revision`/`down_revision` lines without loading Alembic;
    None unless the history has exactly one head (Alembic's `head_revision()` decides then)."""
    import ast

    revisions, parents = set(), set()
    for path in (MIGRATIONS / "versions").glob("*.py"):
        found = {}
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Name) and t.id in ("revision", "down_revision") and node.value is not None:
                        found[t.id] = ast.literal_eval(node.value)
        if "revision" in found:
            revisions.add(found["revision"])
            down = found.get("down_revision")
            parents.update(down if isinstance(down, (tuple, list)) else [down])
    heads = revisions - parents
    return next(iter(heads)) if len(heads) == 1 else None


def stored_revision(engine: Engine) -> str | None:
    """The revision in the database's alembic_version table by a plain query; None if there is none (or several)."""
    from sqlalchemy import text

    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except Exception:  # noqa: BLE001 - no such table, or no database: the caller asks Alembic
        return None
    return rows[0] if len(rows) == 1 else None


def check_schema(engine: Engine) -> None:
    """Raise SchemaError unless the database is at the code's head revision.

    The usual case, a current database, is decided by `stored_revision` and `file_head_revision` without loading
    Alembic (a command's start-up); anything else is decided, and explained, by Alembic itself."""
    fast = stored_revision(engine)
    if fast is not None and fast == file_head_revision():
        return
    current, head = current_revision(engine), head_revision()
    if current == head:
        return
    where = engine.url.render_as_string(hide_password=True)
    if current is None:
        raise SchemaError(f"database {where} has no npswatch schema yet: run `npswatch db upgrade`")
    raise SchemaError(
        f"database {where} is at schema revision {current}, this npswatch needs {head}: run `npswatch db upgrade`"
    )


def session(engine: Engine) -> Session:
    from sqlalchemy.orm import Session

    return Session(engine, expire_on_commit=False)
