"""indexes the web app's pages need on a large database: a source's newest post and its posts per week; the
discovered channels' counts of links read from an index alone; a source's newest runs

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # when a post was first seen (older rows only have collected_at): `npswatch status`, Sources and health
    op.create_index("ix_post_source_seen", "post", ["source_id", sa.text("coalesce(first_seen, collected_at)")])
    # the review queue's discovered channels: links, forwards and linking channels per target
    op.create_index("ix_channel_link_dst_src_kind", "channel_link", ["dst", "src", "kind"])
    # a source's or job's newest runs (`npswatch status`: the last 50 of each)
    op.create_index("ix_crawl_run_source_started", "crawl_run", ["source", "started_at"])


def downgrade() -> None:
    op.drop_index("ix_crawl_run_source_started", table_name="crawl_run")
    op.drop_index("ix_channel_link_dst_src_kind", table_name="channel_link")
    op.drop_index("ix_post_source_seen", table_name="post")
