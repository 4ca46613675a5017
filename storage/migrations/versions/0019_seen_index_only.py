"""PostgreSQL: the index on a post's source and first-seen time carries the two times it is computed from, so
that the posts per week (Sources and health, `npswatch status`) are counted from the index alone

PostgreSQL answers from an index alone only when every column the query names is in it: the expression
`coalesce(first_seen, collected_at)` names two columns that were not, so each counted post was read from the
table (tens of thousands of scattered reads on a large database). SQLite reads the expression from the index
already and is left as it is.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-05
"""
from alembic import op
import sqlalchemy as sa

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_SEEN = sa.text("coalesce(first_seen, collected_at)")


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_post_source_seen", table_name="post")
        op.create_index("ix_post_source_seen", "post", ["source_id", _SEEN],
                        postgresql_include=["first_seen", "collected_at"])


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_index("ix_post_source_seen", table_name="post")
        op.create_index("ix_post_source_seen", "post", ["source_id", _SEEN])
