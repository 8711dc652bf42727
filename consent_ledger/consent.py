"""The consent state machine: pure functions from (current consent, command) to a transition.

A client holds at most one consent at a time: a level (which includes the levels below it),
a set of named purposes and an optional expiry. Grant, upgrade, downgrade, change of
purposes, renewal of its term, revoke and expire are the only ways to change it; each
returns the new state and the ledger event that records it. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from consent_ledger.catalogue import Catalogue
from consent_ledger.errors import ConsentConflict, ConsentNotFound, InvalidRequest

__all__ = [
    "Consent",
    "ConsentEvent",
    "Transition",
    "change_level",
    "expire",
    "grant",
    "renew",
    "revoke",
    "set_purposes",
]


class ConsentEvent(StrEnum):
    GRANTED = "consent_granted"
    UPGRADED = "consent_upgraded"
    DOWNGRADED = "consent_downgraded"
    PURPOSES_CHANGED = "consent_purposes_changed"
    RENEWED = "consent_renewed"
    REVOKED = "consent_revoked"
    EXPIRED = "consent_expired"


@dataclass(frozen=True)
class Consent:
    client_id: str
    level: int
    purposes: frozenset[str]
    granted_at: datetime
    expires_at: datetime | None

    def is_active(self, now: datetime) -> bool:
        return self.expires_at is None or now < self.expires_at

    def covers(self, level: int, purpose: str, now: datetime) -> bool:
        return self.is_active(now) and level <= self.level and purpose in self.purposes


@dataclass(frozen=True)
class Transition:
    event: ConsentEvent
    before: Consent | None
    after: Consent | None

    def ledger_body(self) -> dict[str, Any]:
        """What the ledger records: levels, purpose names and times, never a personal value."""
        body: dict[str, Any] = {}
        if self.before is not None:
            body["from"] = _summary(self.before)
        if self.after is not None:
            body["to"] = _summary(self.after)
        return body


def _summary(c: Consent) -> dict[str, Any]:
    return {
        "level": c.level,
        "purposes": sorted(c.purposes),
        "granted_at": _iso(c.granted_at),
        "expires_at": None if c.expires_at is None else _iso(c.expires_at),
    }


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


def _check_level(catalogue: Catalogue, level: int) -> int:
    catalogue.level(level)
    return level


def _check_purposes(catalogue: Catalogue, purposes: Iterable[str]) -> frozenset[str]:
    result = frozenset(purposes)
    if not result:
        raise InvalidRequest("a consent needs at least one purpose", field="purposes")
    for p in sorted(result):
        catalogue.purpose(p)
    return result


def _check_expiry(expires_at: datetime | None, now: datetime) -> datetime | None:
    if expires_at is None:
        return None
    if expires_at.tzinfo is None:
        raise InvalidRequest("expires_at must carry a time zone", field="expires_at")
    if expires_at <= now:
        raise InvalidRequest("expires_at is not in the future", field="expires_at")
    return expires_at


def _active(current: Consent | None, now: datetime) -> Consent:
    if current is None or not current.is_active(now):
        raise ConsentNotFound("the client has no active consent")
    return current


def grant(
    catalogue: Catalogue,
    current: Consent | None,
    client_id: str,
    level: int,
    purposes: Iterable[str],
    now: datetime,
    expires_at: datetime | None = None,
) -> Transition:
    """First consent, or a new one after a revocation or expiry."""
    new = Consent(
        client_id=client_id,
        level=_check_level(catalogue, level),
        purposes=_check_purposes(catalogue, purposes),
        granted_at=now,
        expires_at=_check_expiry(expires_at, now),
    )
    if current is not None and current.is_active(now):
        raise ConsentConflict(
            "the client already has an active consent; upgrade, downgrade or change its purposes"
        )
    return Transition(ConsentEvent.GRANTED, None, new)


def change_level(
    catalogue: Catalogue,
    current: Consent | None,
    level: int,
    now: datetime,
    expires_at: datetime | None = None,
) -> Transition:
    """Upgrade or downgrade; the new level takes a fresh grant time and expiry."""
    _check_level(catalogue, level)
    expiry = _check_expiry(expires_at, now)
    active = _active(current, now)
    if level == active.level:
        raise ConsentConflict(f"the consent is already at level {level}", field="level")
    event = ConsentEvent.UPGRADED if level > active.level else ConsentEvent.DOWNGRADED
    new = Consent(active.client_id, level, active.purposes, now, expiry)
    return Transition(event, active, new)


def renew(current: Consent | None, now: datetime, expires_at: datetime | None) -> Transition:
    """A new term for the consent in force (``None``: until withdrawn); level and purposes
    stay, and the grant time becomes now, since the client has just agreed again."""
    expiry = _check_expiry(expires_at, now)
    active = _active(current, now)
    if expiry == active.expires_at:
        raise ConsentConflict("the consent already ends then", field="expires_at")
    new = Consent(active.client_id, active.level, active.purposes, now, expiry)
    return Transition(ConsentEvent.RENEWED, active, new)


def set_purposes(
    catalogue: Catalogue, current: Consent | None, purposes: Iterable[str], now: datetime
) -> Transition:
    """Switch purposes on or off at the current level; an empty set is a revocation."""
    wanted = frozenset(purposes)
    active = _active(current, now)
    if not wanted:
        return Transition(ConsentEvent.REVOKED, active, None)
    wanted = _check_purposes(catalogue, wanted)
    if wanted == active.purposes:
        raise ConsentConflict("the consent already has exactly these purposes", field="purposes")
    new = Consent(active.client_id, active.level, wanted, active.granted_at, active.expires_at)
    return Transition(ConsentEvent.PURPOSES_CHANGED, active, new)


def revoke(
    catalogue: Catalogue,
    current: Consent | None,
    now: datetime,
    purposes: Iterable[str] | None = None,
) -> Transition:
    """Withdraw the whole consent, or only some purposes (withdrawing the last one is whole)."""
    active = _active(current, now)
    if purposes is None:
        return Transition(ConsentEvent.REVOKED, active, None)
    dropping = frozenset(purposes)
    for p in sorted(dropping):
        catalogue.purpose(p)
    missing = sorted(dropping - active.purposes)
    if not dropping or missing:
        raise ConsentNotFound(
            f"the consent does not include purpose(s): {', '.join(missing) or '(none given)'}",
            field="purposes",
        )
    return set_purposes(catalogue, active, active.purposes - dropping, now)


def expire(current: Consent | None, now: datetime) -> Transition | None:
    """The expiry event for a consent whose time has passed, or None if nothing expired."""
    if current is None or current.is_active(now):
        return None
    return Transition(ConsentEvent.EXPIRED, current, None)
