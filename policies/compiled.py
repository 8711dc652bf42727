"""The policy compiled into lookup tables, so that a decision is a handful of dict lookups.

``compile_policy`` resolves everything that does not depend on the consent or the request's
context once: which permit, forbids, consent rule, proof rule and obligations apply to each
(department, purpose, category) cell, with parent keys already expanded to the catalogue's
categories. What is left for ``decide`` is the consent and the context.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from types import MappingProxyType

from consent_ledger.catalogue import Catalogue, CategoryDef
from policies.decision import (
    CategoryDecision,
    Context,
    Decision,
    Obligation,
    ObligationKind,
    Outcome,
    ReasonCode,
    merge_obligations,
)
from policies.model import Forbid, ObligationRule, Policy, ProofRule

__all__ = [
    "Cell",
    "CompiledPolicy",
    "ForbidEntry",
    "ProofEntry",
    "Verdict",
    "compile_policy",
    "covers",
    "forbid_targets",
    "forbid_verdict",
    "structural_verdict",
]


def covers(key: str, category: str) -> bool:
    """A dotted key covers itself and every category beneath it (``user`` covers ``user.name``)."""
    return category == key or category.startswith(key + ".")


def forbid_targets(forbid: Forbid, department: str, purpose: str, category: CategoryDef) -> bool:
    """Whether the forbid is about this cell; its context conditions are checked per request."""
    return (
        (forbid.departments is None or department in forbid.departments)
        and (forbid.purposes is None or purpose in forbid.purposes)
        and (forbid.except_purposes is None or purpose not in forbid.except_purposes)
        and (forbid.categories is None or any(covers(k, category.key) for k in forbid.categories))
        and (forbid.min_level is None or category.level >= forbid.min_level)
    )


def _rule_targets(
    rule: ObligationRule | ProofRule, department: str, purpose: str, category: str
) -> bool:
    return (
        (rule.departments is None or department in rule.departments)
        and (rule.purposes is None or purpose in rule.purposes)
        and (rule.categories is None or any(covers(k, category) for k in rule.categories))
    )


@dataclass(frozen=True, slots=True)
class ForbidEntry:
    rule_id: str
    code: ReasonCode
    why: str
    access: str | None
    stages: frozenset[str] | None

    def fires(self, ctx: Context) -> bool:
        return (self.access is None or ctx.access == self.access) and (
            self.stages is None or ctx.stage in self.stages
        )


@dataclass(frozen=True, slots=True)
class ProofEntry:
    rule_id: str
    stages: frozenset[str]
    predicate: str


@dataclass(frozen=True, slots=True)
class Cell:
    """Everything static about one (department, purpose, category).

    ``static`` is the finished single-category decision when no consent or context can change
    it (a forbid without context conditions, no permit at all, a category outside the permit);
    ``decide`` returns it as is.
    """

    department: str
    purpose: str
    category: str
    level: int
    forbids: tuple[ForbidEntry, ...]
    permit_id: str | None
    in_scope: bool
    consent_rule_id: str | None
    consent_code: ReasonCode
    proof: ProofEntry | None
    obligations: tuple[Obligation, ...]
    proof_obligations: tuple[Obligation, ...]
    allow_text: str
    allow_detail: tuple[CategoryDecision, ...]
    static: Decision | None


@dataclass(frozen=True)
class CompiledPolicy:
    """The policy as ``decide`` reads it: ``cells[department][purpose][category]``."""

    policy: Policy
    catalogue: Catalogue
    cells: Mapping[str, Mapping[str, Mapping[str, Cell]]]

    @property
    def version(self) -> str:
        return self.policy.version

    @property
    def departments(self) -> frozenset[str]:
        return frozenset(self.cells)


def compile_policy(policy: Policy, catalogue: Catalogue) -> CompiledPolicy:
    """Expand the rules over every catalogue category; the policy must have been loaded
    against this catalogue (``load_policy`` checks every name)."""
    doc = policy.document
    cells: dict[str, Mapping[str, Mapping[str, Cell]]] = {}
    for department, ddef in doc.departments.items():
        permits = {p: permit for permit in ddef.permits for p in permit.purposes}
        by_purpose: dict[str, Mapping[str, Cell]] = {}
        for purpose in catalogue.purpose_map:
            permit = permits.get(purpose)
            row: dict[str, Cell] = {}
            for category in catalogue.categories:
                in_scope = permit is not None and any(
                    covers(k, category.key) for k in permit.categories
                )
                permit_id = None if permit is None else permit.id
                row[category.key] = _cell(
                    policy, department, purpose, category, permit_id, in_scope
                )
            by_purpose[purpose] = MappingProxyType(row)
        cells[department] = MappingProxyType(by_purpose)
    return CompiledPolicy(policy, catalogue, MappingProxyType(cells))


def _cell(
    policy: Policy,
    department: str,
    purpose: str,
    category: CategoryDef,
    permit_id: str | None,
    in_scope: bool,
) -> Cell:
    doc = policy.document
    forbids = tuple(
        ForbidEntry(
            f.id, f.code, f.why, f.access, None if f.stages is None else frozenset(f.stages)
        )
        for f in doc.forbids
        if forbid_targets(f, department, purpose, category)
    )
    consent_rule = next((r for r in doc.consent_rules if purpose in r.purposes), None)
    proof = next(
        (
            ProofEntry(r.id, frozenset(r.stages), r.predicate)
            for r in doc.proofs
            if _rule_targets(r, department, purpose, category.key)
        ),
        None,
    )
    obligations = merge_obligations(
        r.add for r in doc.obligations if _rule_targets(r, department, purpose, category.key)
    )
    allow_text = f"rule {permit_id} allows {department} to use {category.key} for {purpose}"
    cell = Cell(
        department=department,
        purpose=purpose,
        category=category.key,
        level=category.level,
        forbids=forbids,
        permit_id=permit_id,
        in_scope=in_scope,
        consent_rule_id=None if consent_rule is None else consent_rule.id,
        consent_code=ReasonCode.PURPOSE_NOT_CONSENTED
        if consent_rule is None
        else consent_rule.code,
        proof=proof,
        obligations=obligations,
        proof_obligations=merge_obligations(
            (obligations, (Obligation(ObligationKind.REQUIRES_PROOF),))
        ),
        allow_text=allow_text,
        allow_detail=(
            CategoryDecision(category.key, Outcome.ALLOW, ReasonCode.ALLOWED, permit_id),
        ),
        static=None,
    )
    return replace(cell, static=_static_decision(cell, policy.version))


Verdict = tuple[Outcome, ReasonCode, str | None, str]


def forbid_verdict(cell: Cell, f: ForbidEntry) -> Verdict:
    text = f"rule {f.rule_id} forbids using {cell.category} for {cell.purpose}: {f.why}"
    return Outcome.DENY, f.code, f.rule_id, text


def structural_verdict(cell: Cell) -> Verdict | None:
    """No permit for (department, purpose) at all, or a category outside the permit."""
    if cell.permit_id is None:
        return (
            Outcome.NOT_APPLICABLE,
            ReasonCode.NOT_APPLICABLE,
            None,
            f"the policy has no rule letting {cell.department} pursue {cell.purpose}",
        )
    if not cell.in_scope:
        return (
            Outcome.DENY,
            ReasonCode.CATEGORY_NOT_PERMITTED,
            cell.permit_id,
            f"rule {cell.permit_id} lets {cell.department} use other categories for "
            f"{cell.purpose}, not {cell.category}",
        )
    return None


def _static_decision(cell: Cell, version: str) -> Decision | None:
    """The decision when neither consent nor context can change it, else None."""
    if cell.forbids:
        first = cell.forbids[0]
        if first.access is not None or first.stages is not None:
            return None
        verdict: Verdict | None = forbid_verdict(cell, first)
    else:
        verdict = structural_verdict(cell)
    if verdict is None:
        return None
    outcome, code, rule_id, text = verdict
    detail = (CategoryDecision(cell.category, outcome, code, rule_id),)
    return Decision(outcome, code, text, rule_id, (), version, (), detail)
