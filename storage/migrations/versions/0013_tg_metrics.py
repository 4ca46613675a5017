"""telegram channel and post metrics over time

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_channel_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("subscribers", sa.Integer(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("about", sa.Text(), nullable=True),
        sa.Column("linked_chat_id", sa.BigInteger(), nullable=True),
        sa.Column("verified", sa.Boolean(), nullable=False),
        sa.Column("scam", sa.Boolean(), nullable=False),
        sa.Column("fake", sa.Boolean(), nullable=False),
        sa.Column("restricted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_channel_sample")),
    )
    op.create_index("ix_telegram_channel_sample_key_at", "telegram_channel_sample", ["key", "at"], unique=False)
    op.create_table(
        "telegram_post_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("views", sa.Integer(), nullable=True),
        sa.Column("forwards", sa.Integer(), nullable=True),
        sa.Column("replies", sa.Integer(), nullable=True),
        sa.Column("reactions", sa.Integer(), nullable=True),
        sa.Column("reaction_counts", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_post_sample")),
    )
    op.create_index("ix_telegram_post_sample_key_msg_at", "telegram_post_sample", ["key", "message_id", "at"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_telegram_post_sample_key_msg_at", table_name="telegram_post_sample")
    op.drop_table("telegram_post_sample")
    op.drop_index("ix_telegram_channel_sample_key_at", table_name="telegram_channel_sample")
    op.drop_table("telegram_channel_sample")
