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
    "AnalystCreated",
    "Attested",
    "AuditFacts",
    "Body",
    "ClientRegistered",
    "ConsentChanged",
    "DataAccessed",
    "DataCollected",
    "DataErased",
    "DataUsed",
    "DpRelease",
    "EntryType",
    "FlModel",
    "FlRound",
    "FlRunStarted",
    "KeyRevoked",
    "KeyRotated",
    "PolicyLoaded",
    "ProofChecked",
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
    ATTESTATION_ISSUED = "attestation_issued"
    ATTESTATION_RENEWED = "attestation_renewed"
    PROOF_VERIFIED = "proof_verified"
    PROOF_REJECTED = "proof_rejected"
    ANALYST_CREATED = "analyst_created"
    DP_RELEASE = "dp_release"
    FL_RUN_STARTED = "fl_run_started"
    FL_ROUND = "fl_round"
    FL_MODEL = "fl_model"


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
    """A policy decision, in the shape of an Open Policy Agent decision-log entry.

    ``proof_id`` names the verified proof (a ``proof_verified`` entry) that satisfied a
    proof rule, if one did. Entries written before proofs were verified carry the app's own
    claim ``proof_presented`` instead; ``legacy_proof_presented`` keeps it, so those
    entries still read back to the bytes they were written as."""

    decision_id: str
    policy_version: str
    app_id: str
    department: str
    purpose: str
    client_id: str
    categories: tuple[str, ...]
    access: str
    stage: str | None
    proof_id: str | None
    outcome: str
    reason_code: str
    rule_id: str | None
    obligations: tuple[str, ...]
    trace_id: str | None
    legacy_proof_presented: bool | None = None

    def to_json(self) -> dict[str, Any]:
        context: dict[str, Any] = {"access": self.access, "stage": self.stage}
        if self.legacy_proof_presented is None:
            context["proof_id"] = self.proof_id
        else:
            context["proof_presented"] = self.legacy_proof_presented
        return {
            "decision_id": self.decision_id,
            "policy": {"id": "custos/firm", "version": self.policy_version},
            "input": {
                "principal": {"app_id": self.app_id, "department": self.department},
                "action": self.purpose,
                "resource": {"client_id": self.client_id, "categories": list(self.categories)},
                "context": context,
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
            None if "proof_presented" in context else context["proof_id"],
            result["outcome"],
            result["reason_code"],
            result["rule_id"],
            tuple(result["obligations"]),
            body["trace_id"],
            context.get("proof_presented"),
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


class AnalystCreated(NamedTuple):
    """An analyst account and its differential-privacy grant: ``epsilon`` and ``delta`` are
    decimal strings (the ledger holds no floats), summed exactly by ``consent_ledger.budgets``."""

    analyst_id: str
    department: str
    dataset: str
    epsilon: str
    delta: str

    def to_json(self) -> dict[str, Any]:
        return {
            "analyst_id": self.analyst_id,
            "department": self.department,
            "dataset": self.dataset,
            "epsilon": self.epsilon,
            "delta": self.delta,
        }

    def facts(self) -> AuditFacts:
        # The analyst's id sits where an app's does, so the trail filters releases by analyst.
        return AuditFacts(app_id=self.analyst_id, department=self.department)

    def entry(self) -> NewEntry:
        return _new(EntryType.ANALYST_CREATED, None, self)


class DpRelease(NamedTuple):
    """One differentially private release: what was asked, by whom, what it cost and what was
    released (an aggregate, or one aggregate per public group; never a row). Numbers that
    are not integers (or not within ±(2⁵³ - 1)) are decimal strings; ``value`` is an
    integer, a decimal string, null (a mean of nothing), or an object of them by group."""

    analyst_id: str
    dataset: str
    statistic: str
    columns: tuple[str, ...]
    group_by: tuple[str, ...]
    quantile: str | None
    mechanism: str
    epsilon: str
    delta: str
    noise_scale: str
    value: Any
    epsilon_remaining: str

    def to_json(self) -> dict[str, Any]:
        return {
            "analyst_id": self.analyst_id,
            "dataset": self.dataset,
            "statistic": self.statistic,
            "columns": list(self.columns),
            "group_by": list(self.group_by),
            "quantile": self.quantile,
            "mechanism": self.mechanism,
            "epsilon": self.epsilon,
            "delta": self.delta,
            "noise_scale": self.noise_scale,
            "value": self.value,
            "epsilon_remaining": self.epsilon_remaining,
        }

    def facts(self) -> AuditFacts:
        return AuditFacts(app_id=self.analyst_id, purpose="research_analytics")

    def entry(self) -> NewEntry:
        return _new(EntryType.DP_RELEASE, None, self)


class FlRunStarted(NamedTuple):
    """A federated training run: which model it trains (``mode``: ``federated`` or
    ``federated+dp``), on which engine (``simulation`` or ``deployment``), its strategy and
    rounds, its DP settings (``dp``: epsilon, delta, clipping norm and noise
    multiplier as decimal strings, or None) and SecAgg+ settings (``secagg``: shares and
    reconstruction threshold, or None), under which policy version, over which departments."""

    run_id: str
    mode: str
    engine: str
    strategy: str
    rounds: int
    dp: Mapping[str, str] | None
    secagg: Mapping[str, int] | None
    policy_version: str
    departments: tuple[str, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "mode": self.mode,
            "engine": self.engine,
            "strategy": self.strategy,
            "rounds": self.rounds,
            "dp": None if self.dp is None else dict(self.dp),
            "secagg": None if self.secagg is None else dict(self.secagg),
            "policy_version": self.policy_version,
            "departments": list(self.departments),
        }

    def facts(self) -> AuditFacts:
        return AuditFacts(purpose="model_training")

    def entry(self) -> NewEntry:
        return _new(EntryType.FL_RUN_STARTED, None, self)


class FlRound(NamedTuple):
    """One aggregated round: the departments whose updates were aggregated, the training
    examples each reported, the departments whose update was rejected (with the reason),
    and, under DP, the clipping norm, noise multiplier and epsilon each department has spent
    so far (decimal strings). Counts and settings only: never a row or an update."""

    run_id: str
    round: int
    departments: tuple[str, ...]
    examples: Mapping[str, int]
    rejected: Mapping[str, str]
    clipping_norm: str | None
    noise_multiplier: Mapping[str, str] | None
    epsilon_spent: Mapping[str, str] | None

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "round": self.round,
            "departments": list(self.departments),
            "examples": dict(self.examples),
            "rejected": dict(self.rejected),
            "clipping_norm": self.clipping_norm,
            "noise_multiplier": None
            if self.noise_multiplier is None
            else dict(self.noise_multiplier),
            "epsilon_spent": None if self.epsilon_spent is None else dict(self.epsilon_spent),
        }

    def facts(self) -> AuditFacts:
        return AuditFacts(purpose="model_training")

    def entry(self) -> NewEntry:
        return _new(EntryType.FL_ROUND, None, self)


class FlModel(NamedTuple):
    """The run's final model: the SHA-256 of the saved model file and its metrics on the
    global test set (decimal strings)."""

    run_id: str
    sha256: str
    metrics: Mapping[str, str]

    def to_json(self) -> dict[str, Any]:
        return {"run_id": self.run_id, "sha256": self.sha256, "metrics": dict(self.metrics)}

    def facts(self) -> AuditFacts:
        return AuditFacts(purpose="model_training")

    def entry(self) -> NewEntry:
        return _new(EntryType.FL_MODEL, None, self)


class Attested(NamedTuple):
    """The KYC desk committed to a client's attribute and signed the commitment
    (``privacy.zk.desk``). No value: the attestation's id, the attribute and its category,
    the signing key, the validity, and the attestation it replaces when renewed (a new value,
    or a new desk key)."""

    attestation_id: str
    attribute: str
    category: str
    key_id: str
    issued: str
    expires: str
    supersedes: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "attestation_id": self.attestation_id,
            "attribute": self.attribute,
            "category": self.category,
            "key_id": self.key_id,
            "issued": self.issued,
            "expires": self.expires,
        }
        if self.supersedes is not None:
            body["supersedes"] = self.supersedes
        return body

    def facts(self) -> AuditFacts:
        return AuditFacts(department="compliance", categories=(self.category,))

    def entry(self, client_id: str) -> NewEntry:
        kind = (
            EntryType.ATTESTATION_ISSUED
            if self.supersedes is None
            else EntryType.ATTESTATION_RENEWED
        )
        return _new(kind, client_id, self)


class ProofChecked(NamedTuple):
    """A zero-knowledge proof presented to ``POST /v1/proofs:verify`` and its verdict. The
    predicate holds only public parameters (a threshold, a set, an age); ``reason`` is a
    stable code. Fields the server could not tie to a stored request are null."""

    valid: bool
    reason: str
    app_id: str
    department: str
    request_id: str | None
    proof_id: str | None
    purpose: str | None
    rule_id: str | None
    attribute: str | None
    category: str | None
    predicate: Mapping[str, Any] | None
    attestation_id: str | None

    def to_json(self) -> dict[str, Any]:
        return {
            "reason": self.reason,
            "app_id": self.app_id,
            "department": self.department,
            "request_id": self.request_id,
            "proof_id": self.proof_id,
            "purpose": self.purpose,
            "rule_id": self.rule_id,
            "attribute": self.attribute,
            "category": self.category,
            "predicate": None if self.predicate is None else dict(self.predicate),
            "attestation_id": self.attestation_id,
        }

    def facts(self) -> AuditFacts:
        categories = () if self.category is None else (self.category,)
        outcome = "verified" if self.valid else "rejected"
        return AuditFacts(self.app_id, self.department, self.purpose, categories, outcome)

    def entry(self, client_id: str | None) -> NewEntry:
        kind = EntryType.PROOF_VERIFIED if self.valid else EntryType.PROOF_REJECTED
        return _new(kind, client_id, self)


def _proof_checked(valid: bool) -> Any:
    return lambda b: ProofChecked(
        valid,
        b["reason"],
        b["app_id"],
        b["department"],
        b["request_id"],
        b["proof_id"],
        b["purpose"],
        b["rule_id"],
        b["attribute"],
        b["category"],
        b["predicate"],
        b["attestation_id"],
    )


def _attested(b: Mapping[str, Any]) -> Attested:
    return Attested(
        b["attestation_id"],
        b["attribute"],
        b["category"],
        b["key_id"],
        b["issued"],
        b["expires"],
        b.get("supersedes"),
    )


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
    EntryType.ATTESTATION_ISSUED: _attested,
    EntryType.ATTESTATION_RENEWED: _attested,
    EntryType.PROOF_VERIFIED: _proof_checked(True),
    EntryType.PROOF_REJECTED: _proof_checked(False),
    EntryType.ANALYST_CREATED: lambda b: AnalystCreated(
        b["analyst_id"], b["department"], b["dataset"], b["epsilon"], b["delta"]
    ),
    EntryType.DP_RELEASE: lambda b: DpRelease(
        b["analyst_id"],
        b["dataset"],
        b["statistic"],
        tuple(b["columns"]),
        tuple(b["group_by"]),
        b["quantile"],
        b["mechanism"],
        b["epsilon"],
        b["delta"],
        b["noise_scale"],
        b["value"],
        b["epsilon_remaining"],
    ),
    EntryType.FL_RUN_STARTED: lambda b: FlRunStarted(
        b["run_id"],
        b["mode"],
        b["engine"],
        b["strategy"],
        b["rounds"],
        b["dp"],
        b["secagg"],
        b["policy_version"],
        tuple(b["departments"]),
    ),
    EntryType.FL_ROUND: lambda b: FlRound(
        b["run_id"],
        b["round"],
        tuple(b["departments"]),
        b["examples"],
        b["rejected"],
        b["clipping_norm"],
        b["noise_multiplier"],
        b["epsilon_spent"],
    ),
    EntryType.FL_MODEL: lambda b: FlModel(b["run_id"], b["sha256"], b["metrics"]),
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
