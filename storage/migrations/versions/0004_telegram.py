"""telegram collection (promoted channels, entity map, discovery queue, channel links)

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "telegram_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("added_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_channel")),
        sa.UniqueConstraint("key", name=op.f("uq_telegram_channel_key")),
    )
    op.create_table(
        "telegram_entity",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=False),
        sa.Column("channel_id", sa.BigInteger(), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_telegram_entity")),
        sa.UniqueConstraint("username", name=op.f("uq_telegram_entity_username")),
    )
    with op.batch_alter_table("telegram_entity", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_telegram_entity_channel_id"), ["channel_id"], unique=False)
    op.create_table(
        "discovered_channel",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("username", sa.String(length=64), nullable=True),
        sa.Column("channel_id", sa.BigInteger(), nullable=True),
        sa.Column("title", sa.String(length=255), nullable=True),
        sa.Column("subscribers", sa.Integer(), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen_in", sa.String(length=200), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_discovered_channel")),
        sa.UniqueConstraint("key", name=op.f("uq_discovered_channel_key")),
    )
    op.create_table(
        "channel_link",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("src", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.BigInteger(), nullable=False),
        sa.Column("dst", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_channel_link")),
        sa.UniqueConstraint("src", "message_id", "dst", "kind", name="uq_channel_link"),
    )
    with op.batch_alter_table("channel_link", schema=None) as batch_op:
        batch_op.create_index("ix_channel_link_dst", ["dst"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("channel_link", schema=None) as batch_op:
        batch_op.drop_index("ix_channel_link_dst")
    op.drop_table("channel_link")
    op.drop_table("discovered_channel")
    with op.batch_alter_table("telegram_entity", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_telegram_entity_channel_id"))
    op.drop_table("telegram_entity")
    op.drop_table("telegram_channel")
