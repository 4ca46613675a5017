"""Alembic environment: runs on the engine handed over by `storage.db` (SQLite or PostgreSQL)."""
from alembic import context

from npswatch.storage.models import metadata
from npswatch.storage.db import include_object

config = context.config
engine = config.attributes.get("engine")
if engine is None:  # plain `alembic` command line: build one from sqlalchemy.url
    from npswatch.storage.db import make_engine

    engine = make_engine(config.get_main_option("sqlalchemy.url"))


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=connection.dialect.name == "sqlite",  # SQLite cannot ALTER most things
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
    connection.commit()
