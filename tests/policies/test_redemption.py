"""What an allow may be redeemed for: the obligation-by-channel table of policies/README.md."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from policies.decision import Obligation, ObligationKind
from policies.redemption import (
    ACCESS_AGGREGATE,
    Channel,
    apply,
    blocking_obligation,
    instructions,
    mask_value,
)

LOG = Obligation(ObligationKind.LOG)
MASK = Obligation(ObligationKind.MASK)
AGG = Obligation(ObligationKind.AGGREGATE_ONLY)
FED = Obligation(ObligationKind.FEDERATED_ONLY)
PROOF = Obligation(ObligationKind.REQUIRES_PROOF)
NOW = datetime(2026, 6, 1, tzinfo=UTC)

# The table in policies/README.md, "Where obligations are enforced": None = admitted.
TABLE: dict[Obligation, dict[Channel, str | None]] = {
    LOG: {c: None for c in Channel},
    MASK: {c: None for c in Channel},
    Obligation(ObligationKind.RETAIN_DAYS, 30): {c: None for c in Channel},
    AGG: {c: None if c is Channel.DP_RELEASE else "aggregate_only" for c in Channel},
    FED: {c: None if c is Channel.FEDERATED_TRAINING else "federated_only" for c in Channel},
    PROOF: {c: None if c is Channel.PROOF else "requires_proof" for c in Channel},
}


@pytest.mark.parametrize("obligation", list(TABLE), ids=str)
@pytest.mark.parametrize("channel", list(Channel), ids=str)
def test_each_obligation_admits_exactly_its_channels(
    obligation: Obligation, channel: Channel
) -> None:
    """A row access decision with one obligation: admitted or refused as the table says."""
    assert blocking_obligation([LOG, obligation], "row", channel) == TABLE[obligation][channel]


@pytest.mark.parametrize("channel", list(Channel), ids=str)
def test_an_aggregate_decision_is_only_for_the_dp_layer(channel: Channel) -> None:
    """access=aggregate restricts a decision to dp_release even with no obligation saying so."""
    expected = None if channel is Channel.DP_RELEASE else ACCESS_AGGREGATE
    assert blocking_obligation([LOG], "aggregate", channel) == expected


def test_the_first_blocking_obligation_is_named_in_declaration_order() -> None:
    """With several, the refusal names the one declared first (requires_proof, then
    aggregate_only, then federated_only), whatever order the decision lists them in."""
    assert blocking_obligation([FED, AGG, PROOF], "row", Channel.DATA_API) == "requires_proof"
    assert blocking_obligation([FED, AGG], "row", Channel.DATA_API) == "aggregate_only"
    # aggregate_only admits dp_release, federated_only does not: still refused.
    assert blocking_obligation([AGG, FED], "row", Channel.DP_RELEASE) == "federated_only"


def test_instructions_carry_the_shortest_retention_and_the_mask() -> None:
    """retain_days becomes keep-for and delete-by; mask becomes masked."""
    how = instructions(
        [
            MASK,
            Obligation(ObligationKind.RETAIN_DAYS, 90),
            Obligation(ObligationKind.RETAIN_DAYS, 30),
        ],
        NOW,
    )
    assert how.masked and how.retain_days == 30 and how.delete_by == NOW + timedelta(days=30)
    assert how.to_json() == {"masked": True, "retain_days": 30, "delete_by": how.delete_by}
    plain = instructions([LOG], NOW)
    assert plain.to_json() == {"masked": False}


def test_masking_keeps_only_the_last_four_characters() -> None:
    """An ID number leaves as bullets and its last four digits; short values stay short."""
    assert mask_value("110101199003074512") == "•" * 14 + "4512"
    assert mask_value(2_500_000) == "•••0000"
    assert mask_value("ab") == "ab"
    masked = apply({"user.government_id": "110101199003074512"}, instructions([MASK], NOW))
    assert masked == {"user.government_id": "•" * 14 + "4512"}
    assert apply({"k": 7}, instructions([LOG], NOW)) == {"k": 7}


def test_stored_obligations_parse_back() -> None:
    """Decisions store obligations as text; every kind reads back to the same value."""
    for ob in [*TABLE, Obligation(ObligationKind.RETAIN_DAYS, 36_500)]:
        assert Obligation.parse(str(ob)) == ob
    for bad in ("retain_days:", "retain_days:-1", "retain_days:01", "shred", "mask:3"):
        with pytest.raises(ValueError):
            Obligation.parse(bad)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(list(TABLE)), max_size=6),
    st.sampled_from(["row", "aggregate"]),
)
def test_no_row_channel_ever_redeems_aggregate_or_federated(
    obligations: list[Obligation], access: str
) -> None:
    """Whatever else a decision carries, aggregate_only or federated_only (or aggregate
    access) keep it away from the data API and from use reports."""
    restricted = (
        AGG in obligations or FED in obligations or PROOF in obligations or access == "aggregate"
    )
    for channel in (Channel.DATA_API, Channel.USE_REPORT):
        assert (blocking_obligation(obligations, access, channel) is not None) == restricted
