"""client books: the department whose book holds each client's record (federated learning)

Revision ID: 0007
Revises: 0004
Create Date: 2026-12-02 08:05:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0007'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.add_column(sa.Column('book', sa.Text(), nullable=True))
        batch_op.create_index('ix_clients_book', ['book'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('clients', schema=None) as batch_op:
        batch_op.drop_index('ix_clients_book')
        batch_op.drop_column('book')
