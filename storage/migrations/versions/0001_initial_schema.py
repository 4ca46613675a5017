"""initial schema

Revision ID: 0001
Revises: 
Create Date: 2026-11-23 08:38:59.617155
"""
from alembic import op
import sqlalchemy as sa


revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('candidate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('class', sa.String(length=32), nullable=False),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('posts', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_candidate')),
    sa.UniqueConstraint('key', name=op.f('uq_candidate_key'))
    )
    op.create_table('checkpoint',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('channel', sa.String(length=200), nullable=False),
    sa.Column('last_message_id', sa.BigInteger(), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_checkpoint')),
    sa.UniqueConstraint('channel', name=op.f('uq_checkpoint_channel'))
    )
    op.create_table('crawl_run',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('source', sa.String(length=200), nullable=True),
    sa.Column('started_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('finished_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('status', sa.String(length=12), nullable=False),
    sa.Column('items', sa.Integer(), nullable=False),
    sa.Column('errors', sa.Integer(), nullable=False),
    sa.Column('message', sa.String(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_crawl_run'))
    )
    with op.batch_alter_table('crawl_run', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_crawl_run_kind'), ['kind'], unique=False)
        batch_op.create_index(batch_op.f('ix_crawl_run_source'), ['source'], unique=False)

    op.create_table('fx_rate',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=False),
    sa.Column('units_per_usd', sa.Float(), nullable=False),
    sa.Column('origin', sa.String(length=40), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_fx_rate')),
    sa.UniqueConstraint('day', 'currency', 'origin', name='uq_fx_rate')
    )
    op.create_table('region',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=40), nullable=False),
    sa.Column('level', sa.String(length=10), nullable=False),
    sa.Column('geonameid', sa.BigInteger(), nullable=True),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('country', sa.String(length=2), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_region')),
    sa.UniqueConstraint('key', name=op.f('uq_region_key'))
    )
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_region_country'), ['country'], unique=False)
        batch_op.create_index(batch_op.f('ix_region_geonameid'), ['geonameid'], unique=False)

    op.create_table('source',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(), nullable=True),
    sa.Column('url', sa.String(), nullable=True),
    sa.Column('country', sa.String(length=2), nullable=True),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('language', sa.String(length=8), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_source')),
    sa.UniqueConstraint('key', name=op.f('uq_source_key'))
    )
    op.create_table('substance',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=120), nullable=False),
    sa.Column('canonical', sa.String(length=120), nullable=True),
    sa.Column('class', sa.String(length=32), nullable=False),
    sa.Column('origin', sa.String(length=20), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substance')),
    sa.UniqueConstraint('key', name=op.f('uq_substance_key'))
    )
    op.create_table('post',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('source_id', sa.Integer(), nullable=False),
    sa.Column('external_id', sa.String(length=200), nullable=False),
    sa.Column('url', sa.String(), nullable=True),
    sa.Column('author', sa.String(length=64), nullable=True),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('posted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('first_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_seen', sa.DateTime(timezone=True), nullable=True),
    sa.Column('extra', sa.JSON(), nullable=True),
    sa.ForeignKeyConstraint(['source_id'], ['source.id'], name=op.f('fk_post_source_id_source')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post')),
    sa.UniqueConstraint('source_id', 'external_id', name='uq_post_source_external')
    )
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.create_index('ix_post_posted_at', ['posted_at'], unique=False)
        batch_op.create_index(batch_op.f('ix_post_source_id'), ['source_id'], unique=False)

    op.create_table('substance_alias',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=200), nullable=False),
    sa.Column('ambiguous', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_substance_alias_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_substance_alias')),
    sa.UniqueConstraint('substance_id', 'alias', name='uq_substance_alias')
    )
    with op.batch_alter_table('substance_alias', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_substance_alias_substance_id'), ['substance_id'], unique=False)

    op.create_table('mention',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('matched', sa.String(length=200), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_mention_post_id_post')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_mention_region_id_region')),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_mention_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mention'))
    )
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_mention_post_id'), ['post_id'], unique=False)
        batch_op.create_index(batch_op.f('ix_mention_region_id'), ['region_id'], unique=False)
        batch_op.create_index('ix_mention_substance_observed', ['substance_id', 'observed_at'], unique=False)

    op.create_table('offer',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('substance_id', sa.Integer(), nullable=False),
    sa.Column('region_id', sa.Integer(), nullable=True),
    sa.Column('quantity', sa.Float(), nullable=False),
    sa.Column('unit', sa.String(length=8), nullable=False),
    sa.Column('grams', sa.Float(), nullable=True),
    sa.Column('price', sa.Float(), nullable=False),
    sa.Column('currency', sa.String(length=8), nullable=True),
    sa.Column('price_per_gram', sa.Float(), nullable=True),
    sa.Column('price_per_gram_usd', sa.Float(), nullable=True),
    sa.Column('observed_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_offer_post_id_post')),
    sa.ForeignKeyConstraint(['region_id'], ['region.id'], name=op.f('fk_offer_region_id_region')),
    sa.ForeignKeyConstraint(['substance_id'], ['substance.id'], name=op.f('fk_offer_substance_id_substance')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_offer'))
    )
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_offer_post_id'), ['post_id'], unique=False)
        batch_op.create_index('ix_offer_region_observed', ['region_id', 'observed_at'], unique=False)
        batch_op.create_index('ix_offer_substance_observed', ['substance_id', 'observed_at'], unique=False)

    op.create_table('post_version',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('post_id', sa.Integer(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('text', sa.String(), nullable=True),
    sa.Column('text_hash', sa.String(length=64), nullable=False),
    sa.Column('edited_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('collected_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['post_id'], ['post.id'], name=op.f('fk_post_version_post_id_post')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_post_version')),
    sa.UniqueConstraint('post_id', 'version', name='uq_post_version')
    )
    with op.batch_alter_table('post_version', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_post_version_post_id'), ['post_id'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('post_version', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_version_post_id'))

    op.drop_table('post_version')
    with op.batch_alter_table('offer', schema=None) as batch_op:
        batch_op.drop_index('ix_offer_substance_observed')
        batch_op.drop_index('ix_offer_region_observed')
        batch_op.drop_index(batch_op.f('ix_offer_post_id'))

    op.drop_table('offer')
    with op.batch_alter_table('mention', schema=None) as batch_op:
        batch_op.drop_index('ix_mention_substance_observed')
        batch_op.drop_index(batch_op.f('ix_mention_region_id'))
        batch_op.drop_index(batch_op.f('ix_mention_post_id'))

    op.drop_table('mention')
    with op.batch_alter_table('substance_alias', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_substance_alias_substance_id'))

    op.drop_table('substance_alias')
    with op.batch_alter_table('post', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_post_source_id'))
        batch_op.drop_index('ix_post_posted_at')

    op.drop_table('post')
    op.drop_table('substance')
    op.drop_table('source')
    with op.batch_alter_table('region', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_region_geonameid'))
        batch_op.drop_index(batch_op.f('ix_region_country'))

    op.drop_table('region')
    op.drop_table('fx_rate')
    with op.batch_alter_table('crawl_run', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_crawl_run_source'))
        batch_op.drop_index(batch_op.f('ix_crawl_run_kind'))

    op.drop_table('crawl_run')
    op.drop_table('checkpoint')
    op.drop_table('candidate')
