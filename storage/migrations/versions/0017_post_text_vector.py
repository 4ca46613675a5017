"""PostgreSQL's search reads a stored text vector (a generated column with its GIN index) instead of an expression
index; nothing changes on SQLite

Adding the column computes every stored text's vector once (about a minute per million posts).

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-04
"""
from alembic import op

from npswatch.storage.search import expression_index, stored_vector

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stored_vector(op.get_bind())


def downgrade() -> None:
    expression_index(op.get_bind())
