"""The ledger's entry types and the typed body of each: the one place an entry's shape is said.

Every writer builds its entry from one of these bodies (``Body.entry(subject)``), the audit
index reads entries back through ``parse_body``, and the export checks each body against its
type, so the demo seed, the live decision path and an auditor's tools all see one shape per
type. Bodies hold catalogue names, pseudonyms, ids and times: never a personal value.

The bodies are NamedTuples, not frozen dataclasses, for the reason ``policies.decision``
gives: one is built on every decision, and a NamedTuple costs a third as much to build.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, NamedTuple, Protocol

from consent_ledger.consent import ConsentEvent
from consent_ledger.errors import LedgerCorrupt
from consent_ledger.ledger import NewEntry

__all__ = [
    "AccessDecided",
    "AuditFacts",
    "Body",
    "ClientRegistered",
    "ConsentChanged",
    "DataAccessed",
    "DataCollected",
    "DataErased",
    "DataUsed",
    "EntryType",
    "KeyRevoked",
    "KeyRotated",
    "PolicyLoaded",
    "RedemptionRefused",
    "parse_body",
]


class EntryType(StrEnum):
    CLIENT_REGISTERED = "client_registered"
    CONSENT_GRANTED = ConsentEvent.GRANTED.value
    CONSENT_UPGRADED = ConsentEvent.UPGRADED.value
    CONSENT_DOWNGRADED = ConsentEvent.DOWNGRADED.value
    CONSENT_PURPOSES_CHANGED = ConsentEvent.PURPOSES_CHANGED.value
    CONSENT_RENEWED = ConsentEvent.RENEWED.value
    CONSENT_REVOKED = ConsentEvent.REVOKED.value
    CONSENT_EXPIRED = ConsentEvent.EXPIRED.value
    DATA_COLLECTED = "data_collected"
    ACCESS_ALLOWED = "access_allowed"
    ACCESS_DENIED = "access_denied"
    ACCESS_NOT_APPLICABLE = "access_not_applicable"
    DATA_ACCESSED = "data_accessed"
    DATA_USED = "data_used"
    REDEMPTION_REFUSED = "redemption_refused"
    DATA_ERASED = "data_erased"
    POLICY_LOADED = "policy_loaded"
    KEY_ROTATED = "key_rotated"
    KEY_REVOKED = "key_revoked"


class AuditFacts(NamedTuple):
    """What the audit index files an entry under."""

    app_id: str | None = None
    department: str | None = None
    purpose: str | None = None
    categories: tuple[str, ...] = ()
    outcome: str | None = None


class Body(Protocol):
    """A typed entry body: its JSON form and the facts the audit index keeps."""

    def to_json(self) -> dict[str, Any]: ...

    def facts(self) -> AuditFacts: ...


def _new(kind: EntryType, subject: str | None, body: Body) -> NewEntry:
    return NewEntry(kind, subject, body.to_json())


class ClientRegistered(NamedTuple):
    def to_json(self) -> dict[str, Any]:
        return {}

    def facts(self) -> AuditFacts:
        return AuditFacts()

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.CLIENT_REGISTERED, client_id, self)


class ConsentChanged(NamedTuple):
    """A consent state change; ``before`` / ``after`` are level, purposes and times."""

    event: ConsentEvent
    before: Mapping[str, Any] | None
    after: Mapping[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.before is not None:
            body["from"] = dict(self.before)
        if self.after is not None:
            body["to"] = dict(self.after)
        return body

    def facts(self) -> AuditFacts:
        return AuditFacts()

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType(self.event.value), client_id, self)


class DataCollected(NamedTuple):
    """Values stored in the vault: which categories, by which department, under which
    decision (the seed's onboarding collects with no app, so those three may be absent)."""

    categories: tuple[str, ...]
    by: str
    app_id: str | None = None
    purpose: str | None = None
    decision_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"categories": list(self.categories), "by": self.by}
        if self.app_id is not None:
            body |= {"app_id": self.app_id, "department": self.by}
        if self.purpose is not None:
            body["purpose"] = self.purpose
        if self.decision_id is not None:
            body["decision_id"] = self.decision_id
        return body

    def facts(self) -> AuditFacts:
        return AuditFacts(self.app_id, self.by, self.purpose, self.categories)

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.DATA_COLLECTED, client_id, self)


class AccessDecided(NamedTuple):
    """A policy decision, in the shape of an Open Policy Agent decision-log entry."""

    decision_id: str
    policy_version: str
    app_id: str
    department: str
    purpose: str
    client_id: str
    categories: tuple[str, ...]
    access: str
    stage: str | None
    proof_presented: bool
    outcome: str
    reason_code: str
    rule_id: str | None
    obligations: tuple[str, ...]
    trace_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "decision_id": self.decision_id,
            "policy": {"id": "custos/firm", "version": self.policy_version},
            "input": {
                "principal": {"app_id": self.app_id, "department": self.department},
                "action": self.purpose,
                "resource": {"client_id": self.client_id, "categories": list(self.categories)},
                "context": {
                    "access": self.access,
                    "stage": self.stage,
                    "proof_presented": self.proof_presented,
                },
            },
            "result": {
                "outcome": self.outcome,
                "reason_code": self.reason_code,
                "rule_id": self.rule_id,
                "obligations": list(self.obligations),
            },
            "requested_by": self.app_id,
            "trace_id": self.trace_id,
        }

    @classmethod
    def from_json(cls, body: Mapping[str, Any]) -> AccessDecided:
        given, result = body["input"], body["result"]
        context = given["context"]
        return cls(
            body["decision_id"],
            body["policy"]["version"],
            given["principal"]["app_id"],
            given["principal"]["department"],
            given["action"],
            given["resource"]["client_id"],
            tuple(given["resource"]["categories"]),
            context["access"],
            context["stage"],
            context["proof_presented"],
            result["outcome"],
            result["reason_code"],
            result["rule_id"],
            tuple(result["obligations"]),
            body["trace_id"],
        )

    def facts(self) -> AuditFacts:
        return AuditFacts(self.app_id, self.department, self.purpose, self.categories, self.outcome)

    def entry(self) -> NewEntry:
        kind = {
            "allow": EntryType.ACCESS_ALLOWED,
            "deny": EntryType.ACCESS_DENIED,
            "not_applicable": EntryType.ACCESS_NOT_APPLICABLE,
        }[self.outcome]
        return _new(kind, self.client_id, self)


def _act_json(
    app_id: str, department: str, decision_id: str, purpose: str, categories: tuple[str, ...]
) -> dict[str, Any]:
    """The members every act under a decision records: who, under which decision, what for."""
    return {
        "app_id": app_id,
        "department": department,
        "decision_id": decision_id,
        "purpose": purpose,
        "categories": list(categories),
    }


def _act_fields(b: Mapping[str, Any]) -> tuple[str, str, str, str, tuple[str, ...]]:
    return b["app_id"], b["department"], b["decision_id"], b["purpose"], tuple(b["categories"])


class DataAccessed(NamedTuple):
    """Values handed out under an allow decision, through one redemption channel."""

    app_id: str
    department: str
    decision_id: str
    purpose: str
    categories: tuple[str, ...]
    channel: str
    obligations: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return _act_json(*self[:5]) | {
            "channel": self.channel,
            "obligations": list(self.obligations),
        }

    def facts(self) -> AuditFacts:
        return AuditFacts(self.app_id, self.department, self.purpose, self.categories)

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.DATA_ACCESSED, client_id, self)


class DataUsed(NamedTuple):
    """An app's report that it used data it obtained under an allow decision."""

    app_id: str
    department: str
    decision_id: str
    purpose: str
    categories: tuple[str, ...]
    reported_at: str

    def to_json(self) -> dict[str, Any]:
        return _act_json(*self[:5]) | {"reported_at": self.reported_at}

    def facts(self) -> AuditFacts:
        return AuditFacts(self.app_id, self.department, self.purpose, self.categories)

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.DATA_USED, client_id, self)


class RedemptionRefused(NamedTuple):
    """An allow decision that could not be redeemed: the consent changed since, or the
    channel is one its obligations rule out. ``reason`` is a stable code."""

    app_id: str
    department: str
    decision_id: str
    purpose: str
    categories: tuple[str, ...]
    channel: str
    reason: str

    def to_json(self) -> dict[str, Any]:
        return _act_json(*self[:5]) | {"channel": self.channel, "reason": self.reason}

    def facts(self) -> AuditFacts:
        return AuditFacts(self.app_id, self.department, self.purpose, self.categories, "refused")

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.REDEMPTION_REFUSED, client_id, self)


class DataErased(NamedTuple):
    destroyed: tuple[str, ...] = ("vault_key", "vault_values", "consent")

    def to_json(self) -> dict[str, Any]:
        return {"destroyed": list(self.destroyed)}

    def facts(self) -> AuditFacts:
        return AuditFacts()

    def entry(self, client_id: str) -> NewEntry:
        return _new(EntryType.DATA_ERASED, client_id, self)


class PolicyLoaded(NamedTuple):
    version: str
    catalogue_version: str
    file: str
    policy_id: str = "custos/firm"

    def to_json(self) -> dict[str, Any]:
        return {
            "policy_id": self.policy_id,
            "version": self.version,
            "catalogue_version": self.catalogue_version,
            "file": self.file,
        }

    def facts(self) -> AuditFacts:
        return AuditFacts()

    def entry(self) -> NewEntry:
        return _new(EntryType.POLICY_LOADED, None, self)


class KeyRotated(NamedTuple):
    """``kind`` is ``master`` (with the number of client keys re-wrapped) or ``account``."""

    kind: str
    keys: int | None = None
    account_id: str | None = None

    def to_json(self) -> dict[str, Any]:
        if self.kind == "master":
            return {"kind": self.kind, "keys": self.keys}
        return {"kind": self.kind, "account_id": self.account_id}

    def facts(self) -> AuditFacts:
        return AuditFacts()

    def entry(self) -> NewEntry:
        return _new(EntryType.KEY_ROTATED, None, self)


class KeyRevoked(NamedTuple):
    """An account's key revoked by an operator (``custos keys revoke``) with no successor;
    ``kind`` is the account's role (``app``, ``auditor`` or ``client``)."""

    account_id: str
    kind: str

    def to_json(self) -> dict[str, Any]:
        return {"account_id": self.account_id, "kind": self.kind}

    def facts(self) -> AuditFacts:
        # An app's account id is the app_id its decisions record, so filtering the trail by
        # that app shows when it lost its key.
        return AuditFacts(app_id=self.account_id if self.kind == "app" else None)

    def entry(self) -> NewEntry:
        return _new(EntryType.KEY_REVOKED, None, self)


def _consent(event: ConsentEvent) -> Any:
    return lambda b: ConsentChanged(event, b.get("from"), b.get("to"))


_PARSERS: dict[EntryType, Any] = {
    EntryType.CLIENT_REGISTERED: lambda b: ClientRegistered(),
    **{EntryType(e.value): _consent(e) for e in ConsentEvent},
    EntryType.DATA_COLLECTED: lambda b: DataCollected(
        tuple(b["categories"]), b["by"], b.get("app_id"), b.get("purpose"), b.get("decision_id")
    ),
    EntryType.ACCESS_ALLOWED: AccessDecided.from_json,
    EntryType.ACCESS_DENIED: AccessDecided.from_json,
    EntryType.ACCESS_NOT_APPLICABLE: AccessDecided.from_json,
    EntryType.DATA_ACCESSED: lambda b: DataAccessed(
        *_act_fields(b), b["channel"], tuple(b["obligations"])
    ),
    EntryType.DATA_USED: lambda b: DataUsed(*_act_fields(b), b["reported_at"]),
    EntryType.REDEMPTION_REFUSED: lambda b: RedemptionRefused(
        *_act_fields(b), b["channel"], b["reason"]
    ),
    EntryType.DATA_ERASED: lambda b: DataErased(tuple(b["destroyed"])),
    EntryType.POLICY_LOADED: lambda b: PolicyLoaded(
        b["version"], b["catalogue_version"], b["file"], b["policy_id"]
    ),
    EntryType.KEY_ROTATED: lambda b: KeyRotated(b["kind"], b.get("keys"), b.get("account_id")),
    EntryType.KEY_REVOKED: lambda b: KeyRevoked(b["account_id"], b["kind"]),
}


def parse_body(index: int, kind: str, body: Mapping[str, Any]) -> Body:
    """The typed body of a stored entry; LedgerCorrupt names the entry whose type is unknown
    or whose body is not the shape its type says (round-tripping to the same JSON)."""
    try:
        parsed: Body = _PARSERS[EntryType(kind)](body)
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise LedgerCorrupt(f"entry {index}: not a well-formed {kind!r} entry") from exc
    if parsed.to_json() != body:
        raise LedgerCorrupt(f"entry {index}: the body of a {kind!r} entry has unknown members")
    return parsed
