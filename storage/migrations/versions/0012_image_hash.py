"""image hashes: table image_hash (perceptual hashes and OCR text of posted pictures; never the pictures)

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""
from alembic import op
import sqlalchemy as sa

# A number of its own: if another migration lands first, rename this file and set revision/down_revision to follow it.
revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "image_hash",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("src", sa.String(length=200), nullable=False),
        sa.Column("message_id", sa.String(length=200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("phash", sa.BigInteger(), nullable=False),
        sa.Column("band0", sa.Integer(), nullable=False),
        sa.Column("band1", sa.Integer(), nullable=False),
        sa.Column("band2", sa.Integer(), nullable=False),
        sa.Column("band3", sa.Integer(), nullable=False),
        sa.Column("file_key", sa.String(length=80), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("width", sa.Integer(), nullable=True),
        sa.Column("height", sa.Integer(), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_image_hash")),
        sa.UniqueConstraint("src", "message_id", "position", name="uq_image_hash_post"),
    )
    for col in ("band0", "band1", "band2", "band3", "file_key", "first_id"):
        op.create_index(f"ix_image_hash_{col}", "image_hash", [col], unique=False)


def downgrade() -> None:
    for col in ("band0", "band1", "band2", "band3", "file_key", "first_id"):
        op.drop_index(f"ix_image_hash_{col}", table_name="image_hash")
    op.drop_table("image_hash")
