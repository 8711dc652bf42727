"""Accounts and their secrets: app, auditor and analyst keys, client tokens and portal passwords.

A key reads ``cus_<role>_<id>.<secret>``: the id finds the account in one indexed lookup
and the secret is compared by its SHA-256 in constant time. Keys are shown once, at
creation, and never stored in the clear. Portal passwords are hashed with Argon2id.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from consent_ledger.budgets import amount, insert_budget
from consent_ledger.db import Database, Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import AnalystCreated, KeyRevoked, KeyRotated
from consent_ledger.errors import InvalidRequest, Unauthenticated
from consent_ledger.ledger import Ledger
from consent_ledger.principals import Principal, Role

__all__ = ["AccountStore", "AccountSummary", "IssuedKey", "list_accounts"]

_PREFIX = "cus_"
# What an erased client's accounts are named instead of their username ("erased:<id>").
ERASED_NAME_PREFIX = "erased:"
# Authenticated accounts are remembered this long, so a decision costs no account lookup.
# A revocation in this process drops the entry at once; one made by another process (the
# CLI, a second server) takes effect within this many seconds.
_CACHE_SECONDS = 1.0


@dataclass(frozen=True)
class IssuedKey:
    account_id: str
    key: str


@dataclass(frozen=True)
class AccountSummary:
    """What an operator may see of an account: never its secret or password hash."""

    account_id: str
    name: str
    department: str | None
    created_at: str
    revoked_at: str | None


def list_accounts(db: Database, role: Role) -> list[AccountSummary]:
    """Every account of ``role``, revoked ones included, oldest first. A function of the
    database alone: listing needs neither the ledger nor any key."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT id, name, department, created_at, revoked_at FROM accounts"
            " WHERE kind = ? ORDER BY created_at, id",
            (role.value,),
        )
    return [AccountSummary(str(r[0]), str(r[1]), r[2], str(r[3]), r[4]) for r in rows]


def _hash(secret: str) -> bytes:
    return hashlib.sha256(secret.encode()).digest()


class AccountStore:
    def __init__(
        self,
        ledger: Ledger,
        departments: frozenset[str],
        new_id: Callable[[], str] = lambda: secrets.token_hex(8),
    ) -> None:
        self.ledger = ledger
        self.new_id = new_id
        self.db = ledger.db
        self.departments = departments
        self._hasher = PasswordHasher()
        self._cache: dict[str, tuple[float, bytes, Principal]] = {}
        self._cache_lock = threading.Lock()

    def _issue(
        self,
        role: Role,
        name: str,
        now: datetime,
        *,
        department: str | None = None,
        client_id: str | None = None,
        password: str | None = None,
    ) -> IssuedKey:
        pw_hash = None if password is None else self._hasher.hash(password)
        with self.db.write() as tx:
            return self._insert(
                tx, role, name, now, department=department, client_id=client_id, pw_hash=pw_hash
            )

    def _insert(
        self,
        tx: Tx,
        role: Role,
        name: str,
        now: datetime,
        *,
        department: str | None,
        client_id: str | None,
        pw_hash: str | None,
    ) -> IssuedKey:
        if not name.strip():
            raise InvalidRequest("a name is required", field="name")
        account_id = self.new_id()
        secret = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")
        tx.execute(
            "INSERT INTO accounts (id, kind, name, department, client_id, secret_hash,"
            " password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                account_id,
                role.value,
                name,
                department,
                client_id,
                _hash(secret),
                pw_hash,
                format_timestamp(now),
            ),
        )
        return IssuedKey(account_id, f"{_PREFIX}{role.value}_{account_id}.{secret}")

    def create_app(self, department: str, name: str, now: datetime) -> IssuedKey:
        if department not in self.departments:
            known = ", ".join(sorted(self.departments))
            raise InvalidRequest(
                f"department {department!r} is not one of: {known}", field="department"
            )
        return self._issue(Role.APP, name, now, department=department)

    def create_auditor(self, name: str, now: datetime) -> IssuedKey:
        return self._issue(Role.AUDITOR, name, now)

    def create_analyst(
        self, name: str, department: str, dataset: str, epsilon: str, delta: str, now: datetime
    ) -> IssuedKey:
        """An analyst's key and privacy budget (decimal ε and δ), with its ``analyst_created``
        entry, in one transaction. Which datasets a department may query is the caller's to
        check (``privacy.dp``); here the department must exist and the grant be positive."""
        if department not in self.departments:
            known = ", ".join(sorted(self.departments))
            raise InvalidRequest(
                f"department {department!r} is not one of: {known}", field="department"
            )
        try:
            if amount(epsilon) <= 0:
                raise ValueError(epsilon)
        except ValueError:
            raise InvalidRequest("epsilon must be a positive number", field="epsilon") from None
        try:
            amount(delta)
        except ValueError:
            raise InvalidRequest("delta must be a number ≥ 0", field="delta") from None
        with self.db.write() as tx:
            issued = self._insert(
                tx, Role.ANALYST, name, now, department=department, client_id=None, pw_hash=None
            )
            insert_budget(
                tx, issued.account_id, dataset, department, epsilon, delta, format_timestamp(now)
            )
            grant = AnalystCreated(issued.account_id, department, dataset, epsilon, delta)
            self.ledger.append(tx, [grant.entry()])
        return issued

    def create_client_login(
        self, client_id: str, username: str, password: str | None, now: datetime
    ) -> IssuedKey:
        """A client's account: a bearer token for the API and, optionally, a portal password."""
        with self.db.read() as tx:
            if tx.one("SELECT 1 FROM accounts WHERE kind = 'client' AND name = ?", (username,)):
                raise InvalidRequest(f"username {username!r} is taken", field="username")
        return self._issue(Role.CLIENT, username, now, client_id=client_id, password=password)

    def rotate(self, account_id: str, now: datetime) -> IssuedKey:
        """Revoke a key and issue a new one for the same account holder, recording the
        rotation on the ledger in the same transaction."""
        with self._cache_lock:
            self._cache.pop(account_id, None)
        with self.db.write() as tx:
            row = tx.one(
                "SELECT kind, name, department, client_id, password_hash FROM accounts"
                " WHERE id = ? AND revoked_at IS NULL",
                (account_id,),
            )
            if row is None:
                raise InvalidRequest(f"no active account {account_id}", field="account_id")
            kind, name, department, client_id, pw_hash = row
            if kind == Role.ANALYST.value:
                # The budget belongs to the analyst id on the ledger; a new id would start
                # a new budget, which only an operator's `custos analysts create` may do.
                raise InvalidRequest(
                    "an analyst's key is revoked, not rotated (its budget is tied to its id)",
                    field="account_id",
                )
            tx.execute(
                "UPDATE accounts SET revoked_at = ? WHERE id = ?",
                (format_timestamp(now), account_id),
            )
            issued = self._insert(
                tx,
                Role(kind),
                name,
                now,
                department=department,
                client_id=client_id,
                pw_hash=pw_hash,
            )
            self.ledger.append(tx, [KeyRotated("account", account_id=account_id).entry()])
        return issued

    def revoke(self, account_id: str, now: datetime) -> str:
        """Revoke an account's key with no successor, recording it on the ledger in the same
        transaction; returns the account's role. Refuses an unknown or revoked account."""
        with self._cache_lock:
            self._cache.pop(account_id, None)
        with self.db.write() as tx:
            row = tx.one(
                "SELECT kind FROM accounts WHERE id = ? AND revoked_at IS NULL", (account_id,)
            )
            if row is None:
                raise InvalidRequest(f"no active account {account_id}", field="account_id")
            tx.execute(
                "UPDATE accounts SET revoked_at = ? WHERE id = ?",
                (format_timestamp(now), account_id),
            )
            self.ledger.append(tx, [KeyRevoked(account_id, str(row[0])).entry()])
        return str(row[0])

    def revoke_client(self, client_id: str, now: datetime) -> None:
        """An erased client can no longer sign in or use a token, and no account row says who
        they were: the username (which people choose from their own names and addresses) is
        replaced by the account id, on every account the client ever had (a rotation leaves
        the old, revoked row behind with the same name), and the password hash goes."""
        with self._cache_lock:
            self._cache = {k: v for k, v in self._cache.items() if v[2].client_id != client_id}
        with self.db.write() as tx:
            tx.execute(
                "UPDATE accounts SET revoked_at = COALESCE(revoked_at, ?), password_hash = NULL,"
                " name = ? || id WHERE client_id = ?",
                (format_timestamp(now), ERASED_NAME_PREFIX, client_id),
            )
        # The old name is still in the page images of the WAL (SQLite) or in dead tuples
        # until they are purged, as for the vault's values.
        self.db.purge_freed_pages()

    def authenticate(self, key: str) -> Principal:
        """The principal a bearer key belongs to, or Unauthenticated (never saying why)."""
        try:
            head, secret = key.split(".", 1)
            prefix, role, account_id = head.split("_", 2)
        except ValueError:
            raise Unauthenticated("the key is not a Custos key") from None
        if prefix + "_" != _PREFIX or role not in Role.__members__.values():
            raise Unauthenticated("the key is not a Custos key")
        digest = _hash(secret)
        cached = self._cache.get(account_id)
        if cached is not None and time.monotonic() < cached[0]:
            if not hmac.compare_digest(cached[1], digest) or cached[2].role != role:
                raise Unauthenticated("unknown or revoked key")
            return cached[2]
        with self.db.read() as tx:
            row = tx.one(
                "SELECT kind, name, department, client_id, secret_hash FROM accounts"
                " WHERE id = ? AND revoked_at IS NULL",
                (account_id,),
            )
        if row is None or row[0] != role or not hmac.compare_digest(bytes(row[4]), digest):
            raise Unauthenticated("unknown or revoked key")
        principal = Principal(account_id, Role(row[0]), row[1], row[2], row[3])
        with self._cache_lock:
            self._cache[account_id] = (time.monotonic() + _CACHE_SECONDS, digest, principal)
        return principal

    def check_password(self, username: str, password: str) -> Principal:
        with self.db.read() as tx:
            row = tx.one(
                "SELECT id, name, client_id, password_hash FROM accounts"
                " WHERE kind = 'client' AND name = ? AND revoked_at IS NULL",
                (username,),
            )
        # Hash even when the user is unknown, so timing does not reveal which usernames exist.
        stored = row[3] if row is not None and row[3] else _DUMMY_HASH
        try:
            self._hasher.verify(stored, password)
        except (VerificationError, InvalidHashError):
            raise Unauthenticated("wrong username or password") from None
        if row is None:
            raise Unauthenticated("wrong username or password")
        return Principal(row[0], Role.CLIENT, row[1], None, row[2])


_DUMMY_HASH = PasswordHasher().hash(secrets.token_hex(16))
