"""The decision function: pure, over (compiled policy, the client's consent, request).

Order of evaluation, per requested category (README.md, "Rule semantics"):
1. a forbid that fires beats everything (forbids never read the consent);
2. no permit for (department, purpose) at all → NOT_APPLICABLE, which is never an allow;
3. a category outside the permit → DENY category_not_permitted;
4. the consent: none or withdrawn, expired at or before ``now``, purpose missing, level too
   low → DENY; a revocation therefore takes effect on the very next decision;
5. a proof rule in its stage, unless a verified proof satisfies it → DENY proof_required;
6. otherwise ALLOW, with the cell's obligations.
A request for several categories is allowed only if every category is; otherwise it is
denied for the first failing category in the order above (then in request order).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from consent_ledger.consent import Consent
from policies.compiled import Cell, CompiledPolicy, Template, covers
from policies.decision import (
    FORBID_CODES,
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

__all__ = ["consent_summary", "decide"]

# A request for several categories is refused for the category whose verdict comes first in
# the order of evaluation: forbids, then no permit / out of scope, then consent, then proof.
_RANK = {code: 0 for code in FORBID_CODES} | {
    ReasonCode.NOT_APPLICABLE: 1,
    ReasonCode.CATEGORY_NOT_PERMITTED: 1,
    ReasonCode.PROOF_REQUIRED: 3,
}
_CONSENT_RANK = 2


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
        return _decide_one(cell, consent, request, policy.version)
    return _decide_many(policy, cells, consent, request)


def _decide_one(cell: Cell, consent: Consent | None, request: Request, version: str) -> Decision:
    """One category, in the order the module docstring gives; most answers are prebuilt."""
    if cell.static is not None:
        return cell.static
    ctx = request.context
    for forbid in cell.forbids:
        if forbid.fires(ctx):
            return forbid.decision
    if cell.structural is not None:
        return cell.structural
    if consent is None:
        return cell.no_consent
    expires = consent.expires_at
    if expires is not None and expires <= ctx.now:
        return _fill(cell.expired, consent, (), version)
    if cell.purpose not in consent.purposes:
        return _fill(cell.unconsented, consent, (), version)
    if cell.level > consent.level:
        return _fill(cell.too_low, consent, (), version)
    proof, stage = cell.proof, ctx.stage
    if proof is not None and stage is not None and stage in proof.refusals:
        if proof.rule_id not in ctx.proven:
            return proof.refusals[stage]
        return _fill(cell.allow, consent, cell.proof_obligations, version)
    return _fill(cell.allow, consent, cell.obligations, version)


def _fill(
    t: Template, consent: Consent, obligations: tuple[Obligation, ...], version: str
) -> Decision:
    text = t.text + consent_summary(consent)
    return Decision(t.outcome, t.code, text, t.rule_id, obligations, version, t.granted, t.detail)


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
    each = [_decide_one(cell, consent, request, policy.version) for cell in picked]
    details: tuple[CategoryDecision, ...] = tuple(d.details[0] for d in each)
    failures = [
        (_RANK.get(d.reason_code, _CONSENT_RANK), n)
        for n, d in enumerate(each)
        if d.outcome is not Outcome.ALLOW
    ]
    if failures:
        first = each[min(failures)[1]]
        text = first.reason
        if first.outcome is Outcome.DENY:
            text = f"{first.details[0].category} is refused: {text}"
        return Decision(
            first.outcome, first.reason_code, text, first.rule_id, (), policy.version, (), details
        )
    lead = picked[0]
    names = ", ".join(request.resource.categories)
    text = (
        f"rule {lead.permit_id} allows {lead.department} to use {names} for {lead.purpose}; "
        f"{consent_summary(consent)}"
    )
    return Decision(
        Outcome.ALLOW,
        ReasonCode.ALLOWED,
        text,
        lead.permit_id,
        merge_obligations(d.obligations for d in each),
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
