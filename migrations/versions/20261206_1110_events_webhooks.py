"""events outbox and webhooks (issue 17)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-06 11:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0010'
down_revision: str | None = '0009'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# A statement trigger wakes the dispatchers when events commit (NOTIFY is delivered at
# commit, and never for a transaction that rolls back). Payload-free: listeners re-read.
NOTIFY_FUNCTION = """
CREATE FUNCTION berdaya_events_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('berdaya_events', '');
    RETURN NULL;
END;
$$
"""
NOTIFY_TRIGGER = """
CREATE TRIGGER events_notify AFTER INSERT ON events
FOR EACH STATEMENT EXECUTE FUNCTION berdaya_events_notify()
"""


def upgrade() -> None:
    # Reviewed by hand: three new tables (events, webhook_endpoints, webhook_deliveries)
    # and the one-row fan-out cursor; no existing table is touched. events.txid is the
    # writing transaction's id (pg_current_xact_id, PostgreSQL 13+): the feed orders by
    # (txid, seq) and reads below pg_snapshot_xmin, so a late commit is never skipped.
    op.create_table('events',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('seq', sa.BigInteger(), sa.Identity(always=False), nullable=False),
    sa.Column('txid', sa.BigInteger(), server_default=sa.text('(pg_current_xact_id()::text)::bigint'), nullable=False),
    sa.Column('type', sa.String(length=60), nullable=False),
    sa.Column('occurred_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('data', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('resource', sa.String(length=40), nullable=False),
    sa.Column('program_ids', postgresql.ARRAY(sa.UUID()), server_default=sa.text("'{}'::uuid[]"), nullable=False),
    sa.Column('partner_id', sa.Uuid(), nullable=True),
    sa.Column('community_id', sa.Uuid(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_events')),
    sa.UniqueConstraint('seq', name=op.f('uq_events_seq'))
    )
    op.create_index('ix_events_txid_seq', 'events', ['txid', 'seq'], unique=False)
    op.create_index('ix_events_type_txid_seq', 'events', ['type', 'txid', 'seq'], unique=False)
    op.execute(NOTIFY_FUNCTION)
    op.execute(NOTIFY_TRIGGER)

    op.create_table('webhook_fanout',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('last_txid', sa.BigInteger(), nullable=False),
    sa.Column('last_seq', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_fanout'))
    )

    op.create_table('webhook_endpoints',
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('deleted_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('version', sa.Integer(), server_default='1', nullable=False),
    sa.Column('organization_id', sa.Uuid(), nullable=True),
    sa.Column('url', sa.String(length=2000), nullable=False),
    sa.Column('event_types', postgresql.ARRAY(sa.String(length=60)), nullable=False),
    sa.Column('description', sa.String(length=500), nullable=True),
    sa.Column('is_active', sa.Boolean(), nullable=False),
    sa.Column('disabled_reason', sa.String(length=40), nullable=True),
    sa.Column('secret_encrypted', sa.Text(), nullable=False),
    sa.Column('previous_secret_encrypted', sa.Text(), nullable=True),
    sa.Column('previous_secret_expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_by', sa.Uuid(), nullable=True),
    sa.Column('failing_since', sa.DateTime(timezone=True), nullable=True),
    sa.Column('last_success_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("url ~ '^https?://'", name=op.f('ck_webhook_endpoints_url_http')),
    sa.ForeignKeyConstraint(['organization_id'], ['partners.id'], name=op.f('fk_webhook_endpoints_organization_id_partners'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_endpoints'))
    )
    op.create_index('ix_webhook_endpoints_organization_id', 'webhook_endpoints', ['organization_id'], unique=False)
    op.create_index(op.f('ix_webhook_endpoints_updated_at'), 'webhook_endpoints', ['updated_at'], unique=False)

    op.create_table('webhook_deliveries',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('endpoint_id', sa.Uuid(), nullable=False),
    sa.Column('event_id', sa.Uuid(), nullable=True),
    sa.Column('payload', postgresql.JSONB(astext_type=sa.Text()), nullable=True),
    sa.Column('event_type', sa.String(length=60), nullable=False),
    sa.Column('status', sa.String(length=20), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('next_attempt_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('lease_until', sa.DateTime(timezone=True), nullable=True),
    sa.Column('lease_owner', sa.String(length=80), nullable=True),
    sa.Column('last_status_code', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.String(length=200), nullable=True),
    sa.Column('last_duration_ms', sa.Integer(), nullable=True),
    sa.Column('last_response', sa.String(length=1024), nullable=True),
    sa.Column('attempt_log', postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False),
    sa.Column('delivered_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("status IN ('pending', 'delivering', 'delivered', 'failed', 'skipped')", name=op.f('ck_webhook_deliveries_status_valid')),
    sa.ForeignKeyConstraint(['endpoint_id'], ['webhook_endpoints.id'], name=op.f('fk_webhook_deliveries_endpoint_id_webhook_endpoints'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['event_id'], ['events.id'], name=op.f('fk_webhook_deliveries_event_id_events'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_webhook_deliveries'))
    )
    op.create_index('ix_webhook_deliveries_due', 'webhook_deliveries', ['next_attempt_at'], unique=False, postgresql_where=sa.text("status IN ('pending', 'delivering')"))
    op.create_index('ix_webhook_deliveries_endpoint_created', 'webhook_deliveries', ['endpoint_id', 'created_at', 'id'], unique=False)
    op.create_index('uq_webhook_deliveries_endpoint_event', 'webhook_deliveries', ['endpoint_id', 'event_id'], unique=True, postgresql_where=sa.text('event_id IS NOT NULL'))


def downgrade() -> None:
    op.drop_index('uq_webhook_deliveries_endpoint_event', table_name='webhook_deliveries', postgresql_where=sa.text('event_id IS NOT NULL'))
    op.drop_index('ix_webhook_deliveries_endpoint_created', table_name='webhook_deliveries')
    op.drop_index('ix_webhook_deliveries_due', table_name='webhook_deliveries', postgresql_where=sa.text("status IN ('pending', 'delivering')"))
    op.drop_table('webhook_deliveries')
    op.drop_index(op.f('ix_webhook_endpoints_updated_at'), table_name='webhook_endpoints')
    op.drop_index('ix_webhook_endpoints_organization_id', table_name='webhook_endpoints')
    op.drop_table('webhook_endpoints')
    op.drop_table('webhook_fanout')
    op.execute('DROP TRIGGER events_notify ON events')
    op.execute('DROP FUNCTION berdaya_events_notify()')
    op.drop_index('ix_events_type_txid_seq', table_name='events')
    op.drop_index('ix_events_txid_seq', table_name='events')
    op.drop_table('events')
