"""distinct ads: table ad, post.ad_id

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

# A number of its own: if another migration lands first, rename this file and set revision/down_revision to follow it.
revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "ad",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("first_post_id", sa.Integer(), sa.ForeignKey("post.id"), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("signature", sa.LargeBinary(), nullable=True),
        sa.Column("exact_key", sa.String(length=40), nullable=True),
    )
    op.create_index("ix_ad_exact_key", "ad", ["exact_key"])
    with op.batch_alter_table("post") as batch:
        batch.add_column(sa.Column("ad_id", sa.Integer(), nullable=True))
        batch.create_index("ix_post_ad_id", ["ad_id"])


def downgrade() -> None:
    with op.batch_alter_table("post") as batch:
        batch.drop_index("ix_post_ad_id")
        batch.drop_column("ad_id")
    op.drop_index("ix_ad_exact_key", table_name="ad")
    op.drop_table("ad")
