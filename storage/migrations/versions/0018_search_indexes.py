"""indexes of the search: PostgreSQL's search reads a stored text vector (a generated column with its GIN index)
instead of an expression index; a substance's mentions carry the post id in their index (both databases), so a
search filtered by substance reads the substance's posts from the index alone

Adding the column computes every stored text's vector once (about a minute per million posts).

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-04
"""
from alembic import op

from npswatch.storage.search import expression_index, stored_vector

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    stored_vector(op.get_bind())
    op.drop_index("ix_mention_substance_observed", table_name="mention")
    op.create_index("ix_mention_substance_observed", "mention", ["substance_id", "observed_at", "post_id"])


def downgrade() -> None:
    op.drop_index("ix_mention_substance_observed", table_name="mention")
    op.create_index("ix_mention_substance_observed", "mention", ["substance_id", "observed_at"])
    expression_index(op.get_bind())
