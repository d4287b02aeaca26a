"""rate limits: per-principal fixed-window counters (partner service accounts)

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 23:05:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0007'
down_revision: str | None = '0006'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: one fixed-window counter row per rate-limited principal.
    op.create_table('rate_limit_counters',
    sa.Column('principal_id', sa.Uuid(), nullable=False),
    sa.Column('window_start', sa.DateTime(timezone=True), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('principal_id', name=op.f('pk_rate_limit_counters'))
    )


def downgrade() -> None:
    op.drop_table('rate_limit_counters')
