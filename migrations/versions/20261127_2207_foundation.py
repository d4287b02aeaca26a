"""foundation

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-27 22:07:45.356787+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: tables of auth, audit, idempotency and communities.
    op.create_table('audit_events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('actor_kind', sa.String(length=20), nullable=True),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('resource', sa.String(length=60), nullable=False),
    sa.Column('resource_id', sa.Uuid(), nullable=True),
    sa.Column('changed_fields', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('request_id', sa.String(length=64), nullable=True),
    sa.Column('note', sa.String(length=500), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_events'))
    )
    op.create_index(op.f('ix_audit_events_actor_id'), 'audit_events', ['actor_id'], unique=False)
    op.create_index('ix_audit_events_at_id', 'audit_events', ['at', 'id'], unique=False)
    op.create_index('ix_audit_events_resource', 'audit_events', ['resource', 'resource_id'], unique=False)
    op.create_table('communities',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('region_code', sa.String(length=13), nullable=False),
    sa.Column('description', sa.String(length=5000), nullable=True),
    sa.Column('population', sa.Integer(), nullable=True),
    sa.Column('households', sa.Integer(), nullable=True),
    sa.Column('latitude', sa.Float(), nullable=True),
    sa.Column('longitude', sa.Float(), nullable=True),
    sa.Column('potentials', postgresql.ARRAY(sa.String()), server_default='{}', nullable=False),
    sa.CheckConstraint("kind IN ('desa', 'kelurahan', 'dusun', 'kelompok', 'komunitas_adat', 'other')", name=op.f('ck_communities_kind_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_communities'))
    )
    op.create_index('ix_communities_created_at_id', 'communities', ['created_at', 'id'], unique=False)
    op.create_index('ix_communities_name_id', 'communities', ['name', 'id'], unique=False)
    op.create_index('ix_communities_region_code_pattern', 'communities', ['region_code'], unique=False, postgresql_ops={'region_code': 'text_pattern_ops'})
    op.create_index(op.f('ix_communities_updated_at'), 'communities', ['updated_at'], unique=False)
    op.create_table('idempotency_keys',
    sa.Column('owner', sa.String(length=64), nullable=False),
    sa.Column('key', sa.String(length=255), nullable=False),
    sa.Column('request_hash', sa.String(length=64), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=True),
    sa.Column('response_body', sa.LargeBinary(), nullable=True),
    sa.Column('response_headers', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('owner', 'key', name=op.f('pk_idempotency_keys'))
    )
    op.create_index(op.f('ix_idempotency_keys_created_at'), 'idempotency_keys', ['created_at'], unique=False)
    op.create_table('login_failures',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key', sa.String(length=100), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_login_failures'))
    )
    op.create_index('ix_login_failures_key_at', 'login_failures', ['key', 'at'], unique=False)
    op.create_table('users',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('email', sa.String(length=254), nullable=False),
    sa.Column('full_name', sa.String(length=200), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('is_active', sa.Boolean(), server_default='true', nullable=False),
    sa.Column('tokens_valid_after', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_login_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("role IN ('admin', 'coordinator', 'facilitator', 'analyst', 'partner')", name=op.f('ck_users_role_valid')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users'))
    )
    op.create_index(op.f('ix_users_organization_id'), 'users', ['organization_id'], unique=False)
    op.create_index(op.f('ix_users_updated_at'), 'users', ['updated_at'], unique=False)
    op.create_index('uq_users_email_live', 'users', [sa.literal_column('lower(email)')], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('community_facilitators',
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('assigned_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_community_facilitators_community_id_communities'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_community_facilitators_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('community_id', 'user_id', name=op.f('pk_community_facilitators'))
    )
    op.create_index(op.f('ix_community_facilitators_user_id'), 'community_facilitators', ['user_id'], unique=False)
    op.create_table('development_indices',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('iks', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('ike', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('ikl', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('idm_score', sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column('idm_status', sa.String(length=20), nullable=False),
    sa.CheckConstraint("idm_status IN ('sangat_tertinggal', 'tertinggal', 'berkembang', 'maju', 'mandiri')", name=op.f('ck_development_indices_idm_status_valid')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_development_indices_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_development_indices'))
    )
    op.create_index(op.f('ix_development_indices_community_id'), 'development_indices', ['community_id'], unique=False)
    op.create_index('ix_development_indices_created_at_id', 'development_indices', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_development_indices_updated_at'), 'development_indices', ['updated_at'], unique=False)
    op.create_index('uq_development_indices_community_year_live', 'development_indices', ['community_id', 'year'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('refresh_tokens',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('family_id', sa.Uuid(), nullable=False),
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('token_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('rotated_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['user_id'], ['users.id'], name=op.f('fk_refresh_tokens_user_id_users'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_refresh_tokens')),
    sa.UniqueConstraint('token_hash', name=op.f('uq_refresh_tokens_token_hash'))
    )
    op.create_index(op.f('ix_refresh_tokens_family_id'), 'refresh_tokens', ['family_id'], unique=False)
    op.create_index(op.f('ix_refresh_tokens_user_id'), 'refresh_tokens', ['user_id'], unique=False)


def downgrade() -> None:
    # Reviewed by hand: tables of auth, audit, idempotency and communities.
    op.drop_index(op.f('ix_refresh_tokens_user_id'), table_name='refresh_tokens')
    op.drop_index(op.f('ix_refresh_tokens_family_id'), table_name='refresh_tokens')
    op.drop_table('refresh_tokens')
    op.drop_index('uq_development_indices_community_year_live', table_name='development_indices', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index(op.f('ix_development_indices_updated_at'), table_name='development_indices')
    op.drop_index('ix_development_indices_created_at_id', table_name='development_indices')
    op.drop_index(op.f('ix_development_indices_community_id'), table_name='development_indices')
    op.drop_table('development_indices')
    op.drop_index(op.f('ix_community_facilitators_user_id'), table_name='community_facilitators')
    op.drop_table('community_facilitators')
    op.drop_index('uq_users_email_live', table_name='users', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index(op.f('ix_users_updated_at'), table_name='users')
    op.drop_index(op.f('ix_users_organization_id'), table_name='users')
    op.drop_table('users')
    op.drop_index('ix_login_failures_key_at', table_name='login_failures')
    op.drop_table('login_failures')
    op.drop_index(op.f('ix_idempotency_keys_created_at'), table_name='idempotency_keys')
    op.drop_table('idempotency_keys')
    op.drop_index(op.f('ix_communities_updated_at'), table_name='communities')
    op.drop_index('ix_communities_region_code_pattern', table_name='communities', postgresql_ops={'region_code': 'text_pattern_ops'})
    op.drop_index('ix_communities_name_id', table_name='communities')
    op.drop_index('ix_communities_created_at_id', table_name='communities')
    op.drop_table('communities')
    op.drop_index('ix_audit_events_resource', table_name='audit_events')
    op.drop_index('ix_audit_events_at_id', table_name='audit_events')
    op.drop_index(op.f('ix_audit_events_actor_id'), table_name='audit_events')
    op.drop_table('audit_events')
