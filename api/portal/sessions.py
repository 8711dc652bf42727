"""Portal sessions, CSRF tokens and sign-in rate limiting, kept in the database.

A session is a random 256-bit token in an HttpOnly cookie; the database holds only its
SHA-256, so a copy of the database cannot be replayed as a cookie. Each session carries its
own CSRF token, which every form and every cookie-authenticated JSON call must send back.
Failed sign-ins are counted per keyed hash of the username and of the client address; the
key (the session secret) keeps a database reader from testing guessed usernames against it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from consent_ledger.db import Database
from consent_ledger.encoding import format_timestamp
from consent_ledger.principals import Principal, Role

__all__ = [
    "ABSOLUTE_LIFETIME",
    "IDLE_LIFETIME",
    "Admission",
    "PortalSession",
    "SessionStore",
    "SignInLimiter",
    "tokens_match",
]

IDLE_LIFETIME = timedelta(minutes=30)
ABSOLUTE_LIFETIME = timedelta(hours=12)
# Extending the idle deadline costs a write; doing it at most once a minute keeps page views
# read-only while costing a client at most a minute of idle time.
_REFRESH_AFTER = timedelta(minutes=1)
_WINDOW = timedelta(seconds=60)
_PG_SIGN_IN_LOCK = 0x7369676E696E  # "signin"


def _sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def tokens_match(expected: str, given: str | None) -> bool:
    """Constant-time comparison, so response timing reveals nothing about the token."""
    if not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


@dataclass(frozen=True)
class PortalSession:
    account_id: str
    client_id: str
    username: str
    csrf_token: str
    created_at: datetime
    expires_at: datetime

    @property
    def principal(self) -> Principal:
        return Principal(self.account_id, Role.CLIENT, self.username, None, self.client_id)


class SessionStore:
    def __init__(self, db: Database, clock: Callable[[], datetime]) -> None:
        self.db = db
        self.clock = clock

    def create(self, principal: Principal) -> tuple[str, PortalSession]:
        """A new session for a signed-in client: the cookie value (shown once) and the row."""
        if principal.role is not Role.CLIENT or principal.client_id is None:
            raise ValueError("portal sessions are for clients only")
        now = self.clock()
        token = secrets.token_urlsafe(32)
        session = PortalSession(
            account_id=principal.account_id,
            client_id=principal.client_id,
            username=principal.name,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + IDLE_LIFETIME,
        )
        with self.db.write() as tx:
            # Sweeping here keeps the table small without a background job of its own.
            tx.execute(
                "DELETE FROM portal_sessions WHERE expires_at <= ?", (format_timestamp(now),)
            )
            tx.execute(
                "INSERT INTO portal_sessions (id_hash, account_id, client_id, csrf_token,"
                " created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
                (
                    _sha256(token),
                    session.account_id,
                    session.client_id,
                    session.csrf_token,
                    format_timestamp(now),
                    format_timestamp(session.expires_at),
                ),
            )
        return token, session

    def lookup(self, token: str) -> PortalSession | None:
        """The live session for a cookie value; None if unknown, expired or its login revoked."""
        if not token or len(token) > 128:
            return None
        key = _sha256(token)
        with self.db.read() as tx:
            row = tx.one(
                "SELECT s.account_id, s.client_id, a.name, s.csrf_token, s.created_at,"
                " s.expires_at FROM portal_sessions s JOIN accounts a ON a.id = s.account_id"
                " WHERE s.id_hash = ? AND a.revoked_at IS NULL",
                (key,),
            )
        if row is None:
            return None
        now = self.clock()
        created = datetime.fromisoformat(row[4])
        expires = datetime.fromisoformat(row[5])
        if now >= expires or now >= created + ABSOLUTE_LIFETIME:
            self._delete(key)
            return None
        session = PortalSession(row[0], row[1], row[2], row[3], created, expires)
        if expires - now < IDLE_LIFETIME - _REFRESH_AFTER:
            session = self._extend(key, session, now)
        return session

    def _extend(self, key: bytes, session: PortalSession, now: datetime) -> PortalSession:
        new_expiry = min(now + IDLE_LIFETIME, session.created_at + ABSOLUTE_LIFETIME)
        with self.db.write() as tx:
            tx.execute(
                "UPDATE portal_sessions SET expires_at = ? WHERE id_hash = ?",
                (format_timestamp(new_expiry), key),
            )
        return PortalSession(
            session.account_id,
            session.client_id,
            session.username,
            session.csrf_token,
            session.created_at,
            new_expiry,
        )

    def end(self, token: str) -> None:
        """Sign out: the row goes, so the cookie is worthless even if a copy survives."""
        self._delete(_sha256(token))

    def end_all_for_client(self, client_id: str) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM portal_sessions WHERE client_id = ?", (client_id,))

    def _delete(self, key: bytes) -> None:
        with self.db.write() as tx:
            tx.execute("DELETE FROM portal_sessions WHERE id_hash = ?", (key,))


@dataclass(frozen=True)
class Admission:
    """The limiter's answer: ``wait`` seconds (0: go ahead) and the attempt rows it took."""

    wait: int
    attempts: tuple[int, ...]


class SignInLimiter:
    """At most ``limit`` failed sign-ins per username and per client address in 60 s."""

    def __init__(
        self, db: Database, clock: Callable[[], datetime], secret: str, limit: int
    ) -> None:
        self.db = db
        self.clock = clock
        self._secret = secret.encode()
        self.limit = limit

    def _keys(self, username: str, address: str) -> tuple[bytes, bytes]:
        def mac(label: str, value: str) -> bytes:
            return hmac.new(self._secret, f"{label}\0{value}".encode(), hashlib.sha256).digest()

        return mac("user", username.strip().casefold()), mac("ip", address)

    def admit(self, username: str, address: str) -> Admission:
        """Count this attempt and decide on it in one write transaction, so a concurrent
        burst cannot all pass the check before any is counted: every attempt takes a place
        in the window first, and is refused (with the seconds until a place frees up) if
        the username or the address already has ``limit`` in the last minute."""
        now = self.clock()
        keys = self._keys(username, address)
        with self.db.write() as tx:
            if tx.dialect == "postgresql":
                # SQLite's write lock already serializes this; PostgreSQL's read committed
                # would let two transactions count the same rows.
                tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_SIGN_IN_LOCK,))
            tx.execute(
                "DELETE FROM sign_in_attempts WHERE at <= ?", (format_timestamp(now - _WINDOW),)
            )
            wait = 0
            for key in keys:
                rows = tx.all(
                    "SELECT at FROM sign_in_attempts WHERE key_hash = ? ORDER BY at DESC LIMIT ?",
                    (key, self.limit),
                )
                if len(rows) >= self.limit:
                    # The oldest of the last `limit` attempts must age out of the window.
                    oldest = datetime.fromisoformat(rows[-1][0])
                    wait = max(wait, int((oldest + _WINDOW - now).total_seconds()) + 1)
            if wait:
                return Admission(wait, ())
            ids = []
            for key in keys:
                row = tx.one(
                    "INSERT INTO sign_in_attempts (key_hash, at) VALUES (?, ?) RETURNING id",
                    (key, format_timestamp(now)),
                )
                ids.append(int(row[0]))
        return Admission(0, tuple(ids))

    def succeeded(self, admission: Admission, username: str, address: str) -> None:
        """A good password: the username's count starts again, and this attempt does not
        count against the address. Earlier failures from the address stay, so one good
        login cannot launder a spray of guesses at other usernames."""
        user_key, _ = self._keys(username, address)
        with self.db.write() as tx:
            tx.execute("DELETE FROM sign_in_attempts WHERE key_hash = ?", (user_key,))
            for attempt in admission.attempts:
                tx.execute("DELETE FROM sign_in_attempts WHERE id = ?", (attempt,))
