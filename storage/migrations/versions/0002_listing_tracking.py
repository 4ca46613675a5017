"""web collection (listings, observations, snapshots)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # tables added by the listing_tracking work


def downgrade() -> None:
    pass
