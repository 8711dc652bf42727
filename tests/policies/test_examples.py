"""Replays policies/examples.yaml against the engine and checks the examples cover the policy."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest
import yaml
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, PlainValidator

from consent_ledger.consent import Consent
from policies import App, Context, Decision, Obligation, Outcome, ReasonCode, Request, Resource
from policies import decide as engine_decide
from policies.decision import ObligationKind
from tests.policies.support import CLIENT, COMPILED, POLICY

EXAMPLES_PATH = Path(__file__).resolve().parents[2] / "policies" / "examples.yaml"


ObligationSpec = Annotated[Obligation, PlainValidator(Obligation.from_json)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ConsentSpec(_Strict):
    level: int
    purposes: tuple[str, ...]
    expires_at: AwareDatetime | None = None


class RequestSpec(_Strict):
    department: str
    purpose: str
    categories: tuple[str, ...]
    access: Literal["row", "aggregate"] = "row"
    stage: str | None = None
    proven: tuple[str, ...] = ()


class Expectation(_Strict):
    outcome: Outcome
    reason_code: ReasonCode
    rule: str | None
    obligations: tuple[ObligationSpec, ...] = ()
    reason_mentions: str | None = None


class Example(_Strict):
    name: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")]
    why: Annotated[str, Field(min_length=10)]
    request: RequestSpec
    consent: str | None
    expect: Expectation
    also_covers: tuple[str, ...] = ()


class ExampleFile(_Strict):
    now: AwareDatetime
    consents: dict[str, ConsentSpec]
    examples: tuple[Example, ...]


def _load() -> ExampleFile:
    raw: Any = yaml.safe_load(EXAMPLES_PATH.read_text(encoding="utf-8"))
    return ExampleFile.model_validate(raw)


FILE = _load()


def _consent(name: str | None, now: datetime) -> Consent | None:
    if name is None:
        return None
    spec = FILE.consents[name]
    granted = now - timedelta(days=30)
    return Consent(CLIENT, spec.level, frozenset(spec.purposes), granted, spec.expires_at)


def _replay(example: Example) -> Decision:
    spec = example.request
    request = Request(
        App(f"{spec.department}-app", spec.department),
        spec.purpose,
        Resource(CLIENT, spec.categories),
        Context(FILE.now, spec.access, spec.stage, frozenset(spec.proven)),
    )
    return engine_decide(COMPILED, _consent(example.consent, FILE.now), request)


@pytest.mark.parametrize("example", FILE.examples, ids=[e.name for e in FILE.examples])
def test_example_decides_as_documented(example: Example) -> None:
    """Each example gets exactly the outcome, reason code, deciding rule and obligations the
    file says, with the categories granted being exactly those asked for."""
    decision = _replay(example)
    expect = example.expect
    assert (decision.outcome, decision.reason_code) == (expect.outcome, expect.reason_code)
    assert decision.rule_id == expect.rule
    assert decision.obligations == expect.obligations
    assert decision.policy_version == POLICY.version
    granted = example.request.categories if expect.outcome is Outcome.ALLOW else ()
    assert decision.categories == granted
    if expect.reason_mentions is not None:
        assert expect.reason_mentions in decision.reason


def test_examples_are_many_and_uniquely_named() -> None:
    """At least 30 examples, each with its own name, and every named consent is used."""
    names = [e.name for e in FILE.examples]
    assert len(names) >= 30
    assert len(set(names)) == len(names)
    assert {e.consent for e in FILE.examples} - {None} == set(FILE.consents)


def test_examples_cover_every_rule_of_the_policy() -> None:
    """Every rule id in firm.yaml decides at least one example or shows its obligations in one."""
    doc = POLICY.document
    rule_ids = {p.id for d in doc.departments.values() for p in d.permits}
    for section in (doc.forbids, doc.consent_rules, doc.proofs, doc.obligations):
        rule_ids |= {r.id for r in section}
    covered = {e.expect.rule for e in FILE.examples}
    covered |= {rule for e in FILE.examples for rule in e.also_covers}
    assert rule_ids <= covered, f"rules without an example: {sorted(rule_ids - covered)}"


def test_also_covers_is_truthful() -> None:
    """An example that claims to show an obligation rule does expect that rule's obligations
    (a retention period may be shortened by a stricter rule, never lengthened)."""
    rules = {r.id: r for r in POLICY.document.obligations}
    for example in FILE.examples:
        expected = example.expect.obligations
        for rule_id in example.also_covers:
            for ob in rules[rule_id].add:
                assert _shows(expected, ob), f"{example.name} does not show {rule_id}: {ob}"


def _shows(expected: tuple[Obligation, ...], ob: Obligation) -> bool:
    if ob.kind is ObligationKind.RETAIN_DAYS:
        return any(
            e.days is not None and ob.days is not None and e.days <= ob.days for e in expected
        )
    return ob in expected


def test_examples_reach_every_reason_code_the_policy_can_give() -> None:
    """Every reason code appears in some example, except the generic forbid code that
    firm.yaml does not use (test_engine.py covers it with a policy of its own)."""
    used = {e.expect.reason_code for e in FILE.examples}
    assert set(ReasonCode) - used == {ReasonCode.FORBIDDEN_BY_POLICY}
