"""dp budgets: each analyst's differential-privacy grant and what their releases spent

Revision ID: 0005
Revises: 0007
Create Date: 2026-12-02 08:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0005'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Amounts are exact decimal text (consent_ledger/budgets.py); the ledger is the record,
    # this table the cache a release checks and spends in its own transaction.
    op.create_table('dp_budgets',
    sa.Column('analyst_id', sa.Text(), nullable=False),
    sa.Column('dataset', sa.Text(), nullable=False),
    sa.Column('department', sa.Text(), nullable=False),
    sa.Column('epsilon_total', sa.Text(), nullable=False),
    sa.Column('delta_total', sa.Text(), nullable=False),
    sa.Column('epsilon_spent', sa.Text(), nullable=False),
    sa.Column('delta_spent', sa.Text(), nullable=False),
    sa.Column('releases', sa.Integer(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('analyst_id')
    )


def downgrade() -> None:
    op.drop_table('dp_budgets')
