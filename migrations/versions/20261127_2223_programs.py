"""programs

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 22:23:00.290538+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: programs, their links, activities, indicators, measurements, budget lines.
    op.create_table('program_code_counters',
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('last_number', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_program_code_counters'))
    )
    op.create_table('programs',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('code', sa.String(length=40), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('background', sa.Text(), nullable=True),
    sa.Column('objectives', postgresql.ARRAY(sa.String()), server_default='{}', nullable=False),
    sa.Column('target_beneficiaries', sa.Integer(), nullable=True),
    sa.Column('beneficiaries_description', sa.String(length=2000), nullable=True),
    sa.Column('start_date', sa.Date(), nullable=True),
    sa.Column('end_date', sa.Date(), nullable=True),
    sa.Column('funding_source', sa.String(length=300), nullable=True),
    sa.Column('coordinator_id', sa.Uuid(), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('budget_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint("status IN ('draft', 'submitted', 'approved', 'active', 'completed', 'cancelled')", name=op.f('ck_programs_status_valid')),
    sa.CheckConstraint('end_date IS NULL OR start_date IS NULL OR end_date >= start_date', name=op.f('ck_programs_dates_ordered')),
    sa.ForeignKeyConstraint(['coordinator_id'], ['users.id'], name=op.f('fk_programs_coordinator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programs')),
    sa.UniqueConstraint('code', name=op.f('uq_programs_code'))
    )
    op.create_index(op.f('ix_programs_coordinator_id'), 'programs', ['coordinator_id'], unique=False)
    op.create_index('ix_programs_created_at_id', 'programs', ['created_at', 'id'], unique=False)
    op.create_index('ix_programs_status_created_at_id', 'programs', ['status', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_programs_updated_at'), 'programs', ['updated_at'], unique=False)
    op.create_index('uq_programs_code_lower', 'programs', [sa.literal_column('lower(code)')], unique=True)
    op.create_table('activities',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('scheduled_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('scheduled_end', sa.DateTime(timezone=True), nullable=True),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('status', sa.String(length=20), server_default='planned', nullable=False),
    sa.CheckConstraint("kind IN ('training', 'mentoring', 'deliberation', 'infrastructure', 'outreach', 'monitoring', 'other')", name=op.f('ck_activities_kind_valid')),
    sa.CheckConstraint("status IN ('planned', 'done', 'cancelled')", name=op.f('ck_activities_status_valid')),
    sa.CheckConstraint('scheduled_end IS NULL OR scheduled_end >= scheduled_start', name=op.f('ck_activities_schedule_ordered')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_activities_community_id_communities')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_activities_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_activities'))
    )
    op.create_index('ix_activities_community_id', 'activities', ['community_id'], unique=False)
    op.create_index('ix_activities_program_id_created_at_id', 'activities', ['program_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_activities_updated_at'), 'activities', ['updated_at'], unique=False)
    op.create_table('budget_lines',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=False),
    sa.Column('quantity', sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('unit_cost_amount', sa.BigInteger(), nullable=False),
    sa.Column('total_amount', sa.BigInteger(), nullable=False),
    sa.CheckConstraint('quantity > 0', name=op.f('ck_budget_lines_quantity_positive')),
    sa.CheckConstraint('unit_cost_amount >= 0', name=op.f('ck_budget_lines_unit_cost_non_negative')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_budget_lines_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_budget_lines'))
    )
    op.create_index('ix_budget_lines_program_id_created_at_id', 'budget_lines', ['program_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_budget_lines_updated_at'), 'budget_lines', ['updated_at'], unique=False)
    op.create_table('indicators',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('name', sa.String(length=300), nullable=False),
    sa.Column('unit', sa.String(length=60), nullable=False),
    sa.Column('baseline', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('target', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('direction', sa.String(length=10), server_default='increase', nullable=False),
    sa.CheckConstraint("direction IN ('increase', 'decrease')", name=op.f('ck_indicators_direction_valid')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_indicators_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_indicators'))
    )
    op.create_index('ix_indicators_program_id_created_at_id', 'indicators', ['program_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_indicators_updated_at'), 'indicators', ['updated_at'], unique=False)
    op.create_table('program_communities',
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_program_communities_community_id_communities')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_communities_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'community_id', name=op.f('pk_program_communities'))
    )
    op.create_index(op.f('ix_program_communities_community_id'), 'program_communities', ['community_id'], unique=False)
    op.create_table('measurements',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('indicator_id', sa.Uuid(), nullable=False),
    sa.Column('measured_on', sa.Date(), nullable=False),
    sa.Column('value', sa.Numeric(precision=18, scale=4), nullable=False),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.ForeignKeyConstraint(['indicator_id'], ['indicators.id'], name=op.f('fk_measurements_indicator_id_indicators')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_measurements'))
    )
    op.create_index('ix_measurements_indicator_id_created_at_id', 'measurements', ['indicator_id', 'created_at', 'id'], unique=False)
    op.create_index(op.f('ix_measurements_updated_at'), 'measurements', ['updated_at'], unique=False)
    op.create_table('program_findings',
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.Column('finding_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_program_findings_finding_id_findings')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_program_findings_program_id_programs'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('program_id', 'finding_id', name=op.f('pk_program_findings'))
    )
    op.create_index(op.f('ix_program_findings_finding_id'), 'program_findings', ['finding_id'], unique=False)


def downgrade() -> None:
    # Reviewed by hand: programs, their links, activities, indicators, measurements, budget lines.
    op.drop_index(op.f('ix_program_findings_finding_id'), table_name='program_findings')
    op.drop_table('program_findings')
    op.drop_index(op.f('ix_measurements_updated_at'), table_name='measurements')
    op.drop_index('ix_measurements_indicator_id_created_at_id', table_name='measurements')
    op.drop_table('measurements')
    op.drop_index(op.f('ix_program_communities_community_id'), table_name='program_communities')
    op.drop_table('program_communities')
    op.drop_index(op.f('ix_indicators_updated_at'), table_name='indicators')
    op.drop_index('ix_indicators_program_id_created_at_id', table_name='indicators')
    op.drop_table('indicators')
    op.drop_index(op.f('ix_budget_lines_updated_at'), table_name='budget_lines')
    op.drop_index('ix_budget_lines_program_id_created_at_id', table_name='budget_lines')
    op.drop_table('budget_lines')
    op.drop_index(op.f('ix_activities_updated_at'), table_name='activities')
    op.drop_index('ix_activities_program_id_created_at_id', table_name='activities')
    op.drop_index('ix_activities_community_id', table_name='activities')
    op.drop_table('activities')
    op.drop_index('uq_programs_code_lower', table_name='programs')
    op.drop_index(op.f('ix_programs_updated_at'), table_name='programs')
    op.drop_index('ix_programs_status_created_at_id', table_name='programs')
    op.drop_index('ix_programs_created_at_id', table_name='programs')
    op.drop_index(op.f('ix_programs_coordinator_id'), table_name='programs')
    op.drop_table('programs')
    op.drop_table('program_code_counters')
