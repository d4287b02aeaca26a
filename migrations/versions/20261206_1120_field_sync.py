"""field sync (issue 16): change log written by triggers, device mutations, PUT creations

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-06 11:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0011'
down_revision: str | None = '0010'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The synced tables already carry `version` (every ResourceMixin table since 0001): no
# column is added to them. What each change log entry records beside the row: the
# community and the program it belongs to (the feed's cheap scope prefilter; the
# resource's own scope still decides when the row is read).
#   table -> (community expression, program expression), over a transition table row `n`
SYNCED: dict[str, tuple[str, str]] = {
    'communities': ('n.id', 'NULL::uuid'),
    'people': ('n.community_id', 'NULL::uuid'),
    'needs_assessments': ('n.community_id', 'NULL::uuid'),
    'findings': (
        '(SELECT a.community_id FROM needs_assessments a WHERE a.id = n.assessment_id)',
        'NULL::uuid',
    ),
    'ballots': (
        '(SELECT a.community_id FROM needs_assessments a WHERE a.id = n.assessment_id)',
        'NULL::uuid',
    ),
    'programs': ('NULL::uuid', 'n.id'),
    'activities': ('n.community_id', 'n.program_id'),
    'indicators': ('NULL::uuid', 'n.program_id'),
    'measurements': (
        'NULL::uuid',
        '(SELECT i.program_id FROM indicators i WHERE i.id = n.indicator_id)',
    ),
    'participation_records': ('n.community_id', 'n.program_id'),
}
# Tables whose rows may move to another community: the old one gets a `move_out` entry.
MOVABLE = ('people', 'needs_assessments', 'activities', 'participation_records')

_OP = "CASE WHEN n.deleted_at IS NULL THEN 'upsert' ELSE 'delete' END"


def _insert_function(table: str) -> str:
    community, program = SYNCED[table]
    return f"""
CREATE FUNCTION sync_log_{table}_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO sync_changes (resource, row_id, op, version, community_id, program_id)
    SELECT '{table}', n.id, {_OP}, n.version, {community}, {program}
    FROM new_rows n;
    RETURN NULL;
END $$"""


def _update_function(table: str) -> str:
    community, program = SYNCED[table]
    move_out = ''
    if table in MOVABLE:
        move_out = f"""
    INSERT INTO sync_changes (resource, row_id, op, version, community_id, program_id)
    SELECT '{table}', n.id, 'move_out', n.version, o.community_id, NULL
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE o.community_id IS DISTINCT FROM n.community_id;"""
    return f"""
CREATE FUNCTION sync_log_{table}_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN{move_out}
    INSERT INTO sync_changes (resource, row_id, op, version, community_id, program_id)
    SELECT '{table}', n.id, {_OP}, n.version, {community}, {program}
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n IS DISTINCT FROM o;
    RETURN NULL;
END $$"""


SCOPE_FUNCTIONS = {
    'insert': (
        "CREATE FUNCTION sync_log_assignment_insert() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    INSERT INTO sync_changes (resource, row_id, op, version, community_id)\n"
        "    SELECT 'community_facilitators', n.user_id, 'enter', 0, n.community_id\n"
        "    FROM new_rows n;\n"
        "    RETURN NULL;\n"
        "END $$"
    ),
    'delete': (
        "CREATE FUNCTION sync_log_assignment_delete() RETURNS trigger LANGUAGE plpgsql AS $$\n"
        "BEGIN\n"
        "    INSERT INTO sync_changes (resource, row_id, op, version, community_id)\n"
        "    SELECT 'community_facilitators', o.user_id, 'leave', 0, o.community_id\n"
        "    FROM old_rows o;\n"
        "    RETURN NULL;\n"
        "END $$"
    ),
}


def upgrade() -> None:
    # Reviewed by hand: three new tables, no existing row rewritten. The change log gets
    # statement-level AFTER triggers (transition tables: one INSERT ... SELECT per
    # statement, also for batch uploads) on the ten synced tables and on the
    # facilitator assignments. The log starts empty: a device's first sync reads the
    # current rows themselves, the log only what changed after (see app/sync/service.py).
    op.create_table('sync_changes',
    sa.Column('seq', sa.BigInteger(), autoincrement=True, nullable=False),
    sa.Column('txid', sa.BigInteger(), server_default=sa.text('(pg_current_xact_id()::text::bigint)'), nullable=False),
    sa.Column('resource', sa.String(length=40), nullable=False),
    sa.Column('row_id', sa.Uuid(), nullable=False),
    sa.Column('op', sa.String(length=10), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('community_id', sa.Uuid(), nullable=True),
    sa.Column('program_id', sa.Uuid(), nullable=True),
    sa.Column('changed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('seq', name=op.f('pk_sync_changes'))
    )
    op.create_index('ix_sync_changes_txid_seq', 'sync_changes', ['txid', 'seq'], unique=False)
    op.create_index('ix_sync_changes_changed_at', 'sync_changes', ['changed_at'], unique=False)
    op.create_table('sync_mutations',
    sa.Column('user_id', sa.Uuid(), nullable=False),
    sa.Column('device_id', sa.String(length=100), nullable=False),
    sa.Column('mutation_id', sa.String(length=100), nullable=False),
    sa.Column('result', sa.dialects.postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('user_id', 'device_id', 'mutation_id', name=op.f('pk_sync_mutations'))
    )
    op.create_index(op.f('ix_sync_mutations_created_at'), 'sync_mutations', ['created_at'], unique=False)
    op.create_table('sync_horizon',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('txid', sa.BigInteger(), nullable=False),
    sa.Column('seq', sa.BigInteger(), nullable=False),
    sa.Column('purged_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_sync_horizon'))
    )
    op.create_table('put_creations',
    sa.Column('resource', sa.String(length=40), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('body_digest', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.PrimaryKeyConstraint('resource', 'id', name=op.f('pk_put_creations'))
    )
    for table in SYNCED:
        op.execute(_insert_function(table))
        op.execute(_update_function(table))
        op.execute(
            f'CREATE TRIGGER sync_log_insert AFTER INSERT ON {table} '
            f'REFERENCING NEW TABLE AS new_rows '
            f'FOR EACH STATEMENT EXECUTE FUNCTION sync_log_{table}_insert()'
        )
        op.execute(
            f'CREATE TRIGGER sync_log_update AFTER UPDATE ON {table} '
            f'REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows '
            f'FOR EACH STATEMENT EXECUTE FUNCTION sync_log_{table}_update()'
        )
    op.execute(SCOPE_FUNCTIONS['insert'])
    op.execute(SCOPE_FUNCTIONS['delete'])
    op.execute(
        'CREATE TRIGGER sync_log_insert AFTER INSERT ON community_facilitators '
        'REFERENCING NEW TABLE AS new_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION sync_log_assignment_insert()'
    )
    op.execute(
        'CREATE TRIGGER sync_log_delete AFTER DELETE ON community_facilitators '
        'REFERENCING OLD TABLE AS old_rows '
        'FOR EACH STATEMENT EXECUTE FUNCTION sync_log_assignment_delete()'
    )


def downgrade() -> None:
    op.execute('DROP TRIGGER sync_log_delete ON community_facilitators')
    op.execute('DROP TRIGGER sync_log_insert ON community_facilitators')
    op.execute('DROP FUNCTION sync_log_assignment_delete()')
    op.execute('DROP FUNCTION sync_log_assignment_insert()')
    for table in reversed(list(SYNCED)):
        op.execute(f'DROP TRIGGER sync_log_update ON {table}')
        op.execute(f'DROP TRIGGER sync_log_insert ON {table}')
        op.execute(f'DROP FUNCTION sync_log_{table}_update()')
        op.execute(f'DROP FUNCTION sync_log_{table}_insert()')
    op.drop_table('put_creations')
    op.drop_table('sync_horizon')
    op.drop_index(op.f('ix_sync_mutations_created_at'), table_name='sync_mutations')
    op.drop_table('sync_mutations')
    op.drop_index('ix_sync_changes_changed_at', table_name='sync_changes')
    op.drop_index('ix_sync_changes_txid_seq', table_name='sync_changes')
    op.drop_table('sync_changes')
