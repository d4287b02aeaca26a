"""participation records

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 22:28:28.842648+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op


revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: participation records with their uniqueness rules.
    op.create_table('participation_records',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('activity_id', sa.Uuid(), nullable=True),
    sa.Column('assessment_id', sa.Uuid(), nullable=True),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=True),
    sa.Column('date', sa.Date(), nullable=False),
    sa.Column('level', sa.String(length=20), nullable=False),
    sa.Column('role', sa.String(length=20), nullable=False),
    sa.Column('hours', sa.Numeric(precision=6, scale=2), nullable=True),
    sa.Column('notes', sa.String(length=2000), nullable=True),
    sa.Column('external_id', sa.String(length=200), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=False),
    sa.CheckConstraint("level IN ('inform', 'consult', 'involve', 'collaborate', 'empower')", name=op.f('ck_participation_records_level_valid')),
    sa.CheckConstraint("role IN ('beneficiary', 'volunteer', 'cadre', 'speaker', 'decision_maker', 'facilitator')", name=op.f('ck_participation_records_role_valid')),
    sa.CheckConstraint('(activity_id IS NULL) <> (assessment_id IS NULL)', name=op.f('ck_participation_records_exactly_one_context')),
    sa.CheckConstraint('hours IS NULL OR (hours >= 0 AND hours <= 1000)', name=op.f('ck_participation_records_hours_range')),
    sa.ForeignKeyConstraint(['activity_id'], ['activities.id'], name=op.f('fk_participation_records_activity_id_activities')),
    sa.ForeignKeyConstraint(['assessment_id'], ['needs_assessments.id'], name=op.f('fk_participation_records_assessment_id_needs_assessments')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_participation_records_community_id_communities')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_participation_records_person_id_people')),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_participation_records_program_id_programs')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_participation_records'))
    )
    op.create_index('ix_participation_records_activity_id', 'participation_records', ['activity_id'], unique=False)
    op.create_index('ix_participation_records_assessment_id', 'participation_records', ['assessment_id'], unique=False)
    op.create_index('ix_participation_records_community_id_created_at_id', 'participation_records', ['community_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_participation_records_created_at_id', 'participation_records', ['created_at', 'id'], unique=False)
    op.create_index('ix_participation_records_person_id', 'participation_records', ['person_id'], unique=False)
    op.create_index('ix_participation_records_program_id', 'participation_records', ['program_id'], unique=False)
    op.create_index(op.f('ix_participation_records_updated_at'), 'participation_records', ['updated_at'], unique=False)
    op.create_index('uq_participation_creator_external_id_live', 'participation_records', ['created_by', 'external_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND external_id IS NOT NULL'))
    op.create_index('uq_participation_person_activity_live', 'participation_records', ['person_id', 'activity_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND activity_id IS NOT NULL'))
    op.create_index('uq_participation_person_assessment_live', 'participation_records', ['person_id', 'assessment_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL AND assessment_id IS NOT NULL'))


def downgrade() -> None:
    # Reviewed by hand: participation records with their uniqueness rules.
    op.drop_index('uq_participation_person_assessment_live', table_name='participation_records', postgresql_where=sa.text('deleted_at IS NULL AND assessment_id IS NOT NULL'))
    op.drop_index('uq_participation_person_activity_live', table_name='participation_records', postgresql_where=sa.text('deleted_at IS NULL AND activity_id IS NOT NULL'))
    op.drop_index('uq_participation_creator_external_id_live', table_name='participation_records', postgresql_where=sa.text('deleted_at IS NULL AND external_id IS NOT NULL'))
    op.drop_index(op.f('ix_participation_records_updated_at'), table_name='participation_records')
    op.drop_index('ix_participation_records_program_id', table_name='participation_records')
    op.drop_index('ix_participation_records_person_id', table_name='participation_records')
    op.drop_index('ix_participation_records_created_at_id', table_name='participation_records')
    op.drop_index('ix_participation_records_community_id_created_at_id', table_name='participation_records')
    op.drop_index('ix_participation_records_assessment_id', table_name='participation_records')
    op.drop_index('ix_participation_records_activity_id', table_name='participation_records')
    op.drop_table('participation_records')
