"""telegram_channel: who added a watched channel (an analyst, or the discovery rules) and why

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("telegram_channel", sa.Column("added_by", sa.String(length=20), nullable=True))
    op.add_column("telegram_channel", sa.Column("reason", sa.String(length=300), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("telegram_channel") as batch:
        batch.drop_column("reason")
        batch.drop_column("added_by")
