"""The decision function: pure, over (compiled policy, the client's consent, request).

Order of evaluation, per requested category (README.md, "Rule semantics"):
1. a forbid that fires beats everything (forbids never read the consent);
2. no permit for (department, purpose) at all → NOT_APPLICABLE, which is never an allow;
3. a category outside the permit → DENY category_not_permitted;
4. the consent: none or withdrawn, expired at or before ``now``, purpose missing, level too
   low → DENY; a revocation therefore takes effect on the very next decision;
5. a proof rule in its stage without a presented proof → DENY proof_required;
6. otherwise ALLOW, with the cell's obligations.
A request for several categories is allowed only if every category is; otherwise it is
denied for the first failing category in the order above (then in request order).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Protocol

from consent_ledger.consent import Consent
from policies.compiled import (
    Cell,
    CompiledPolicy,
    Verdict,
    covers,
    forbid_verdict,
    structural_verdict,
)
from policies.decision import (
    CategoryDecision,
    Decision,
    Obligation,
    Outcome,
    ReasonCode,
    Request,
    merge_obligations,
)
from policies.errors import (
    InvalidDecisionRequest,
    UnknownCategory,
    UnknownDepartment,
    UnknownPurpose,
)

__all__ = ["DecisionEngine", "PolicyEngine", "consent_summary", "decide"]

# Ranks a failing category's verdict so a multi-category request names the most basic reason.
_FORBID, _STRUCTURE, _CONSENT, _PROOF = range(4)
_Judged = tuple[int, Verdict]


class DecisionEngine(Protocol):
    """What the API needs from a policy engine; tests of the API may pass a fake."""

    @property
    def version(self) -> str: ...

    def decide(self, consent: Consent | None, request: Request) -> Decision: ...


@dataclass(frozen=True)
class PolicyEngine:
    """The engine over one compiled policy; swap the instance to load a new version."""

    compiled: CompiledPolicy

    @property
    def version(self) -> str:
        return self.compiled.version

    def decide(self, consent: Consent | None, request: Request) -> Decision:
        return decide(self.compiled, consent, request)


def decide(policy: CompiledPolicy, consent: Consent | None, request: Request) -> Decision:
    """Decide one request. ``consent`` is the client's current consent, None if there is none.

    Raises UnknownDepartment / UnknownPurpose / UnknownCategory for names the policy or the
    catalogue does not define, and InvalidDecisionRequest for another client's consent.
    """
    by_purpose = policy.cells.get(request.principal.department)
    if by_purpose is None:
        raise _unknown_department(policy, request.principal.department)
    cells = by_purpose.get(request.action)
    if cells is None:
        raise _unknown_purpose(policy, request.action)
    if consent is not None and consent.client_id != request.resource.client_id:
        raise InvalidDecisionRequest("the consent given is another client's", field="consent")
    categories = request.resource.categories
    if len(categories) == 1:
        cell = cells.get(categories[0])
        if cell is None:
            raise _unknown_category(policy, categories[0])
        if cell.static is not None:
            return cell.static
        judged = _judge(cell, consent, request)
        if judged is None:
            return _allow(policy, cell, consent, request)
        outcome, code, rule_id, text = judged[1]
        detail = (CategoryDecision(cell.category, outcome, code, rule_id),)
        return Decision(outcome, code, text, rule_id, (), policy.version, (), detail)
    return _decide_many(policy, cells, consent, request)


def _judge(cell: Cell, consent: Consent | None, request: Request) -> _Judged | None:
    """The verdict for one category, or None when it is allowed."""
    ctx = request.context
    for f in cell.forbids:
        if f.fires(ctx):
            return _FORBID, forbid_verdict(cell, f)
    structural = structural_verdict(cell)
    if structural is not None:
        return _STRUCTURE, structural
    refused = _consent_verdict(cell, consent, ctx.now)
    if refused is not None:
        return _CONSENT, refused
    proof = cell.proof
    if proof is not None and ctx.stage in proof.stages and not ctx.proof_presented:
        text = (
            f"rule {proof.rule_id}: in stage {ctx.stage}, {cell.category} is shown only by a "
            f"zero-knowledge proof ({proof.predicate}); present one instead of reading the value"
        )
        return _PROOF, (Outcome.DENY, ReasonCode.PROOF_REQUIRED, proof.rule_id, text)
    return None


def _consent_verdict(cell: Cell, consent: Consent | None, now: datetime) -> Verdict | None:
    permit = cell.permit_id
    if consent is None:
        text = (
            f"rule {permit} needs the client's consent and there is none (never given or withdrawn)"
        )
        return Outcome.DENY, ReasonCode.NO_CONSENT, permit, text
    expires = consent.expires_at
    if expires is not None and expires <= now:
        text = f"rule {permit} needs an active consent; {consent_summary(consent)}"
        return Outcome.DENY, ReasonCode.CONSENT_EXPIRED, permit, text
    if cell.purpose not in consent.purposes:
        rule = cell.consent_rule_id or permit
        text = f"rule {rule} needs consent to {cell.purpose}; {consent_summary(consent)}"
        return Outcome.DENY, cell.consent_code, rule, text
    if cell.level > consent.level:
        text = (
            f"rule {permit} needs consent at level {cell.level} for {cell.category}; "
            f"{consent_summary(consent)}"
        )
        return Outcome.DENY, ReasonCode.LEVEL_NOT_CONSENTED, permit, text
    return None


@lru_cache(maxsize=4096)
def consent_summary(consent: Consent | None) -> str:
    """The consent as a reason names it: level, purposes, expiry. No personal value.

    Cached because formatting an aware datetime costs more than the rest of a decision, and
    an app usually asks about the same client several times in a row.
    """
    if consent is None:
        return "the client has no consent"
    expires = consent.expires_at
    until = "with no expiry" if expires is None else f"expiring {expires.isoformat()}"
    purposes = ", ".join(sorted(consent.purposes))
    return f"the client's consent is level {consent.level} for {purposes}, {until}"


def _obligations(cell: Cell, request: Request) -> tuple[Obligation, ...]:
    proof = cell.proof
    if proof is not None and request.context.stage in proof.stages:
        return cell.proof_obligations
    return cell.obligations


def _allow(
    policy: CompiledPolicy, cell: Cell, consent: Consent | None, request: Request
) -> Decision:
    return Decision(
        Outcome.ALLOW,
        ReasonCode.ALLOWED,
        f"{cell.allow_text}; {consent_summary(consent)}",
        cell.permit_id,
        _obligations(cell, request),
        policy.version,
        request.resource.categories,
        cell.allow_detail,
    )


def _decide_many(
    policy: CompiledPolicy,
    cells: Mapping[str, Cell],
    consent: Consent | None,
    request: Request,
) -> Decision:
    picked: list[Cell] = []
    for key in request.resource.categories:
        cell = cells.get(key)
        if cell is None:
            raise _unknown_category(policy, key)
        picked.append(cell)
    judged = [_judge(cell, consent, request) for cell in picked]
    details = tuple(
        cell.allow_detail[0]
        if j is None
        else CategoryDecision(cell.category, j[1][0], j[1][1], j[1][2])
        for cell, j in zip(picked, judged, strict=True)
    )
    failures = [(j[0], n, j[1]) for n, j in enumerate(judged) if j is not None]
    if failures:
        _, n, (outcome, code, rule_id, text) = min(failures, key=lambda f: (f[0], f[1]))
        if outcome is Outcome.DENY and len(picked) > 1:
            text = f"{picked[n].category} is refused: {text}"
        return Decision(outcome, code, text, rule_id, (), policy.version, (), details)
    first = picked[0]
    names = ", ".join(request.resource.categories)
    text = (
        f"rule {first.permit_id} allows {first.department} to use {names} for {first.purpose}; "
        f"{consent_summary(consent)}"
    )
    obligations = merge_obligations(_obligations(cell, request) for cell in picked)
    return Decision(
        Outcome.ALLOW,
        ReasonCode.ALLOWED,
        text,
        first.permit_id,
        obligations,
        policy.version,
        request.resource.categories,
        details,
    )


def _unknown_department(policy: CompiledPolicy, name: str) -> UnknownDepartment:
    known = ", ".join(sorted(policy.cells))
    return UnknownDepartment(
        f"department {name!r} is not in the policy; it defines {known}", field="department"
    )


def _unknown_purpose(policy: CompiledPolicy, name: str) -> UnknownPurpose:
    known = ", ".join(policy.catalogue.purpose_map)
    return UnknownPurpose(f"purpose {name!r} is not one of {known}", field="purpose")


def _unknown_category(policy: CompiledPolicy, key: str) -> UnknownCategory:
    beneath = [c.key for c in policy.catalogue.categories if covers(key, c.key)]
    if beneath:
        # Minimum necessary: a group key would widen the request; the app must name categories.
        msg = f"{key!r} is a group of categories; ask for the ones needed: {', '.join(beneath)}"
    else:
        msg = f"category {key!r} is not in the catalogue"
    return UnknownCategory(msg, field="categories")
