"""indexes the web app's pages need on a large database: a source's newest post and its posts per week

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0014"  # TODO(lead): "0015" once the weekly aggregate's migration is on main
branch_labels = None
depends_on = None


def upgrade() -> None:
    # when a post was first seen (older rows only have collected_at): `npswatch status`, Sources and health
    op.create_index("ix_post_source_seen", "post", ["source_id", sa.text("coalesce(first_seen, collected_at)")])


def downgrade() -> None:
    op.drop_index("ix_post_source_seen", table_name="post")
