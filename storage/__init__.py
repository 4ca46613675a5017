"""Storage: SQLModel tables, engine and sessions, bulk writers, queries and Alembic migrations."""
