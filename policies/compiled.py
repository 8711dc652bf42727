"""The policy compiled into lookup tables, so that a decision is a handful of dict lookups.

``compile_policy`` resolves once everything that does not depend on the consent: which
permit, forbids, consent rule, proof rule and obligations apply to each (department,
purpose, category) cell, with parent keys expanded to the catalogue's categories. Every
decision that does not depend on the consent is built here, whole; the ones that name the
consent are kept as templates whose reason ``decide`` completes with the consent's summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
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
    "Template",
    "compile_policy",
    "covers",
    "forbid_targets",
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
class Template:
    """A decision whose reason ends with the consent's summary, added per request."""

    outcome: Outcome
    code: ReasonCode
    rule_id: str | None
    text: str
    detail: tuple[CategoryDecision, ...]
    granted: tuple[str, ...]  # the category on an allow, nothing otherwise


@dataclass(frozen=True, slots=True)
class ForbidEntry:
    """A forbid as it applies to one cell, with the denial it produces there."""

    rule_id: str
    access: str | None
    stages: frozenset[str] | None
    decision: Decision

    @property
    def contextual(self) -> bool:
        return self.access is not None or self.stages is not None

    def fires(self, ctx: Context) -> bool:
        return (self.access is None or ctx.access == self.access) and (
            self.stages is None or ctx.stage in self.stages
        )


@dataclass(frozen=True, slots=True)
class ProofEntry:
    rule_id: str
    refusals: Mapping[str, Decision]  # by stage: the proof_required denial in that stage
    rule: ProofRule


@dataclass(frozen=True, slots=True)
class Cell:
    """Everything static about one (department, purpose, category).

    ``static`` is the finished decision when neither consent nor context can change it (a
    forbid without context conditions comes first, or there is no permit, or the category is
    outside it and no forbid depends on the context); ``decide`` returns it as is.
    """

    department: str
    purpose: str
    category: str
    level: int
    permit_id: str | None
    in_scope: bool
    forbids: tuple[ForbidEntry, ...]
    structural: Decision | None  # not applicable, or outside the permit
    static: Decision | None
    no_consent: Decision
    expired: Template
    unconsented: Template
    too_low: Template
    proof: ProofEntry | None
    allow: Template
    obligations: tuple[Obligation, ...]
    proof_obligations: tuple[Obligation, ...]


@dataclass(frozen=True)
class CompiledPolicy:
    """The policy as ``decide`` reads it: ``cells[department][purpose][category]``."""

    policy: Policy
    catalogue: Catalogue
    cells: Mapping[str, Mapping[str, Mapping[str, Cell]]]

    @property
    def version(self) -> str:
        return self.policy.version


def compile_policy(policy: Policy, catalogue: Catalogue) -> CompiledPolicy:
    """Expand the rules over every catalogue category. The policy must have been loaded
    against this catalogue (``load_policy`` checks every name)."""
    cells: dict[str, Mapping[str, Mapping[str, Cell]]] = {}
    for department, ddef in policy.document.departments.items():
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
                row[category.key] = _Builder(policy, department, purpose, category).cell(
                    permit_id, in_scope
                )
            by_purpose[purpose] = MappingProxyType(row)
        cells[department] = MappingProxyType(by_purpose)
    return CompiledPolicy(policy, catalogue, MappingProxyType(cells))


class _Builder:
    """Builds one cell: its rules, and the text of every decision it can give."""

    def __init__(self, policy: Policy, department: str, purpose: str, cat: CategoryDef) -> None:
        self.doc = policy.document
        self.version = policy.version
        self.department, self.purpose, self.cat = department, purpose, cat

    def decision(
        self, outcome: Outcome, code: ReasonCode, rule_id: str | None, text: str
    ) -> Decision:
        detail = (CategoryDecision(self.cat.key, outcome, code, rule_id),)
        return Decision(outcome, code, text, rule_id, (), self.version, (), detail)

    def template(
        self, outcome: Outcome, code: ReasonCode, rule_id: str | None, text: str
    ) -> Template:
        detail = (CategoryDecision(self.cat.key, outcome, code, rule_id),)
        granted = (self.cat.key,) if outcome is Outcome.ALLOW else ()
        return Template(outcome, code, rule_id, text, detail, granted)

    def cell(self, permit_id: str | None, in_scope: bool) -> Cell:
        dept, purpose, key, deny = self.department, self.purpose, self.cat.key, Outcome.DENY
        forbids = tuple(
            ForbidEntry(
                f.id,
                f.access,
                None if f.stages is None else frozenset(f.stages),
                self.decision(
                    deny, f.code, f.id, f"rule {f.id} forbids using {key} for {purpose}: {f.why}"
                ),
            )
            for f in self.doc.forbids
            if forbid_targets(f, dept, purpose, self.cat)
        )
        structural = None
        if permit_id is None:
            text = f"the policy has no rule letting {dept} pursue {purpose}"
            structural = self.decision(
                Outcome.NOT_APPLICABLE, ReasonCode.NOT_APPLICABLE, None, text
            )
        elif not in_scope:
            text = f"rule {permit_id} lets {dept} use other categories for {purpose}, not {key}"
            structural = self.decision(deny, ReasonCode.CATEGORY_NOT_PERMITTED, permit_id, text)
        consent_rule = next((r for r in self.doc.consent_rules if purpose in r.purposes), None)
        obligations = merge_obligations(
            r.add for r in self.doc.obligations if _rule_targets(r, dept, purpose, key)
        )
        needs = f"rule {permit_id} needs"
        return Cell(
            department=dept,
            purpose=purpose,
            category=key,
            level=self.cat.level,
            permit_id=permit_id,
            in_scope=in_scope,
            forbids=forbids,
            structural=structural,
            static=_static(forbids, structural),
            no_consent=self.decision(
                deny,
                ReasonCode.NO_CONSENT,
                permit_id,
                f"{needs} the client's consent and there is none (never given or withdrawn)",
            ),
            expired=self.template(
                deny, ReasonCode.CONSENT_EXPIRED, permit_id, f"{needs} an active consent; "
            ),
            unconsented=self.template(
                deny,
                ReasonCode.PURPOSE_NOT_CONSENTED if consent_rule is None else consent_rule.code,
                permit_id if consent_rule is None else consent_rule.id,
                f"rule {permit_id if consent_rule is None else consent_rule.id} needs "
                f"consent to {purpose}; ",
            ),
            too_low=self.template(
                deny,
                ReasonCode.LEVEL_NOT_CONSENTED,
                permit_id,
                f"{needs} consent at level {self.cat.level} for {key}; ",
            ),
            proof=self._proof(),
            allow=self.template(
                Outcome.ALLOW,
                ReasonCode.ALLOWED,
                permit_id,
                f"rule {permit_id} allows {dept} to use {key} for {purpose}; ",
            ),
            obligations=obligations,
            proof_obligations=merge_obligations(
                (obligations, (Obligation(ObligationKind.REQUIRES_PROOF),))
            ),
        )

    def _proof(self) -> ProofEntry | None:
        rule = next(
            (
                r
                for r in self.doc.proofs
                if _rule_targets(r, self.department, self.purpose, self.cat.key)
            ),
            None,
        )
        if rule is None:
            return None
        refusals = {
            stage: self.decision(
                Outcome.DENY,
                ReasonCode.PROOF_REQUIRED,
                rule.id,
                f"rule {rule.id}: in stage {stage}, {self.cat.key} is shown only by a "
                f"zero-knowledge proof ({rule.predicate.describe(rule.attribute)}); the client is "
                "asked for one (proof_request), present its proof_id instead of the value",
            )
            for stage in rule.stages
        }
        return ProofEntry(rule.id, MappingProxyType(refusals), rule)


def _static(forbids: tuple[ForbidEntry, ...], structural: Decision | None) -> Decision | None:
    """The decision when neither consent nor context can change it, else None."""
    if forbids:
        return None if forbids[0].contextual else forbids[0].decision
    return structural
