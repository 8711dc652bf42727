"""Properties of the decision engine over random requests and consents (hypothesis).

No deadline: these are pure checks, and a loaded machine must not turn a slow example into
a failure (every other property suite does the same).

Requests mix arbitrary (department, purpose, categories) with ones the policy permits, so
that allows are common enough for the properties about allows to bite.
"""

from __future__ import annotations

from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from consent_ledger.consent import Consent, revoke
from policies import App, Context, Decision, ObligationKind, Outcome, ReasonCode, Request, Resource
from policies import decide as engine_decide
from policies.workload import STAGES
from tests.policies.support import CATALOGUE, CLIENT, COMPILED, NOW

PROOF_RULES = sorted(r.id for r in COMPILED.policy.document.proofs)

PURPOSES = sorted(CATALOGUE.purpose_map)
CATEGORIES = [c.key for c in CATALOGUE.categories]
DEPARTMENTS = sorted(COMPILED.cells)
PERMITTED = [
    (d, p, [c for c in CATEGORIES if COMPILED.cells[d][p][c].in_scope])
    for d in DEPARTMENTS
    for p in PURPOSES
    if COMPILED.cells[d][p][CATEGORIES[0]].permit_id is not None
]
# Verdicts reached before the consent is read: they cannot depend on it.
STRUCTURAL = {
    ReasonCode.NOT_APPLICABLE,
    ReasonCode.CATEGORY_NOT_PERMITTED,
    ReasonCode.DEPARTMENT_NOT_PERMITTED,
    ReasonCode.FORBIDDEN_TAX_RECORDS_KYC_ONLY,
    ReasonCode.FORBIDDEN_MARKETING_ABOVE_L1,
    ReasonCode.FORBIDDEN_RESEARCH_ROW_LEVEL,
    ReasonCode.FORBIDDEN_BY_POLICY,
}

contexts = st.builds(
    Context,
    now=st.just(NOW),
    access=st.sampled_from(["row", "aggregate"]),
    stage=st.sampled_from(sorted(set(STAGES), key=str)),
    proven=st.sets(st.sampled_from(PROOF_RULES)).map(frozenset),
)


@st.composite
def requests(draw: st.DrawFn) -> Request:
    if draw(st.booleans()):
        dept, purpose, scope = draw(st.sampled_from(PERMITTED))
        pool = scope
    else:
        dept, purpose, pool = (
            draw(st.sampled_from(DEPARTMENTS)),
            draw(st.sampled_from(PURPOSES)),
            CATEGORIES,
        )
    size = draw(st.integers(1, min(3, len(pool))))
    cats = draw(st.permutations(pool))[:size]
    return Request(App(f"{dept}-app", dept), purpose, Resource(CLIENT, tuple(cats)), draw(contexts))


def _consents(lowest: int) -> st.SearchStrategy[Consent]:
    """Consents expiring between `lowest` and 10**6 seconds from NOW, or never."""
    expiries = st.integers(lowest, 10**6).map(lambda s: NOW + timedelta(seconds=s))
    return st.builds(
        lambda level, purposes, expires: Consent(
            CLIENT, level, purposes, NOW - timedelta(days=400), expires
        ),
        st.integers(1, 4),
        st.frozensets(st.sampled_from(PURPOSES), min_size=1),
        st.one_of(st.none(), expiries),
    )


consents = _consents(-(10**6))
active_consents = _consents(1)


def decide(consent: Consent | None, request: Request) -> Decision:
    return engine_decide(COMPILED, consent, request)


@settings(max_examples=300, deadline=None)
@given(requests())
def test_deny_by_default(request: Request) -> None:
    """With no consent (never given or revoked) no request is ever allowed."""
    assert decide(None, request).outcome is not Outcome.ALLOW


@settings(max_examples=300, deadline=None)
@given(active_consents, requests())
def test_revocation_applies_to_the_very_next_decision(consent: Consent, request: Request) -> None:
    """After revoking the whole consent, or just the requested purpose, the next decision on
    the same request is not an allow, whatever it was before."""
    whole = revoke(CATALOGUE, consent, NOW).after
    assert decide(whole, request).outcome is not Outcome.ALLOW
    if request.action in consent.purposes:
        partial = revoke(CATALOGUE, consent, NOW, [request.action]).after
        assert decide(partial, request).outcome is not Outcome.ALLOW


@settings(max_examples=300, deadline=None)
@given(consents, requests(), st.integers(0, 10**6))
def test_expiry_at_or_before_now_denies(consent: Consent, request: Request, ago: int) -> None:
    """A consent that expired at or before `now` never allows. Where nothing structural
    already refuses (a forbid, no permit, a category outside the permit), the reason is
    consent_expired, for every category."""
    expired = Consent(
        CLIENT, consent.level, consent.purposes, consent.granted_at, NOW - timedelta(seconds=ago)
    )
    decision = decide(expired, request)
    assert decision.outcome is not Outcome.ALLOW
    live = Consent(CLIENT, 4, frozenset(PURPOSES), consent.granted_at, None)
    if decide(live, request).reason_code not in STRUCTURAL:
        assert (decision.outcome, decision.reason_code) == (
            Outcome.DENY,
            ReasonCode.CONSENT_EXPIRED,
        )


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.none(), consents), requests())
def test_shape_of_every_decision(consent: Consent | None, request: Request) -> None:
    """An allow grants exactly the categories asked for (never a level) and carries `log`;
    a deny or not-applicable grants nothing and carries no obligation. Every decision names
    the policy version and has one detail per requested category, in order."""
    decision = decide(consent, request)
    assert decision.policy_version == COMPILED.version
    assert [d.category for d in decision.details] == list(request.resource.categories)
    if decision.outcome is Outcome.ALLOW:
        assert decision.categories == request.resource.categories
        assert decision.obligations[0].kind is ObligationKind.LOG
        assert all(d.outcome is Outcome.ALLOW for d in decision.details)
    else:
        assert decision.categories == ()
        assert decision.obligations == ()
        assert decision.reason_code is not ReasonCode.ALLOWED
    if decision.outcome is Outcome.NOT_APPLICABLE:
        assert decision.rule_id is None
    assert decide(consent, request) == decision  # pure: same inputs, same answer


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(st.none(), consents),
    requests(),
    st.integers(0, 3),
    st.frozensets(st.sampled_from(PURPOSES)),
)
def test_more_consent_never_takes_an_allow_away(
    consent: Consent | None, request: Request, raise_by: int, extra: frozenset[str]
) -> None:
    """Monotonicity. For consents C <= C' (C' has at least C's level, a superset of its
    purposes, the same expiry): decide(C) = ALLOW implies decide(C') = ALLOW with the same
    rule and obligations. No forbid has to be carved out of this: the policy model cannot
    express a forbid that reads the consent, so any forbid denying under C' denies under C.
    Conversely, verdicts reached before the consent is read (forbids, not-applicable,
    out-of-scope category) are the same for every consent, including none."""
    if consent is None:
        wider = Consent(CLIENT, 1 + raise_by, extra or frozenset({"kyc"}), NOW, None)
    else:
        wider = Consent(
            CLIENT,
            min(4, consent.level + raise_by),
            consent.purposes | extra,
            consent.granted_at,
            consent.expires_at,
        )
    before, after = decide(consent, request), decide(wider, request)
    if before.outcome is Outcome.ALLOW:
        assert after.outcome is Outcome.ALLOW
        assert (after.rule_id, after.obligations) == (before.rule_id, before.obligations)
    if before.reason_code in STRUCTURAL:
        assert (after.outcome, after.reason_code, after.rule_id) == (
            before.outcome,
            before.reason_code,
            before.rule_id,
        )
