"""needs assessments

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27 22:17:12.834300+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401  (autogenerate may reference sqlmodel types)
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: needs assessments, findings, ballots, status history.
    op.create_table('status_transitions',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('resource', sa.String(length=60), nullable=False),
    sa.Column('resource_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=30), nullable=False),
    sa.Column('to_status', sa.String(length=30), nullable=False),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.Column('note', sa.String(length=2000), nullable=True),
    sa.Column('at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_transitions'))
    )
    op.create_index('ix_status_transitions_resource', 'status_transitions', ['resource', 'resource_id', 'at'], unique=False)
    op.create_table('needs_assessments',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('methods', postgresql.ARRAY(sa.String()), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='planned', nullable=False),
    sa.Column('started_on', sa.Date(), nullable=True),
    sa.Column('completed_on', sa.Date(), nullable=True),
    sa.Column('facilitator_id', sa.Uuid(), nullable=True),
    sa.Column('respondent_count', sa.Integer(), nullable=True),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.CheckConstraint("cardinality(methods) > 0 AND methods <@ ARRAY['survey', 'focus_group', 'observation', 'interview', 'participatory_mapping', 'transect_walk']::varchar[]", name=op.f('ck_needs_assessments_methods_valid')),
    sa.CheckConstraint("status IN ('planned', 'in_progress', 'completed', 'validated', 'cancelled')", name=op.f('ck_needs_assessments_status_valid')),
    sa.CheckConstraint('respondent_count IS NULL OR respondent_count >= 0', name=op.f('ck_needs_assessments_respondent_count_non_negative')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_needs_assessments_community_id_communities')),
    sa.ForeignKeyConstraint(['facilitator_id'], ['users.id'], name=op.f('fk_needs_assessments_facilitator_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_needs_assessments'))
    )
    op.create_index('ix_needs_assessments_community_id_created_at_id', 'needs_assessments', ['community_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_needs_assessments_created_at_id', 'needs_assessments', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_needs_assessments_facilitator_id'), 'needs_assessments', ['facilitator_id'], unique=False)
    op.create_index(op.f('ix_needs_assessments_updated_at'), 'needs_assessments', ['updated_at'], unique=False)
    op.create_table('ballots',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('person_id', sa.Uuid(), nullable=False),
    sa.Column('ranking', postgresql.ARRAY(sa.Uuid()), nullable=False),
    sa.CheckConstraint('cardinality(ranking) > 0', name=op.f('ck_ballots_ranking_not_empty')),
    sa.ForeignKeyConstraint(['assessment_id'], ['needs_assessments.id'], name=op.f('fk_ballots_assessment_id_needs_assessments')),
    sa.ForeignKeyConstraint(['person_id'], ['people.id'], name=op.f('fk_ballots_person_id_people')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_ballots'))
    )
    op.create_index('ix_ballots_person_id', 'ballots', ['person_id'], unique=False)
    op.create_index(op.f('ix_ballots_updated_at'), 'ballots', ['updated_at'], unique=False)
    op.create_index('uq_ballots_assessment_person_live', 'ballots', ['assessment_id', 'person_id'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('findings',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('assessment_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=20), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('description', sa.Text(), nullable=True),
    sa.Column('severity', sa.Integer(), nullable=True),
    sa.Column('affected_people', sa.Integer(), nullable=True),
    sa.Column('evidence', sa.Text(), nullable=True),
    sa.Column('priority_rank', sa.Integer(), nullable=True),
    sa.CheckConstraint("category IN ('education', 'health', 'economy', 'infrastructure', 'environment', 'social', 'governance', 'other')", name=op.f('ck_findings_category_valid')),
    sa.CheckConstraint("kind IN ('problem', 'need', 'potential')", name=op.f('ck_findings_kind_valid')),
    sa.CheckConstraint("severity IS NULL OR kind IN ('problem', 'need')", name=op.f('ck_findings_severity_only_for_problems_and_needs')),
    sa.CheckConstraint('severity IS NULL OR severity BETWEEN 1 AND 5', name=op.f('ck_findings_severity_range')),
    sa.ForeignKeyConstraint(['assessment_id'], ['needs_assessments.id'], name=op.f('fk_findings_assessment_id_needs_assessments')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_findings'))
    )
    op.create_index('ix_findings_assessment_id_created_at_id', 'findings', ['assessment_id', 'created_at', 'id'], unique=False)
    op.create_index('ix_findings_created_at_id', 'findings', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_findings_updated_at'), 'findings', ['updated_at'], unique=False)


def downgrade() -> None:
    # Reviewed by hand: needs assessments, findings, ballots, status history.
    op.drop_index(op.f('ix_findings_updated_at'), table_name='findings')
    op.drop_index('ix_findings_created_at_id', table_name='findings')
    op.drop_index('ix_findings_assessment_id_created_at_id', table_name='findings')
    op.drop_table('findings')
    op.drop_index('uq_ballots_assessment_person_live', table_name='ballots', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index(op.f('ix_ballots_updated_at'), table_name='ballots')
    op.drop_index('ix_ballots_person_id', table_name='ballots')
    op.drop_table('ballots')
    op.drop_index(op.f('ix_needs_assessments_updated_at'), table_name='needs_assessments')
    op.drop_index(op.f('ix_needs_assessments_facilitator_id'), table_name='needs_assessments')
    op.drop_index('ix_needs_assessments_created_at_id', table_name='needs_assessments')
    op.drop_index('ix_needs_assessments_community_id_created_at_id', table_name='needs_assessments')
    op.drop_table('needs_assessments')
    op.drop_index('ix_status_transitions_resource', table_name='status_transitions')
    op.drop_table('status_transitions')
