"""full-text search over post texts (SQLite FTS5 with triggers; PostgreSQL GIN on to_tsvector('russian'))

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-04
"""
from alembic import op

from npswatch.storage.search import create_index, drop_index

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_index(op.get_bind())


def downgrade() -> None:
    drop_index(op.get_bind())
