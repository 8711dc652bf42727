"""The decision engine on hand-picked requests: errors for unknown names, reasons, rule order."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from consent_ledger.consent import Consent
from policies import (
    DEFAULT_POLICY_PATH,
    Context,
    InvalidDecisionRequest,
    Obligation,
    ObligationKind,
    Outcome,
    ReasonCode,
    Resource,
    UnknownCategory,
    UnknownDepartment,
    UnknownPurpose,
    compile_policy,
    decide,
    parse_policy,
)
from policies.compiled import CompiledPolicy
from policies.decision import merge_obligations
from policies.errors import PolicyError
from tests.policies.support import CATALOGUE, CLIENT, COMPILED, NOW, request

EVERYTHING = Consent(
    CLIENT,
    4,
    frozenset(CATALOGUE.purpose_map),
    NOW - timedelta(days=10),
    NOW + timedelta(days=365),
)


@pytest.mark.parametrize(
    ("args", "error", "code", "field"),
    [
        (("trading", "kyc", "user.name"), UnknownDepartment, "unknown_department", "department"),
        (("compliance", "gambling", "user.name"), UnknownPurpose, "unknown_purpose", "purpose"),
        (("compliance", "kyc", "user.dna"), UnknownCategory, "unknown_category", "categories"),
        (
            ("compliance", "kyc", "user.name", "user.dna"),
            UnknownCategory,
            "unknown_category",
            "categories",
        ),
    ],
)
def test_unknown_names_raise_not_decide(
    args: tuple[str, ...], error: type[PolicyError], code: str, field: str
) -> None:
    """An unknown department, purpose or category is a PolicyError with a code and a field
    (the API's 4xx), never a decision, even when the client consented to everything."""
    with pytest.raises(error) as info:
        decide(COMPILED, EVERYTHING, request(*args))
    assert (info.value.code, info.value.field) == (code, field)


def test_group_key_is_refused_and_the_members_named() -> None:
    """Minimum necessary: asking for a whole group (user.contact's children are fine, but
    user.financial is no catalogue category) is refused, listing what to ask for instead."""
    with pytest.raises(UnknownCategory, match="group of categories") as info:
        decide(COMPILED, EVERYTHING, request("compliance", "kyc", "user.financial"))
    assert "user.financial.tax_records" in info.value.message


def test_another_clients_consent_is_refused() -> None:
    """A consent for client A can never decide a request about client B."""
    with pytest.raises(InvalidDecisionRequest) as info:
        decide(COMPILED, EVERYTHING, request("compliance", "kyc", "user.name", client="c_other"))
    assert info.value.field == "consent"


def test_malformed_requests_are_refused_when_built() -> None:
    """A naive clock, no categories, a category twice or an unknown access mode are refused."""
    with pytest.raises(InvalidDecisionRequest, match="time zone"):
        Context(datetime(2026, 1, 1))
    with pytest.raises(InvalidDecisionRequest, match="at least one"):
        Resource(CLIENT, ())
    with pytest.raises(InvalidDecisionRequest, match="twice"):
        Resource(CLIENT, ("user.name", "user.name"))
    with pytest.raises(InvalidDecisionRequest, match="access"):
        Context(NOW, "bulk")  # type: ignore[arg-type]


def test_reason_names_the_rule_and_the_consent() -> None:
    """An allow's reason names the permit and the consent's level, purposes and expiry; a
    consent denial names the consent the same way."""
    allowed = decide(COMPILED, EVERYTHING, request("compliance", "kyc", "user.name"))
    assert allowed.reason.startswith("rule compliance-kyc allows compliance to use user.name")
    assert "level 4" in allowed.reason
    assert "kyc, marketing, model_training" in allowed.reason
    assert "expiring 2027-03-01T09:30:00+00:00" in allowed.reason
    low = Consent(CLIENT, 1, frozenset({"kyc"}), NOW, None)
    denied = decide(COMPILED, low, request("compliance", "kyc", "user.financial.tax_records"))
    assert denied.reason_code is ReasonCode.LEVEL_NOT_CONSENTED
    assert "level 1 for kyc, with no expiry" in denied.reason


def test_details_follow_the_request_order() -> None:
    """Each requested category gets its own verdict, in request order, with its rule."""
    consent = Consent(CLIENT, 2, frozenset({"investment_advice"}), NOW, None)
    decision = decide(
        COMPILED,
        consent,
        request("advisory", "investment_advice", "user.financial.tax_records", "user.name"),
    )
    assert [(d.category, d.outcome, d.reason_code) for d in decision.details] == [
        ("user.financial.tax_records", Outcome.DENY, ReasonCode.FORBIDDEN_TAX_RECORDS_KYC_ONLY),
        ("user.name", Outcome.ALLOW, ReasonCode.ALLOWED),
    ]
    assert decision.reason.startswith("user.financial.tax_records is refused: ")


EXTRA_FORBIDS = """\
  - id: no-marketing-while-onboarding
    code: forbidden_by_policy
    purposes: [marketing]
    stages: [onboarding]
    why: "No offers while the client is still being onboarded."
"""


def _with_extra_forbids() -> CompiledPolicy:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    # Put the new forbid first so that file order decides between it and the L1 forbid.
    text = text.replace("forbids:\n", "forbids:\n" + EXTRA_FORBIDS, 1)
    policy = parse_policy(text, "extended.yaml", CATALOGUE)
    return compile_policy(policy, CATALOGUE)


def test_first_forbid_in_file_order_decides_and_context_is_checked_per_request() -> None:
    """A forbid with a stage condition fires only in that stage; when it fires it is reported
    before a later forbid, and when it does not the later (static) forbid still applies."""
    extended = _with_extra_forbids()
    holdings = "user.financial.holdings_summary"
    in_stage = decide(
        extended, EVERYTHING, request("advisory", "marketing", holdings, stage="onboarding")
    )
    assert in_stage.reason_code is ReasonCode.FORBIDDEN_BY_POLICY
    assert in_stage.rule_id == "no-marketing-while-onboarding"
    outside = decide(extended, EVERYTHING, request("advisory", "marketing", holdings))
    assert outside.reason_code is ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1
    name_in_stage = decide(
        extended, EVERYTHING, request("advisory", "marketing", "user.name", stage="onboarding")
    )
    assert name_in_stage.reason_code is ReasonCode.FORBIDDEN_BY_POLICY
    assert extended.version != COMPILED.version


def test_decisions_are_immutable() -> None:
    """A decision cannot be altered after the fact, so what is logged is what was decided."""
    decision = decide(COMPILED, EVERYTHING, request("compliance", "kyc", "user.name"))
    with pytest.raises(AttributeError):
        decision.outcome = Outcome.DENY  # type: ignore[misc]


def test_merging_obligations_keeps_order_and_the_shortest_retention() -> None:
    """Obligations of several categories are unioned in declaration order; the strictest
    retention period wins."""
    log, mask = Obligation(ObligationKind.LOG), Obligation(ObligationKind.MASK)
    merged = merge_obligations(
        [
            (mask, Obligation(ObligationKind.RETAIN_DAYS, 90)),
            (log, Obligation(ObligationKind.RETAIN_DAYS, 30)),
        ]
    )
    assert merged == (log, mask, Obligation(ObligationKind.RETAIN_DAYS, 30))
    assert [str(o) for o in merged] == ["log", "mask", "retain_days:30"]


def test_obligation_days_go_with_retain_days_only() -> None:
    """retain_days needs a number of days and no other obligation takes one."""
    with pytest.raises(ValueError, match="retain_days"):
        Obligation(ObligationKind.RETAIN_DAYS)
    with pytest.raises(ValueError, match="retain_days"):
        Obligation(ObligationKind.MASK, 3)
