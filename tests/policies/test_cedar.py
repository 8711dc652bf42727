"""Cross-check: the same policy written in Cedar gives the same allow/deny on a random workload."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import cedarpy

from policies import Decision, Outcome, ReasonCode, decide
from policies.cedar import cedar_entities, cedar_policies, cedar_requests
from policies.decision import FORBID_CODES
from policies.workload import Workload, random_workload
from tests.policies.support import COMPILED

PROOF_RULES = {r.id for r in COMPILED.policy.document.proofs}
WORKLOAD = random_workload(COMPILED, 3000, seed=20260301, max_categories=3)


def _cedar(workload: Workload, policy_text: str) -> list[list[cedarpy.AuthzResult]]:
    """Cedar's results per request: one result per requested category."""
    policies = cedarpy.PolicySet.from_str(policy_text)
    entities = cedarpy.Entities.from_json_str(
        json.dumps(cedar_entities(COMPILED, workload.consents, workload.apps))
    )
    flat: list[dict[str, Any]] = []
    spans = []
    for request in workload.requests:
        asked = cedar_requests(request)
        spans.append((len(flat), len(asked)))
        flat += asked
    results: list[cedarpy.AuthzResult] = []
    for start in range(0, len(flat), 500):
        results += cedarpy.is_authorized_batch(flat[start : start + 500], policies, entities)
    return [results[at : at + n] for at, n in spans]


def _ours(workload: Workload) -> list[Decision]:
    return [decide(COMPILED, workload.consents[r.resource.client_id], r) for r in workload.requests]


def test_cedar_agrees_on_every_request_of_the_workload() -> None:
    """On 3,000 random requests of 1-3 categories over 500 random consents, our allow/deny
    equals Cedar's (a request is allowed iff Cedar allows each of its categories; our
    NOT_APPLICABLE is Cedar's default deny), and Cedar evaluates without errors."""
    cedar = _cedar(WORKLOAD, cedar_policies(COMPILED))
    ours = _ours(WORKLOAD)
    mismatches = [
        (request, decision.reason_code)
        for request, decision, results in zip(WORKLOAD.requests, ours, cedar, strict=True)
        if decision.allowed != all(r.allowed for r in results)
    ]
    assert mismatches == []
    assert [e for results in cedar for r in results for e in r.diagnostics.errors] == []
    assert len(WORKLOAD.requests) >= 2000


def test_cedar_names_the_same_deciding_rule() -> None:
    """Where one category decides, the rule we name is among the Cedar policies that decided:
    our permit on an allow, our forbid or proof rule on such a deny; when we say
    NOT_APPLICABLE no Cedar policy at all was satisfied, and when the consent or the permit's
    scope refused, no permit and no forbid (but possibly a proof rule) was."""
    cedar = _cedar(WORKLOAD, cedar_policies(COMPILED))
    for request, decision, results in zip(WORKLOAD.requests, _ours(WORKLOAD), cedar, strict=True):
        if len(results) != 1:
            continue
        fired = set(results[0].diagnostics.id_annotations_by_reason.values())
        if decision.outcome is Outcome.NOT_APPLICABLE:
            assert fired == set()
        elif decision.allowed:
            assert fired == {f"{decision.rule_id}/{request.action}"}
        elif decision.reason_code in FORBID_CODES | {ReasonCode.PROOF_REQUIRED}:
            assert decision.rule_id in fired
        else:  # refused by the consent or the permit's scope: no permit held, no forbid fired
            assert fired <= PROOF_RULES  # a proof rule is checked after the consent


def test_workload_reaches_every_reason_code() -> None:
    """The cross-check means something only if the workload exercises every branch: every
    reason code the shipped policy can give occurs in it."""
    seen = Counter(d.reason_code for d in _ours(WORKLOAD))
    assert set(ReasonCode) - set(seen) == {ReasonCode.FORBIDDEN_BY_POLICY}


def test_cross_check_catches_a_wrong_translation() -> None:
    """Dropping the forbids from the Cedar text makes the check fail: it has teeth."""
    text = cedar_policies(COMPILED)
    without_forbids = "\n\n".join(
        block for block in text.split("\n\n") if "\nforbid (" not in block
    )
    cedar = _cedar(WORKLOAD, without_forbids)
    disagreements = sum(
        decision.allowed != all(r.allowed for r in results)
        for decision, results in zip(_ours(WORKLOAD), cedar, strict=True)
    )
    assert disagreements > 0
