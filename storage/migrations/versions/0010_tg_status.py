"""telegram channel status history (join refusals, private, banned, gone, renamed)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03
"""
from alembic import op
import sqlalchemy as sa

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_channel_status",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("detail", sa.String(length=300), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_channel_status")),
    )
    op.create_index("ix_telegram_channel_status_key_at", "telegram_channel_status", ["key", "at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_telegram_channel_status_key_at", table_name="telegram_channel_status")
    op.drop_table("telegram_channel_status")
