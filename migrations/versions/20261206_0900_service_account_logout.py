"""service accounts: tokens_valid_after, so that an account's logout ends its tokens

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 09:00:00+00:00
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0008'
down_revision: str | None = '0007'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Reviewed by hand: one nullable column, no rewrite of existing rows.
    op.add_column(
        'service_accounts',
        sa.Column('tokens_valid_after', sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_column('service_accounts', 'tokens_valid_after')
