"""zk: desk keys, attestations, proof requests and verified proofs; decisions name the proof

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 08:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The KYC desk's Ed25519 verification keys; the private key is a key file. A key with
    # retired_at set has been rotated out and no longer vouches for any attestation.
    op.create_table('zk_desk_keys',
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('public_key', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('retired_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('key_id')
    )
    # Signed attestations (commitments, never values); the opening is in the client's vault.
    op.create_table('zk_attestations',
    sa.Column('attestation_id', sa.Text(), nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('attribute', sa.Text(), nullable=False),
    sa.Column('key_id', sa.Text(), nullable=False),
    sa.Column('issued_at', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.Text(), nullable=False),
    sa.Column('document', sa.Text(), nullable=False),
    sa.Column('superseded_at', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('attestation_id')
    )
    op.create_index('ix_zk_attestations_client', 'zk_attestations', ['client_id', 'attribute'])
    op.create_table('zk_proof_requests',
    sa.Column('request_id', sa.Text(), nullable=False),
    sa.Column('nonce', sa.Text(), nullable=False),
    sa.Column('app_id', sa.Text(), nullable=False),
    sa.Column('department', sa.Text(), nullable=False),
    sa.Column('client_id', sa.Text(), nullable=False),
    sa.Column('purpose', sa.Text(), nullable=False),
    sa.Column('rule_id', sa.Text(), nullable=False),
    sa.Column('attribute', sa.Text(), nullable=False),
    sa.Column('category', sa.Text(), nullable=False),
    sa.Column('predicate', sa.Text(), nullable=False),
    sa.Column('decision_id', sa.Text(), nullable=False),
    sa.Column('created_at', sa.Text(), nullable=False),
    sa.Column('expires_at', sa.Text(), nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('envelope', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('request_id')
    )
    op.create_index('ix_zk_proof_requests_client', 'zk_proof_requests', ['client_id', 'status'])
    # A verified proof, once per request; used_by is the decision it satisfied (single use).
    op.create_table('zk_proofs',
    sa.Column('proof_id', sa.Text(), nullable=False),
    sa.Column('request_id', sa.Text(), nullable=False),
    sa.Column('attestation_id', sa.Text(), nullable=False),
    sa.Column('verified_at', sa.Text(), nullable=False),
    sa.Column('ledger_index', sa.BigInteger(), nullable=False),
    sa.Column('used_by', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('proof_id'),
    sa.UniqueConstraint('request_id')
    )
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('proof_id', sa.Text(), nullable=True))
        batch_op.drop_column('proof_presented')


def downgrade() -> None:
    with op.batch_alter_table('decisions', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('proof_presented', sa.Integer(), nullable=False, server_default='0')
        )
        batch_op.drop_column('proof_id')
    op.drop_table('zk_proofs')
    op.drop_index('ix_zk_proof_requests_client', table_name='zk_proof_requests')
    op.drop_table('zk_proof_requests')
    op.drop_index('ix_zk_attestations_client', table_name='zk_attestations')
    op.drop_table('zk_attestations')
    op.drop_table('zk_desk_keys')
