"""Database tables (SQLModel). Alembic migrations are generated from this metadata.

Times are stored as fixed-width RFC 3339 UTC text (``2026-11-23T21:34:03.123456Z``): it
sorts correctly as text and reads the same through sqlite3 and psycopg, which the raw
write path relies on.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Index, Integer, LargeBinary, Text
from sqlmodel import Field, SQLModel

__all__ = [
    "AccountRow",
    "AuditIndexRow",
    "ClientRow",
    "ConsentRow",
    "DecisionRow",
    "DpBudgetRow",
    "LedgerCheckpointRow",
    "LedgerEntryRow",
    "LedgerNodeRow",
    "MetaRow",
    "PortalSessionRow",
    "SignInAttemptRow",
    "VaultKeyRow",
    "VaultValueRow",
    "ZkAttestationRow",
    "ZkDeskKeyRow",
    "ZkProofRequestRow",
    "ZkProofRow",
    "metadata",
]

metadata = SQLModel.metadata

# On SQLite only an INTEGER PRIMARY KEY aliases the rowid; a BIGINT key would add a second
# B-tree that every append writes and every range scan walks. SQLite integers are 64-bit
# either way; PostgreSQL keeps BIGINT.
RowId = BigInteger().with_variant(Integer(), "sqlite")


class MetaRow(SQLModel, table=True):
    """Marks a database as Custos' and holds installation facts (origin, verifier key)."""

    __tablename__ = "custos_meta"
    key: str = Field(sa_column=Column(Text, primary_key=True))
    value: str = Field(sa_column=Column(Text, nullable=False))


class ClientRow(SQLModel, table=True):
    __tablename__ = "clients"
    __table_args__ = (Index("ix_clients_book", "book"),)
    id: str = Field(sa_column=Column(Text, primary_key=True))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    erased_at: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The department whose book holds the client's record (policies/books.py); a
    # department name, not a personal value.
    book: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ConsentRow(SQLModel, table=True):
    """The current consent of each client; its history is the ledger."""

    __tablename__ = "consents"
    client_id: str = Field(sa_column=Column(Text, primary_key=True))
    level: int = Field(sa_column=Column(Integer, nullable=False))
    purposes: str = Field(sa_column=Column(Text, nullable=False))  # JSON array, sorted
    granted_at: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class VaultKeyRow(SQLModel, table=True):
    """A client's data key, wrapped by the master key; deleting it shreds the client."""

    __tablename__ = "vault_keys"
    client_id: str = Field(sa_column=Column(Text, primary_key=True))
    wrapped_key: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))


class VaultValueRow(SQLModel, table=True):
    __tablename__ = "vault_values"
    client_id: str = Field(sa_column=Column(Text, primary_key=True))
    category: str = Field(sa_column=Column(Text, primary_key=True))
    nonce: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    ciphertext: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    updated_at: str = Field(sa_column=Column(Text, nullable=False))


class LedgerEntryRow(SQLModel, table=True):
    """One entry: its index and its canonical bytes, nothing else.

    Every other fact about an entry (its hash, type, subject, time) is derived from these
    bytes, so there is nothing to drift out of step, and appends write as little as a raw
    insert. Queries by client, app or time go to the derived audit index.
    """

    __tablename__ = "ledger_entries"
    idx: int = Field(sa_column=Column(RowId, primary_key=True, autoincrement=False))
    leaf: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerNodeRow(SQLModel, table=True):
    """Hashes of perfect Merkle subtrees at levels 4, 8, 12, ... (see consent_ledger.nodes)."""

    __tablename__ = "ledger_nodes"
    nid: int = Field(sa_column=Column(RowId, primary_key=True, autoincrement=False))
    hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))


class LedgerCheckpointRow(SQLModel, table=True):
    __tablename__ = "ledger_checkpoints"
    size: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    root: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    note: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))


class AccountRow(SQLModel, table=True):
    """A caller of the API: an app bound to one department, an auditor, or a client.

    Only a SHA-256 of each random 256-bit secret is stored: a key that strong needs no slow
    hash, and lookups by ``id`` stay constant time. Client passwords (portal) use Argon2.
    """

    __tablename__ = "accounts"
    __table_args__ = (Index("ix_accounts_client", "client_id"),)
    id: str = Field(sa_column=Column(Text, primary_key=True))
    kind: str = Field(sa_column=Column(Text, nullable=False))  # app | auditor | client
    name: str = Field(sa_column=Column(Text, nullable=False))
    department: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    client_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    secret_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    password_hash: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    revoked_at: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DecisionRow(SQLModel, table=True):
    """Each decision, so a later read or use can be checked against exactly what it allowed."""

    __tablename__ = "decisions"
    decision_id: str = Field(sa_column=Column(Text, primary_key=True))
    app_id: str = Field(sa_column=Column(Text, nullable=False))
    client_id: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    categories: str = Field(sa_column=Column(Text, nullable=False))  # JSON array
    outcome: str = Field(sa_column=Column(Text, nullable=False))
    obligations: str = Field(sa_column=Column(Text, nullable=False))  # JSON array
    ledger_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    # The request's context, so a redemption can decide it again on the consent of that
    # moment (0004). A decision made before 0004 reads as a row access of no department,
    # which no policy permits: it can no longer be redeemed, only asked again.
    department: str = Field(sa_column=Column(Text, nullable=False, server_default=""))
    access: str = Field(sa_column=Column(Text, nullable=False, server_default="row"))
    stage: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    # The verified proof that satisfied a proof rule (0006; zk_proofs), if one did.
    proof_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class AuditIndexRow(SQLModel, table=True):
    """A query index derived from the ledger (one row per entry and category).

    Filled by catching up on the ledger before a query, never on the append path, so
    appends stay raw-insert fast; it can be dropped and rebuilt from the entries at will.
    """

    __tablename__ = "audit_index"
    __table_args__ = (
        Index("ix_audit_subject", "subject", "idx"),
        Index("ix_audit_app", "app_id", "idx"),
        Index("ix_audit_department", "department", "idx"),
        Index("ix_audit_time", "recorded_at"),
    )
    idx: int = Field(sa_column=Column(BigInteger, primary_key=True, autoincrement=False))
    seq: int = Field(sa_column=Column(Integer, primary_key=True, autoincrement=False))
    entry_type: str = Field(sa_column=Column(Text, nullable=False))
    subject: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    app_id: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    department: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    purpose: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    category: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    outcome: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    recorded_at: str = Field(sa_column=Column(Text, nullable=False))


class PortalSessionRow(SQLModel, table=True):
    """A signed-in portal session. Only a SHA-256 of the session cookie is stored."""

    __tablename__ = "portal_sessions"
    id_hash: bytes = Field(sa_column=Column(LargeBinary, primary_key=True))
    account_id: str = Field(sa_column=Column(Text, nullable=False))
    client_id: str = Field(sa_column=Column(Text, nullable=False))
    csrf_token: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: str = Field(sa_column=Column(Text, nullable=False))


class SignInAttemptRow(SQLModel, table=True):
    """Failed sign-ins, for rate limiting; keyed by a hash of the username, not the name."""

    __tablename__ = "sign_in_attempts"
    __table_args__ = (Index("ix_sign_in_attempts_key", "key_hash", "at"),)
    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    key_hash: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    at: str = Field(sa_column=Column(Text, nullable=False))


# -- zero-knowledge attribute disclosure (0006; privacy/zk, policies/proof_requests.py) ----


class ZkDeskKeyRow(SQLModel, table=True):
    """The KYC desk's verification keys; ``retired_at`` is set when rotated out."""

    __tablename__ = "zk_desk_keys"
    key_id: str = Field(sa_column=Column(Text, primary_key=True))
    public_key: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    retired_at: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ZkAttestationRow(SQLModel, table=True):
    """A signed commitment to one attribute of a client (the document, never the value)."""

    __tablename__ = "zk_attestations"
    __table_args__ = (Index("ix_zk_attestations_client", "client_id", "attribute"),)
    attestation_id: str = Field(sa_column=Column(Text, primary_key=True))
    client_id: str = Field(sa_column=Column(Text, nullable=False))
    attribute: str = Field(sa_column=Column(Text, nullable=False))
    key_id: str = Field(sa_column=Column(Text, nullable=False))
    issued_at: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: str = Field(sa_column=Column(Text, nullable=False))
    document: str = Field(sa_column=Column(Text, nullable=False))
    superseded_at: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ZkProofRequestRow(SQLModel, table=True):
    """A proof a decision asked for: single-use nonce, audience department, expiry."""

    __tablename__ = "zk_proof_requests"
    __table_args__ = (Index("ix_zk_proof_requests_client", "client_id", "status"),)
    request_id: str = Field(sa_column=Column(Text, primary_key=True))
    nonce: str = Field(sa_column=Column(Text, nullable=False))
    app_id: str = Field(sa_column=Column(Text, nullable=False))
    department: str = Field(sa_column=Column(Text, nullable=False))
    client_id: str = Field(sa_column=Column(Text, nullable=False))
    purpose: str = Field(sa_column=Column(Text, nullable=False))
    rule_id: str = Field(sa_column=Column(Text, nullable=False))
    attribute: str = Field(sa_column=Column(Text, nullable=False))
    category: str = Field(sa_column=Column(Text, nullable=False))
    predicate: str = Field(sa_column=Column(Text, nullable=False))  # JSON, public parameters
    decision_id: str = Field(sa_column=Column(Text, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
    expires_at: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(Text, nullable=False))
    envelope: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class ZkProofRow(SQLModel, table=True):
    """A proof the server verified, once per request; ``used_by`` is the decision it served."""

    __tablename__ = "zk_proofs"
    proof_id: str = Field(sa_column=Column(Text, primary_key=True))
    request_id: str = Field(sa_column=Column(Text, nullable=False, unique=True))
    attestation_id: str = Field(sa_column=Column(Text, nullable=False))
    verified_at: str = Field(sa_column=Column(Text, nullable=False))
    ledger_index: int = Field(sa_column=Column(BigInteger, nullable=False))
    used_by: str | None = Field(default=None, sa_column=Column(Text, nullable=True))


class DpBudgetRow(SQLModel, table=True):
    """An analyst's differential-privacy grant and spend: exact decimal text, a cache of the
    ledger's ``analyst_created`` and ``dp_release`` entries (``consent_ledger/budgets.py``)."""

    __tablename__ = "dp_budgets"
    analyst_id: str = Field(sa_column=Column(Text, primary_key=True))
    dataset: str = Field(sa_column=Column(Text, nullable=False))
    department: str = Field(sa_column=Column(Text, nullable=False))
    epsilon_total: str = Field(sa_column=Column(Text, nullable=False))
    delta_total: str = Field(sa_column=Column(Text, nullable=False))
    epsilon_spent: str = Field(sa_column=Column(Text, nullable=False))
    delta_spent: str = Field(sa_column=Column(Text, nullable=False))
    releases: int = Field(sa_column=Column(Integer, nullable=False))
    created_at: str = Field(sa_column=Column(Text, nullable=False))
