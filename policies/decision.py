"""What goes into a decision and what comes out: requests, outcomes, reason codes, obligations.

The reason codes and obligation names are listed here and nowhere else; policies/README.md
documents each one (a test checks it), and the API passes them through unchanged.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, NamedTuple

from policies.errors import InvalidDecisionRequest

__all__ = [
    "CONSENT_RULE_CODES",
    "FORBID_CODES",
    "Access",
    "App",
    "CategoryDecision",
    "Context",
    "Decision",
    "Obligation",
    "ObligationKind",
    "Outcome",
    "ReasonCode",
    "Request",
    "Resource",
    "merge_obligations",
]

Access = Literal["row", "aggregate"]


class Outcome(StrEnum):
    ALLOW = "allow"
    DENY = "deny"
    NOT_APPLICABLE = "not_applicable"


class ReasonCode(StrEnum):
    ALLOWED = "allowed"
    NOT_APPLICABLE = "not_applicable"
    CATEGORY_NOT_PERMITTED = "category_not_permitted"
    NO_CONSENT = "no_consent"
    CONSENT_EXPIRED = "consent_expired"
    PURPOSE_NOT_CONSENTED = "purpose_not_consented"
    MODEL_TRAINING_NOT_CONSENTED = "model_training_not_consented"
    MARKETING_NOT_OPTED_IN = "marketing_not_opted_in"
    LEVEL_NOT_CONSENTED = "level_not_consented"
    PROOF_REQUIRED = "proof_required"
    DEPARTMENT_NOT_PERMITTED = "department_not_permitted"
    FORBIDDEN_TAX_RECORDS_KYC_ONLY = "forbidden_tax_records_kyc_only"
    FORBIDDEN_MARKETING_ABOVE_L1 = "forbidden_marketing_above_l1"
    FORBIDDEN_RESEARCH_ROW_LEVEL = "forbidden_research_row_level"
    FORBIDDEN_BY_POLICY = "forbidden_by_policy"


# The codes a `forbids` rule may carry, and those a `consent_rules` rule may carry.
FORBID_CODES = frozenset(
    {
        ReasonCode.DEPARTMENT_NOT_PERMITTED,
        ReasonCode.FORBIDDEN_TAX_RECORDS_KYC_ONLY,
        ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1,
        ReasonCode.FORBIDDEN_RESEARCH_ROW_LEVEL,
        ReasonCode.FORBIDDEN_BY_POLICY,
    }
)
CONSENT_RULE_CODES = frozenset(
    {
        ReasonCode.PURPOSE_NOT_CONSENTED,
        ReasonCode.MODEL_TRAINING_NOT_CONSENTED,
        ReasonCode.MARKETING_NOT_OPTED_IN,
    }
)


class ObligationKind(StrEnum):
    """Declaration order is the order obligations appear in a decision."""

    LOG = "log"
    MASK = "mask"
    REQUIRES_PROOF = "requires_proof"
    AGGREGATE_ONLY = "aggregate_only"
    FEDERATED_ONLY = "federated_only"
    RETAIN_DAYS = "retain_days"


_KIND_ORDER = {kind: n for n, kind in enumerate(ObligationKind)}
MAX_RETAIN_DAYS = 36_500


@dataclass(frozen=True, slots=True)
class Obligation:
    """A duty an allow puts on the app; only ``retain_days`` carries a number."""

    kind: ObligationKind
    days: int | None = None

    def __post_init__(self) -> None:
        if (self.kind is ObligationKind.RETAIN_DAYS) != (self.days is not None):
            raise ValueError("retain_days, and only retain_days, takes a number of days")

    def __str__(self) -> str:
        return self.kind.value if self.days is None else f"{self.kind.value}:{self.days}"

    @classmethod
    def from_json(
        cls, raw: object, kinds: Collection[ObligationKind] = tuple(ObligationKind)
    ) -> Obligation:
        """Parse ``"mask"`` or ``{"retain_days": 30}`` if its kind is among ``kinds``;
        ValueError names what is wrong and what would be accepted."""
        bare = sorted(k.value for k in kinds if k is not ObligationKind.RETAIN_DAYS)
        if isinstance(raw, str) and raw in bare:
            return cls(ObligationKind(raw))
        if isinstance(raw, dict) and list(raw) == [ObligationKind.RETAIN_DAYS.value]:
            days = raw[ObligationKind.RETAIN_DAYS.value]
            if type(days) is int and 1 <= days <= MAX_RETAIN_DAYS:
                return cls(ObligationKind.RETAIN_DAYS, days)
            raise ValueError(
                f"retain_days must be a whole number of days from 1 to {MAX_RETAIN_DAYS}"
            )
        known = ", ".join(bare)
        raise ValueError(f"unknown obligation {raw!r}; use one of {known} or {{retain_days: N}}")

    @classmethod
    def parse(cls, text: str) -> Obligation:
        """The inverse of ``str``: ``"mask"`` or ``"retain_days:30"``, as decisions store
        and return them. ValueError for anything else."""
        name, sep, days = text.partition(":")
        kind = ObligationKind(name)
        if not sep:
            return cls(kind)
        if not days.isdigit() or days != str(int(days)):
            raise ValueError(f"obligation {text!r}: the days are not a whole number")
        return cls(kind, int(days))

    def to_json(self) -> str | dict[str, int]:
        """The form the policy file uses: ``"log"`` or ``{"retain_days": 30}``."""
        return self.kind.value if self.days is None else {self.kind.value: self.days}


def merge_obligations(groups: Iterable[Iterable[Obligation]]) -> tuple[Obligation, ...]:
    """Union of obligations in declaration order; of several retention periods the shortest wins."""
    kinds: set[ObligationKind] = set()
    days: int | None = None
    for group in groups:
        for ob in group:
            if ob.days is not None:
                days = ob.days if days is None else min(days, ob.days)
            else:
                kinds.add(ob.kind)
    merged = [Obligation(kind) for kind in sorted(kinds, key=_KIND_ORDER.__getitem__)]
    if days is not None:
        merged.append(Obligation(ObligationKind.RETAIN_DAYS, days))
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class App:
    """The principal: an internal app, bound to one department by its API key."""

    app_id: str
    department: str


@dataclass(frozen=True, slots=True)
class Resource:
    """The client's data the app wants: one or more catalogue categories, never a whole level."""

    client_id: str
    categories: tuple[str, ...]

    def __post_init__(self) -> None:
        if not self.categories:
            raise InvalidDecisionRequest("ask for at least one category", field="categories")
        if len(set(self.categories)) != len(self.categories):
            raise InvalidDecisionRequest("a category is asked for twice", field="categories")


@dataclass(frozen=True, slots=True)
class Context:
    """``proven`` holds the ids of the proof rules a proof the server itself verified
    satisfies for this request (``policies.proof_requests``); the app cannot assert one."""

    now: datetime
    access: Access = "row"
    stage: str | None = None
    proven: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.now.tzinfo is None:
            raise InvalidDecisionRequest("now must carry a time zone", field="now")
        if self.access not in ("row", "aggregate"):
            raise InvalidDecisionRequest("access is 'row' or 'aggregate'", field="access")


@dataclass(frozen=True, slots=True)
class Request:
    """Cedar-shaped: principal (app), action (purpose), resource (client data), context."""

    principal: App
    action: str
    resource: Resource
    context: Context


class CategoryDecision(NamedTuple):
    """How one requested category fared; ``rule_id`` is the policy rule that decided it.
    A NamedTuple for the same reason as Decision."""

    category: str
    outcome: Outcome
    reason_code: ReasonCode
    rule_id: str | None


class Decision(NamedTuple):
    """The answer to one request.

    ``categories`` is exactly what was asked for when allowed and empty otherwise: a decision
    never widens a request to a level. ``details`` has one entry per requested category, in
    request order; a request is allowed only if every category is.

    A NamedTuple rather than a frozen dataclass: one is built on every data access of the
    firm's apps, and on this hardware a frozen dataclass costs 2.8 µs to build, a NamedTuple
    0.8 µs. It is just as immutable.
    """

    outcome: Outcome
    reason_code: ReasonCode
    reason: str
    rule_id: str | None
    obligations: tuple[Obligation, ...]
    policy_version: str
    categories: tuple[str, ...]
    details: tuple[CategoryDecision, ...]

    @property
    def allowed(self) -> bool:
        return self.outcome is Outcome.ALLOW
