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
from policies.engine import consent_summary
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


L2_SUITABILITY = Consent(CLIENT, 2, frozenset({"suitability"}), NOW, None)
_L2_SUMMARY = "the client's consent is level 2 for suitability, with no expiry"
_MARKETING_FORBID = (
    "user.financial.holdings_summary is refused: rule marketing-basic-data-only forbids using "
    "user.financial.holdings_summary for marketing: Marketing never reaches beyond basic "
    "information (level 1)."
)


@pytest.mark.parametrize(
    ("purpose", "categories", "code", "rule", "reason"),
    [
        # Proof (rank 3) asked first, consent level (rank 2) second: the consent is blamed.
        (
            "suitability",
            ("user.financial.assets_under_management", "user.financial.household_income"),
            ReasonCode.LEVEL_NOT_CONSENTED,
            "advisory-suitability",
            "user.financial.household_income is refused: rule advisory-suitability needs "
            "consent at level 4 for user.financial.household_income; " + _L2_SUMMARY,
        ),
        # Consent (rank 2) first, outside the permit (rank 1) second: the permit is blamed.
        (
            "marketing",
            ("user.name", "user.government_id"),
            ReasonCode.CATEGORY_NOT_PERMITTED,
            "advisory-marketing",
            "user.government_id is refused: rule advisory-marketing lets advisory use other "
            "categories for marketing, not user.government_id",
        ),
        # Outside the permit (rank 1) first, a forbid (rank 0) second: the forbid is blamed.
        (
            "marketing",
            ("user.government_id", "user.financial.holdings_summary"),
            ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1,
            "marketing-basic-data-only",
            _MARKETING_FORBID,
        ),
        # Two forbids (same rank): the one asked for first is blamed, whichever it is.
        (
            "marketing",
            ("user.financial.holdings_summary", "user.financial.tax_records"),
            ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1,
            "marketing-basic-data-only",
            _MARKETING_FORBID,
        ),
        (
            "marketing",
            ("user.financial.tax_records", "user.financial.holdings_summary"),
            ReasonCode.FORBIDDEN_TAX_RECORDS_KYC_ONLY,
            "tax-records-kyc-only",
            "user.financial.tax_records is refused: rule tax-records-kyc-only forbids using "
            "user.financial.tax_records for marketing: Tax records are collected under AML "
            "rules and may serve KYC and nothing else.",
        ),
    ],
)
def test_a_multi_category_denial_blames_the_first_failure_in_evaluation_order(
    purpose: str, categories: tuple[str, ...], code: ReasonCode, rule: str, reason: str
) -> None:
    """Of several failing categories, the one whose verdict comes first in the order of
    evaluation (forbid, then outside the permit, then consent, then proof; ties in request
    order) decides the code, the rule and the reason, word for word."""
    decision = decide(
        COMPILED,
        L2_SUITABILITY,
        request("advisory", purpose, *categories, stage="qualified_investor_check"),
    )
    assert (decision.outcome, decision.reason_code, decision.rule_id, decision.reason) == (
        Outcome.DENY,
        code,
        rule,
        reason,
    )
    assert (decision.categories, decision.obligations) == ((), ())
    assert [d.category for d in decision.details] == list(categories)


def test_a_multi_category_request_without_a_permit_is_not_applicable_unprefixed() -> None:
    """No permit at all is not a denial of one category: the reason is the policy's own,
    without a "... is refused:" prefix, and no rule is named."""
    decision = decide(
        COMPILED, EVERYTHING, request("compliance", "marketing", "user.name", "user.contact.email")
    )
    assert (decision.outcome, decision.reason_code, decision.rule_id, decision.reason) == (
        Outcome.NOT_APPLICABLE,
        ReasonCode.NOT_APPLICABLE,
        None,
        "the policy has no rule letting compliance pursue marketing",
    )


@pytest.mark.parametrize(
    ("consent", "args", "kwargs", "code", "rule", "reason"),
    [
        (
            None,
            ("advisory", "suitability", "user.name"),
            {},
            ReasonCode.NO_CONSENT,
            "advisory-suitability",
            "rule advisory-suitability needs the client's consent and there is none "
            "(never given or withdrawn)",
        ),
        (
            Consent(CLIENT, 2, frozenset({"suitability"}), NOW - timedelta(days=2), NOW),
            ("advisory", "suitability", "user.name"),
            {},
            ReasonCode.CONSENT_EXPIRED,
            "advisory-suitability",
            "rule advisory-suitability needs an active consent; the client's consent is level 2 "
            "for suitability, expiring 2026-03-01T09:30:00+00:00",
        ),
        (
            L2_SUITABILITY,
            ("advisory", "model_training", "user.financial.holdings_summary"),
            {},
            ReasonCode.MODEL_TRAINING_NOT_CONSENTED,
            "model-training-needs-consent",
            "rule model-training-needs-consent needs consent to model_training; " + _L2_SUMMARY,
        ),
        (
            L2_SUITABILITY,
            ("advisory", "suitability", "user.financial.assets_under_management"),
            {"stage": "qualified_investor_check"},
            ReasonCode.PROOF_REQUIRED,
            "qualified-investor-proof",
            "rule qualified-investor-proof: in stage qualified_investor_check, "
            "user.financial.assets_under_management is shown only by a zero-knowledge proof "
            "(assets_under_management at least 3000000); the client is asked for one "
            "(proof_request), present its proof_id instead of the value",
        ),
    ],
)
def test_each_denial_gives_its_exact_reason(
    consent: Consent | None,
    args: tuple[str, ...],
    kwargs: dict[str, str],
    code: ReasonCode,
    rule: str,
    reason: str,
) -> None:
    """Every kind of single-category denial carries its code, its rule and its reason text,
    the consent named as the client sees it."""
    decision = decide(COMPILED, consent, request(*args, **kwargs))  # type: ignore[arg-type]
    assert (decision.outcome, decision.reason_code, decision.rule_id, decision.reason) == (
        Outcome.DENY,
        code,
        rule,
        reason,
    )


def test_a_verified_proof_allows_with_the_proof_obligation() -> None:
    """In the proof's stage, a proof the server verified for the rule allows and obliges the
    app to take the proof, not the value; one for another rule does not; outside that stage
    the value itself is allowed."""
    aum = "user.financial.assets_under_management"
    proved = decide(
        COMPILED,
        L2_SUITABILITY,
        request(
            "advisory",
            "suitability",
            aum,
            stage="qualified_investor_check",
            proven=frozenset({"qualified-investor-proof"}),
        ),
    )
    other = request(
        "advisory", "suitability", aum, stage="qualified_investor_check", proven=frozenset({"x"})
    )
    assert decide(COMPILED, L2_SUITABILITY, other).reason_code is ReasonCode.PROOF_REQUIRED
    assert (proved.outcome, proved.rule_id, proved.categories) == (
        Outcome.ALLOW,
        "advisory-suitability",
        (aum,),
    )
    assert proved.obligations == (
        Obligation(ObligationKind.LOG),
        Obligation(ObligationKind.REQUIRES_PROOF),
    )
    assert proved.reason == (
        f"rule advisory-suitability allows advisory to use {aum} for suitability; " + _L2_SUMMARY
    )
    plain = decide(COMPILED, L2_SUITABILITY, request("advisory", "suitability", aum))
    assert (plain.outcome, plain.obligations) == (Outcome.ALLOW, (Obligation(ObligationKind.LOG),))


def test_a_multi_category_allow_names_every_category_and_merges_obligations() -> None:
    """An allow of several categories names them all in request order, with the permit and
    the consent, and carries the union of their obligations."""
    decision = decide(
        COMPILED,
        L2_SUITABILITY,
        request("advisory", "suitability", "user.name", "user.government_id"),
    )
    assert (decision.outcome, decision.reason_code, decision.rule_id) == (
        Outcome.ALLOW,
        ReasonCode.ALLOWED,
        "advisory-suitability",
    )
    assert decision.reason == (
        "rule advisory-suitability allows advisory to use user.name, user.government_id for "
        "suitability; " + _L2_SUMMARY
    )
    assert decision.categories == ("user.name", "user.government_id")
    assert decision.obligations == (Obligation(ObligationKind.LOG), Obligation(ObligationKind.MASK))
    assert [(d.category, d.outcome) for d in decision.details] == [
        ("user.name", Outcome.ALLOW),
        ("user.government_id", Outcome.ALLOW),
    ]


def test_a_forbid_is_blamed_before_a_missing_permit() -> None:
    """Where one category is forbidden and the others have no permit, the forbid decides,
    though a category without a permit was asked for first."""
    decision = decide(
        COMPILED,
        EVERYTHING,
        request("compliance", "marketing", "user.name", "user.financial.holdings_summary"),
    )
    assert (decision.outcome, decision.reason_code, decision.rule_id) == (
        Outcome.DENY,
        ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1,
        "marketing-basic-data-only",
    )
    assert decision.reason.startswith("user.financial.holdings_summary is refused: ")


def test_the_summary_of_no_consent() -> None:
    """With no consent at all, the summary says so in words."""
    assert consent_summary(None) == "the client has no consent"
