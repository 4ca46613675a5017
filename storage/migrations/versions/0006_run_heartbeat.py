"""run ownership and liveness: crawl_run.host, pid, heartbeat_at, parent_id; post.extracted_at

A run row says which process on which host runs it and when that process last showed it was alive, so a run
whose process died is found by any later command on any host (`storage.runs.mark_stale`); `parent_id` ties
the runs a scheduler job's child writes to that job's row. `post.extracted_at` says the facts of a post's text
were extracted (NULL: stored with --no-extract, for `npswatch extract-pending`); posts that have facts
already are marked extracted. (Renumber freely: only `down_revision` links it.)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("crawl_run", schema=None) as batch_op:
        batch_op.add_column(sa.Column("host", sa.String(length=255), nullable=True))
        batch_op.add_column(sa.Column("pid", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("heartbeat_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("parent_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_crawl_run_parent_id"), ["parent_id"], unique=False)
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.add_column(sa.Column("extracted_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f("ix_post_extracted_at"), ["extracted_at"], unique=False)
    op.execute("UPDATE post SET extracted_at = coalesce(last_seen, collected_at) WHERE "
               "EXISTS (SELECT 1 FROM mention WHERE mention.post_id = post.id) OR "
               "EXISTS (SELECT 1 FROM offer WHERE offer.post_id = post.id)")


def downgrade() -> None:
    with op.batch_alter_table("post", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_post_extracted_at"))
        batch_op.drop_column("extracted_at")
    with op.batch_alter_table("crawl_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_crawl_run_parent_id"))
        batch_op.drop_column("parent_id")
        batch_op.drop_column("heartbeat_at")
        batch_op.drop_column("pid")
        batch_op.drop_column("host")
