"""decision context: what a decision was asked for, so redemption can check it again

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 03:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('department', sa.Text(), nullable=False, server_default=''))
        batch_op.add_column(sa.Column('access', sa.Text(), nullable=False, server_default='row'))
        batch_op.add_column(sa.Column('stage', sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column('proof_presented', sa.Integer(), nullable=False, server_default='0')
        )


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.drop_column('proof_presented')
        batch_op.drop_column('stage')
        batch_op.drop_column('access')
        batch_op.drop_column('department')
