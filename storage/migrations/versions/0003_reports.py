"""reports and early warning (signals, deliveries)

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""
from alembic import op
import sqlalchemy as sa

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signal",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=400), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("substance_id", sa.Integer(), nullable=True),
        sa.Column("substance", sa.String(length=200), nullable=False),
        sa.Column("class", sa.String(length=32), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("countries", sa.JSON(), nullable=True),
        sa.Column("title", sa.String(length=400), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=True),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=True),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("baseline", sa.Float(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("posts", sa.Integer(), nullable=False),
        sa.Column("sources", sa.Integer(), nullable=False),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("detected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["region_id"], ["region.id"], name=op.f("fk_signal_region_id_region")),
        sa.ForeignKeyConstraint(["substance_id"], ["substance.id"], name=op.f("fk_signal_substance_id_substance")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signal")),
        sa.UniqueConstraint("key", name=op.f("uq_signal_key")),
    )
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signal_detected_at"), ["detected_at"], unique=False)
        batch_op.create_index("ix_signal_kind_period", ["kind", "period_start"], unique=False)
        batch_op.create_index(batch_op.f("ix_signal_substance_id"), ["substance_id"], unique=False)

    op.create_table(
        "delivery",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("signal_id", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.String(length=400), nullable=False),
        sa.Column("channel", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["signal_id"], ["signal.id"], name=op.f("fk_delivery_signal_id_signal")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_delivery")),
        sa.UniqueConstraint("signal_id", "recipient", name="uq_delivery_signal_recipient"),
    )
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.create_index("ix_delivery_recipient_status", ["recipient", "status"], unique=False)
        batch_op.create_index(batch_op.f("ix_delivery_signal_id"), ["signal_id"], unique=False)

    # covering indexes for trend reports (storage/tables_reports.py)
    op.create_index("ix_offer_trend", "offer", ["observed_at", "substance_id", "region_id", "currency",
                                                "price_per_gram", "price_per_gram_usd"], unique=False)
    op.create_index("ix_mention_trend", "mention", ["observed_at", "substance_id", "region_id", "post_id"],
                    unique=False)


def downgrade() -> None:
    op.drop_index("ix_mention_trend", table_name="mention")
    op.drop_index("ix_offer_trend", table_name="offer")
    with op.batch_alter_table("delivery", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_delivery_signal_id"))
        batch_op.drop_index("ix_delivery_recipient_status")
    op.drop_table("delivery")
    with op.batch_alter_table("signal", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signal_substance_id"))
        batch_op.drop_index("ix_signal_kind_period")
        batch_op.drop_index(batch_op.f("ix_signal_detected_at"))
    op.drop_table("signal")
