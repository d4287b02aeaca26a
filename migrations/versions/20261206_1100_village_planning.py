"""village planning (issue 18): planning proposals, funding lines, Indeks Desa

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-06 11:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0009'
down_revision: str | None = '0008'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: four new planning tables and two link tables; development_indices
    # gains `scheme` and the Indeks Desa columns, its IDM columns become nullable (only
    # Indeks Desa rows leave them empty) and the one-per-year index becomes one per year
    # and scheme. No existing row is rewritten.
    op.create_table('planning_proposals',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=False),
    sa.Column('title', sa.String(length=300), nullable=False),
    sa.Column('planning_year', sa.Integer(), nullable=False),
    sa.Column('origin_forum', sa.String(length=30), nullable=False),
    sa.Column('proposed_by', sa.String(length=200), nullable=True),
    sa.Column('bidang', sa.Integer(), nullable=False),
    sa.Column('kegiatan', sa.String(length=300), nullable=True),
    sa.Column('location', sa.String(length=300), nullable=True),
    sa.Column('volume', sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column('unit', sa.String(length=60), nullable=True),
    sa.Column('beneficiaries_female', sa.Integer(), nullable=True),
    sa.Column('beneficiaries_male', sa.Integer(), nullable=True),
    sa.Column('beneficiaries_poor_households', sa.Integer(), nullable=True),
    sa.Column('beneficiaries_disability', sa.Integer(), nullable=True),
    sa.Column('estimated_cost_amount', sa.BigInteger(), nullable=False),
    sa.Column('proposed_funding_source', sa.String(length=40), nullable=False),
    sa.Column('status', sa.String(length=20), server_default='draft', nullable=False),
    sa.Column('carried_over_from_id', sa.Uuid(), nullable=True),
    sa.Column('funding_planned_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('funding_realised_amount', sa.BigInteger(), server_default='0', nullable=False),
    sa.CheckConstraint("origin_forum IN ('musdus', 'musdes', 'musrenbang_desa', 'musrenbang_kecamatan')", name=op.f('ck_planning_proposals_origin_forum_valid')),
    sa.CheckConstraint("proposed_funding_source IN ('dana_desa', 'add', 'pades', 'bagi_hasil', 'bantuan_keuangan_provinsi', 'bantuan_keuangan_kabupaten', 'apbd', 'apbn', 'partner', 'swadaya')", name=op.f('ck_planning_proposals_proposed_funding_source_valid')),
    sa.CheckConstraint("status IN ('draft', 'agreed', 'in_rkp_desa', 'in_apbdes', 'realised', 'forwarded', 'accommodated', 'not_accommodated', 'deferred', 'rejected')", name=op.f('ck_planning_proposals_status_valid')),
    sa.CheckConstraint('bidang BETWEEN 1 AND 5', name=op.f('ck_planning_proposals_bidang_range')),
    sa.CheckConstraint('coalesce(beneficiaries_female, 0) >= 0 AND coalesce(beneficiaries_male, 0) >= 0 AND coalesce(beneficiaries_poor_households, 0) >= 0 AND coalesce(beneficiaries_disability, 0) >= 0', name=op.f('ck_planning_proposals_beneficiaries_non_negative')),
    sa.CheckConstraint('estimated_cost_amount >= 0', name=op.f('ck_planning_proposals_estimated_cost_non_negative')),
    sa.CheckConstraint('funding_planned_amount >= 0 AND funding_realised_amount >= 0', name=op.f('ck_planning_proposals_funding_totals_non_negative')),
    sa.CheckConstraint('planning_year BETWEEN 2015 AND 2100', name=op.f('ck_planning_proposals_planning_year_range')),
    sa.ForeignKeyConstraint(['carried_over_from_id'], ['planning_proposals.id'], name=op.f('fk_planning_proposals_carried_over_from_id_planning_proposals')),
    sa.ForeignKeyConstraint(['community_id'], ['communities.id'], name=op.f('fk_planning_proposals_community_id_communities')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planning_proposals'))
    )
    op.create_index('ix_planning_proposals_community_id_year', 'planning_proposals', ['community_id', 'planning_year'], unique=False)
    op.create_index('ix_planning_proposals_created_at_id', 'planning_proposals', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_planning_proposals_updated_at'), 'planning_proposals', ['updated_at'], unique=False)
    op.create_index('uq_planning_proposals_carried_over_from_live', 'planning_proposals', ['carried_over_from_id'], unique=True, postgresql_where=sa.text('carried_over_from_id IS NOT NULL AND deleted_at IS NULL'))
    op.create_table('planning_proposal_funding',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('fiscal_year', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=40), nullable=False),
    sa.Column('planned_amount', sa.BigInteger(), nullable=False),
    sa.Column('realised_amount', sa.BigInteger(), nullable=True),
    sa.Column('apbdes_ref', sa.String(length=200), nullable=True),
    sa.CheckConstraint("source IN ('dana_desa', 'add', 'pades', 'bagi_hasil', 'bantuan_keuangan_provinsi', 'bantuan_keuangan_kabupaten', 'apbd', 'apbn', 'partner', 'swadaya')", name=op.f('ck_planning_proposal_funding_source_valid')),
    sa.CheckConstraint('fiscal_year BETWEEN 2015 AND 2100', name=op.f('ck_planning_proposal_funding_fiscal_year_range')),
    sa.CheckConstraint('planned_amount >= 0', name=op.f('ck_planning_proposal_funding_planned_non_negative')),
    sa.CheckConstraint('realised_amount IS NULL OR (realised_amount >= 0 AND realised_amount <= planned_amount)', name=op.f('ck_planning_proposal_funding_realised_within_planned')),
    sa.ForeignKeyConstraint(['proposal_id'], ['planning_proposals.id'], name=op.f('fk_planning_proposal_funding_proposal_id_planning_proposals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planning_proposal_funding'))
    )
    op.create_index('ix_planning_proposal_funding_created_at_id', 'planning_proposal_funding', ['created_at', 'id'], unique=False)
    op.create_index(op.f('ix_planning_proposal_funding_updated_at'), 'planning_proposal_funding', ['updated_at'], unique=False)
    op.create_index('uq_planning_proposal_funding_year_source_live', 'planning_proposal_funding', ['proposal_id', 'fiscal_year', 'source'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_table('planning_proposal_transitions',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('from_status', sa.String(length=20), nullable=False),
    sa.Column('to_status', sa.String(length=20), nullable=False),
    sa.Column('decided_on', sa.Date(), nullable=False),
    sa.Column('forum', sa.String(length=30), nullable=True),
    sa.Column('document_ref', sa.String(length=200), nullable=True),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('actor_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint("forum IS NULL OR forum IN ('musdus', 'musdes', 'musrenbang_desa', 'musrenbang_kecamatan', 'musrenbang_kabupaten', 'musyawarah_bpd', 'other')", name=op.f('ck_planning_proposal_transitions_forum_valid')),
    sa.CheckConstraint("from_status IN ('draft', 'agreed', 'in_rkp_desa', 'in_apbdes', 'realised', 'forwarded', 'accommodated', 'not_accommodated', 'deferred', 'rejected')", name=op.f('ck_planning_proposal_transitions_from_status_valid')),
    sa.CheckConstraint("to_status IN ('draft', 'agreed', 'in_rkp_desa', 'in_apbdes', 'realised', 'forwarded', 'accommodated', 'not_accommodated', 'deferred', 'rejected')", name=op.f('ck_planning_proposal_transitions_to_status_valid')),
    sa.ForeignKeyConstraint(['proposal_id'], ['planning_proposals.id'], name=op.f('fk_planning_proposal_transitions_proposal_id_planning_proposals')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_planning_proposal_transitions'))
    )
    op.create_index('ix_planning_proposal_transitions_created_at_id', 'planning_proposal_transitions', ['created_at', 'id'], unique=False)
    op.create_index('ix_planning_proposal_transitions_proposal_id', 'planning_proposal_transitions', ['proposal_id', 'decided_on'], unique=False)
    op.create_index(op.f('ix_planning_proposal_transitions_updated_at'), 'planning_proposal_transitions', ['updated_at'], unique=False)
    op.create_table('planning_proposal_programs',
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('program_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['program_id'], ['programs.id'], name=op.f('fk_planning_proposal_programs_program_id_programs')),
    sa.ForeignKeyConstraint(['proposal_id'], ['planning_proposals.id'], name=op.f('fk_planning_proposal_programs_proposal_id_planning_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', 'program_id', name=op.f('pk_planning_proposal_programs'))
    )
    op.create_index(op.f('ix_planning_proposal_programs_program_id'), 'planning_proposal_programs', ['program_id'], unique=False)
    op.create_table('planning_proposal_findings',
    sa.Column('proposal_id', sa.Uuid(), nullable=False),
    sa.Column('finding_id', sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(['finding_id'], ['findings.id'], name=op.f('fk_planning_proposal_findings_finding_id_findings')),
    sa.ForeignKeyConstraint(['proposal_id'], ['planning_proposals.id'], name=op.f('fk_planning_proposal_findings_proposal_id_planning_proposals'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('proposal_id', 'finding_id', name=op.f('pk_planning_proposal_findings'))
    )
    op.create_index(op.f('ix_planning_proposal_findings_finding_id'), 'planning_proposal_findings', ['finding_id'], unique=False)
    op.add_column('development_indices', sa.Column('scheme', sa.String(length=20), server_default='idm', nullable=False))
    op.add_column('development_indices', sa.Column('layanan_dasar', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('sosial', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('ekonomi', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('lingkungan', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('aksesibilitas', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('tata_kelola', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('score', sa.Numeric(precision=5, scale=2), nullable=True))
    op.add_column('development_indices', sa.Column('status', sa.String(length=20), nullable=True))
    op.alter_column('development_indices', 'iks',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=True)
    op.alter_column('development_indices', 'ike',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=True)
    op.alter_column('development_indices', 'ikl',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=True)
    op.alter_column('development_indices', 'idm_score',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=True)
    op.alter_column('development_indices', 'idm_status',
               existing_type=sa.VARCHAR(length=20),
               nullable=True)
    op.drop_index(op.f('uq_development_indices_community_year_live'), table_name='development_indices', postgresql_where='(deleted_at IS NULL)')
    op.create_index('uq_development_indices_community_year_scheme_live', 'development_indices', ['community_id', 'year', 'scheme'], unique=True, postgresql_where=sa.text('deleted_at IS NULL'))
    # Indeks Desa rows carry the six dimensions and the published score and status; IDM rows
    # keep their three sub-indices and derived score and status. Existing rows are all IDM:
    # `scheme` gets the constant default 'idm' (no table rewrite on PostgreSQL 11+), their
    # values are not touched, and the checks below hold for them as they stand.
    op.create_check_constraint(
        op.f('ck_development_indices_scheme_valid'),
        'development_indices',
        "scheme IN ('idm', 'indeks_desa')",
    )
    op.create_check_constraint(
        op.f('ck_development_indices_status_valid'),
        'development_indices',
        "status IN ('sangat_tertinggal', 'tertinggal', 'berkembang', 'maju', 'mandiri')",
    )
    op.create_check_constraint(
        op.f('ck_development_indices_idm_fields'),
        'development_indices',
        "scheme <> 'idm' OR (iks IS NOT NULL AND ike IS NOT NULL AND ikl IS NOT NULL"
        " AND idm_score IS NOT NULL AND idm_status IS NOT NULL AND score IS NULL"
        " AND status IS NULL AND layanan_dasar IS NULL AND sosial IS NULL AND ekonomi IS NULL"
        " AND lingkungan IS NULL AND aksesibilitas IS NULL AND tata_kelola IS NULL)",
    )
    op.create_check_constraint(
        op.f('ck_development_indices_indeks_desa_fields'),
        'development_indices',
        "scheme <> 'indeks_desa' OR (score IS NOT NULL AND status IS NOT NULL"
        " AND iks IS NULL AND ike IS NULL AND ikl IS NULL AND idm_score IS NULL"
        " AND idm_status IS NULL)",
    )


def downgrade() -> None:
    # Indeks Desa rows cannot be expressed in the old table (IDM columns NOT NULL): they are
    # removed by the downgrade; IDM rows come back exactly as they were.
    op.execute("DELETE FROM development_indices WHERE scheme = 'indeks_desa'")
    for name in ('indeks_desa_fields', 'idm_fields', 'status_valid', 'scheme_valid'):
        op.drop_constraint(
            op.f(f'ck_development_indices_{name}'), 'development_indices', type_='check'
        )
    op.drop_index('uq_development_indices_community_year_scheme_live', table_name='development_indices', postgresql_where=sa.text('deleted_at IS NULL'))
    op.create_index(op.f('uq_development_indices_community_year_live'), 'development_indices', ['community_id', 'year'], unique=True, postgresql_where='(deleted_at IS NULL)')
    op.alter_column('development_indices', 'idm_status',
               existing_type=sa.VARCHAR(length=20),
               nullable=False)
    op.alter_column('development_indices', 'idm_score',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=False)
    op.alter_column('development_indices', 'ikl',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=False)
    op.alter_column('development_indices', 'ike',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=False)
    op.alter_column('development_indices', 'iks',
               existing_type=sa.NUMERIC(precision=5, scale=4),
               nullable=False)
    op.drop_column('development_indices', 'status')
    op.drop_column('development_indices', 'score')
    op.drop_column('development_indices', 'tata_kelola')
    op.drop_column('development_indices', 'aksesibilitas')
    op.drop_column('development_indices', 'lingkungan')
    op.drop_column('development_indices', 'ekonomi')
    op.drop_column('development_indices', 'sosial')
    op.drop_column('development_indices', 'layanan_dasar')
    op.drop_column('development_indices', 'scheme')
    op.drop_index(op.f('ix_planning_proposal_findings_finding_id'), table_name='planning_proposal_findings')
    op.drop_table('planning_proposal_findings')
    op.drop_index(op.f('ix_planning_proposal_programs_program_id'), table_name='planning_proposal_programs')
    op.drop_table('planning_proposal_programs')
    op.drop_index(op.f('ix_planning_proposal_transitions_updated_at'), table_name='planning_proposal_transitions')
    op.drop_index('ix_planning_proposal_transitions_proposal_id', table_name='planning_proposal_transitions')
    op.drop_index('ix_planning_proposal_transitions_created_at_id', table_name='planning_proposal_transitions')
    op.drop_table('planning_proposal_transitions')
    op.drop_index('uq_planning_proposal_funding_year_source_live', table_name='planning_proposal_funding', postgresql_where=sa.text('deleted_at IS NULL'))
    op.drop_index(op.f('ix_planning_proposal_funding_updated_at'), table_name='planning_proposal_funding')
    op.drop_index('ix_planning_proposal_funding_created_at_id', table_name='planning_proposal_funding')
    op.drop_table('planning_proposal_funding')
    op.drop_index('uq_planning_proposals_carried_over_from_live', table_name='planning_proposals', postgresql_where=sa.text('carried_over_from_id IS NOT NULL AND deleted_at IS NULL'))
    op.drop_index(op.f('ix_planning_proposals_updated_at'), table_name='planning_proposals')
    op.drop_index('ix_planning_proposals_created_at_id', table_name='planning_proposals')
    op.drop_index('ix_planning_proposals_community_id_year', table_name='planning_proposals')
    op.drop_table('planning_proposals')
