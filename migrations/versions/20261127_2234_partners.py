"""partners

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 22:34:39.122609+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op


revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: partners, partnerships, contributions, service accounts; users.organization_id now references partners.
    op.create_table('partners',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=30), nullable=False),
    sa.Column('contact_email', sa.String(length=254), nullable=True),
    sa.Column('website', sa.String(length=500), nullable=True),
    sa.Column('region_code', sa.String(length=13), nullable=True),
    sa.Column('description', sa.Text(), nullable=True),
    sa.CheckConstraint("kind IN ('local_government', 'ngo', 'private_sector', 'academia', 'community_organization', 'donor', 'other')", name=op.f('ck_partners_kind_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partners'))
    )
    op.create_index('ix_partners_created_at_id', 'partners', ['created_at', 'id'], unique=False)
    op.create_index('ix_partners_name_id', 'partners', ['name', 'id'], unique=False)
    op.create_index(op.f('ix_partners_updated_at'), 'partners', ['updated_at'], unique=False)
    op.create_table('service_accounts',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('client_id', sa.String(length=64), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('previous_secret_hash', sa.String(length=64), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organization_id'], ['partners.id'], name=op.f('fk_service_accounts_organization_id_partners')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_accounts')),
    sa.UniqueConstraint('client_id', name=op.f('uq_service_accounts_client_id'))
    )
    op.create_index('ix_service_accounts_created_at_id', 'service_accounts', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_service_accounts_organization_id'), 'service_accounts', ['organization_id'], unique=False)
    op.create_index(op.f('ix_service_accounts_updated_at'), 'service_accounts', ['updated_at'], unique=False)
    op.create_table('partnerships',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('role', sa.String(length=30), nullable=False),
    sa.Column('agreement_ref', sa.String(length=200), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('commitment_amount', sa.BigInteger(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='proposed', nullable=False),
    sa.CheckConstraint("role IN ('funder', 'implementer', 'technical_support', 'in_kind_provider')", name=op.f('ck_partnerships_role_valid')),
    sa.CheckConstraint("status IN ('proposed', 'active', 'completed', 'terminated')", name=op.f('ck_partnerships_status_valid')),
    sa.CheckConstraint('commitment_amount IS NULL OR commitment_amount >= 0', name=op.f('ck_partnerships_commitment_non_negative')),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name=op.f('ck_partnerships_dates_ordered')),
    sa.ForeignKeyConstraint(['partner_id'], ['partners.id'], name=op.f('fk_partnerships_partner_id_partners')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_partnerships_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_partnerships'))
    )
    op.create_index('ix_partnerships_created_at_id', 'partnerships', ['created_at', 'id'], unique=False)
    op.create_index('ix_partnerships_program_id', 'partnerships', ['program_id'], unique=False)
    op.create_index(op.f('ix_partnerships_updated_at'), 'partnerships', ['updated_at'], unique=False)
    op.create_index('uq_partnerships_partner_program_role_live', 'partnerships', ['partner_id', 'program_id', 'role'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('contributions',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('partnership_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('amount', sa.BigInteger(), nullable=False),
    sa.Column('contributed_on', sa.Date(), nullable=False),
    sa.Column('description', sa.String(length=2000), nullable=True),
    sa.Column('recorded_by', sa.Uuid(), nullable=True),
    sa.CheckConstraint("kind IN ('funds', 'in_kind', 'expertise', 'facilities')", name=op.f('ck_contributions_kind_valid')),
    sa.CheckConstraint('amount >= 0', name=op.f('ck_contributions_amount_non_negative')),
    sa.ForeignKeyConstraint(['partnership_id'], ['partnerships.id'], name=op.f('fk_contributions_partnership_id_partnerships')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_contributions'))
    )
    op.create_index('ix_contributions_created_at_id', 'contributions', ['created_at', 'id'], unique=False)
    op.create_index('ix_contributions_partnership_id_created_at_id', 'contributions', ['partnership_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_contributions_updated_at'), 'contributions', ['updated_at'], unique=False)
    op.create_foreign_key(op.f('fk_users_organization_id_partners'), 'users', 'partners', ['organization_id'], ['id'])


def downgrade() -> None:
    # Reviewed by hand: partners, partnerships, contributions, service accounts; users.organization_id now references partners.
    op.drop_constraint(op.f('fk_users_organization_id_partners'), 'users', type_='foreignkey')
    op.drop_index(op.f('ix_contributions_updated_at'), table_name='contributions')
    op.drop_index('ix_contributions_partnership_id_created_at_id', table_name='contributions')
    op.drop_index('ix_contributions_created_at_id', table_name='contributions')
    op.drop_table('contributions')
    op.drop_index('uq_partnerships_partner_program_role_live', table_name='partnerships', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index(op.f('ix_partnerships_updated_at'), table_name='partnerships')
    op.drop_index('ix_partnerships_program_id', table_name='partnerships')
    op.drop_index('ix_partnerships_created_at_id', table_name='partnerships')
    op.drop_table('partnerships')
    op.drop_index(op.f('ix_service_accounts_updated_at'), table_name='service_accounts')
    op.drop_index(op.f('ix_service_accounts_organization_id'), table_name='service_accounts')
    op.drop_index('ix_service_accounts_created_at_id', table_name='service_accounts')
    op.drop_table('service_accounts')
    op.drop_index(op.f('ix_partners_updated_at'), table_name='partners')
    op.drop_index('ix_partners_name_id', table_name='partners')
    op.drop_index('ix_partners_created_at_id', table_name='partners')
    op.drop_table('partners')
