"""people

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27 22:13:06.150243+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: the participant registry; NIK and phone only as ciphertext.
    op.create_table('people',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=True),
    sa.Column('sex', sa.String(length=10), nullable=False),
    sa.Column('birth_year', sa.Integer(), nullable=True),
    sa.Column('birth_decade', sa.Integer(), nullable=True),
    sa.Column('nik_ciphertext', sa.String(length=200), nullable=True),
    sa.Column('nik_hash', sa.String(length=64), nullable=True),
    sa.Column('phone_ciphertext', sa.String(length=200), nullable=True),
    sa.Column('disability', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('vulnerable_groups', postgresql.ARRAY(sa.String()), server_default='{}', nullable=False),
    sa.Column('consent_purposes', postgresql.ARRAY(sa.String()), server_default='{}', nullable=False),
    sa.Column('consent_given_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('consent_withdrawn_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('erased_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("sex IN ('female', 'male')", name=op.f('ck_people_sex_valid')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_people_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_people'))
    )
    op.create_index('ix_people_community_id_created_at_id', 'people', ['community_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_people_created_at_id', 'people', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_people_updated_at'), 'people', ['updated_at'], unique=False)
    op.create_index('uq_people_nik_hash_live', 'people', ['nik_hash'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND nik_hash IS NOT NULL'))


def downgrade() -> None:
    # Reviewed by hand: the participant registry; NIK and phone only as ciphertext.
    op.drop_index('uq_people_nik_hash_live', table_name='people', postgresql_where=sa.text('deleted_at IS NULL AND nik_hash IS NOT NULL'))
    op.drop_index(op.f('ix_people_updated_at'), table_name='people')
    op.drop_index('ix_people_created_at_id', table_name='people')
    op.drop_index('ix_people_community_id_created_at_id', table_name='people')
    op.drop_table('people')
