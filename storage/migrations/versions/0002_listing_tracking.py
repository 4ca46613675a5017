"""web collection (listings, observations, snapshots)

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

Tables of storage/tables_web.py: `listing` (first/last seen, disappeared, current price and stock per web
post), `listing_observation` (price and stock per crawl_run and post), `page_snapshot` (index of the gzip
page bodies under <data_dir>/snapshots/).
"""
from alembic import op
import sqlalchemy as sa

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('page_snapshot',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crawl_run_id', sa.Integer(), nullable=True),
    sa.Column('source', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(), nullable=False),
    sa.Column('role', sa.String(length=10), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('size', sa.Integer(), nullable=False),
    sa.Column('status', sa.Integer(), nullable=False),
    sa.Column('content_type', sa.String(length=200), nullable=True),
    sa.Column('page_date', sa.String(length=64), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['crawl_run_id'], ['crawl_run.id'], name=op.f('fk_page_snapshot_crawl_run_id_crawl_run')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_page_snapshot'))
    )
    with op.batch_alter_table('page_snapshot', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_page_snapshot_crawl_run_id'), ['crawl_run_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_page_snapshot_sha256'), ['sha256'], unique=False)
        batch_op.create_index('ix_page_snapshot_source_fetched', ['source', 'fetched_at'], unique=False)

    op.create_table('listing',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('disappeared_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_run_id', sa.Integer(), nullable=True),
    sa.Column('price_text', sa.String(length=200), nullable=True),
    sa.Column('price', sa.Float(), nullable=True),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('observations', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['last_run_id'], ['crawl_run.id'], name=op.f('fk_listing_last_run_id_crawl_run')),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_listing_post_id_post')),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_listing_source_id_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing')),
    sa.UniqueConstraint('post_id', name=op.f('uq_listing_post_id'))
    )
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_last_seen'), ['last_seen'], unique=False)
        batch_op.create_index(batch_op.f('ix_listing_source_id'), ['source_id'], unique=False)

    op.create_table('listing_observation',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('crawl_run_id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('price_text', sa.String(length=200), nullable=True),
    sa.Column('price', sa.Float(), nullable=True),
    sa.Column('stock', sa.Integer(), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('price_changed', sa.Boolean(), nullable=False),
    sa.Column('stock_delta', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['crawl_run_id'], ['crawl_run.id'], name=op.f('fk_listing_observation_crawl_run_id_crawl_run')),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_listing_observation_post_id_post')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_listing_observation')),
    sa.UniqueConstraint('crawl_run_id', 'post_id', name='uq_listing_observation_run_post')
    )
    with op.batch_alter_table('listing_observation', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_listing_observation_crawl_run_id'), ['crawl_run_id'], unique=False)
        batch_op.create_index('ix_listing_observation_post_observed', ['post_id', 'observed_at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('listing_observation', schema=None) as batch_op:
        batch_op.drop_index('ix_listing_observation_post_observed')
        batch_op.drop_index(batch_op.f('ix_listing_observation_crawl_run_id'))

    op.drop_table('listing_observation')
    with op.batch_alter_table('listing', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_listing_source_id'))
        batch_op.drop_index(batch_op.f('ix_listing_last_seen'))

    op.drop_table('listing')
    with op.batch_alter_table('page_snapshot', schema=None) as batch_op:
        batch_op.drop_index('ix_page_snapshot_source_fetched')
        batch_op.drop_index(batch_op.f('ix_page_snapshot_sha256'))
        batch_op.drop_index(batch_op.f('ix_page_snapshot_crawl_run_id'))

    op.drop_table('page_snapshot')
