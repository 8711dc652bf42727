"""DataAccess without the HTTP layer: bulk redemption, the seam the DP and federated layers
build on, and the refusals it records."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from consent_ledger.accounts import AccountStore
from consent_ledger.encoding import decode_entry
from consent_ledger.errors import InvalidRequest
from consent_ledger.principals import Principal, Role
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from consent_ledger.writer import BatchWriter
from policies.access import DataAccess, Grant
from policies.errors import ConsentWithdrawn, ObligationForbids
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH
from policies.redemption import Channel
from policies.seed import SimulatedClock
from policies.service import DecisionAsk, DecisionLog

AUM = "user.financial.assets_under_management"
INCOME = "user.financial.household_income"


@dataclass
class Desk:
    custos: Custos
    clock: SimulatedClock
    decisions: DecisionLog
    data: DataAccess
    research: Principal
    clients: list[str]


@pytest.fixture
def desk(database_url: str, data_dir: Path) -> Iterator[Desk]:
    """Five L4 clients consenting to research analytics, and a research app."""
    clock = SimulatedClock(datetime(2026, 6, 1, 9, tzinfo=UTC))
    custos = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock)
    writer = BatchWriter(custos.ledger)
    policy = PolicyHolder(DEFAULT_POLICY_PATH, custos.catalogue, custos.ledger)
    decisions = DecisionLog(custos.registry, policy, writer, clock, timedelta(minutes=5))
    accounts = AccountStore(custos.ledger, frozenset(policy.current.cells))
    issued = accounts.create_app("research", "stats", clock())
    research = Principal(issued.account_id, Role.APP, "stats", "research")
    clients = []
    for n in range(5):
        cid = custos.registry.register_client()
        custos.registry.collect(cid, {AUM: 1_000_000 * (n + 1), INCOME: 100_000 * n}, "compliance")
        custos.registry.grant(cid, 4, ["kyc", "research_analytics"])
        clients.append(cid)
    try:
        yield Desk(
            custos,
            clock,
            decisions,
            DataAccess(decisions, custos.registry, writer, clock),
            research,
            clients,
        )
    finally:
        writer.close()
        custos.close()


def _grants(desk: Desk, access: str = "aggregate") -> list[Grant]:
    made = desk.decisions.decide(
        desk.research,
        [DecisionAsk(cid, "research_analytics", (AUM,), access) for cid in desk.clients],
    )
    assert all(m.decision.allowed for m in made)
    return [Grant(m.decision_id, cid) for m, cid in zip(made, desk.clients, strict=True)]


def test_dp_release_gets_exactly_the_clients_whose_consent_still_holds(desk: Desk) -> None:
    """Of five allows, the ones whose client revoked, narrowed or was erased since are
    skipped and recorded; the others yield their row, with the obligations in force."""
    grants = _grants(desk)
    registry = desk.custos.registry
    registry.revoke(desk.clients[0])
    registry.revoke(desk.clients[1], ["research_analytics"])
    registry.erase(desk.clients[2])
    before = desk.custos.ledger.size()
    got = desk.data.redeem_rows(desk.research, grants, Channel.DP_RELEASE)
    assert [r.client_id for r in got.rows] == desk.clients[3:]
    assert [r.values for r in got.rows] == [{AUM: 4_000_000}, {AUM: 5_000_000}]
    assert all("aggregate_only" in {o.kind.value for o in r.obligations} for r in got.rows)
    assert all(r.instructions.retain_days == 90 for r in got.rows)
    assert got.refused == tuple((c, "consent_withdrawn") for c in desk.clients[:3])
    entries = [decode_entry(e.leaf) for e in desk.custos.ledger.entries(before)]
    assert [e.type for e in entries] == ["redemption_refused"] * 3 + ["data_accessed"] * 2
    assert [e.body["reason"] for e in entries[:3]] == [
        "no_consent",
        "purpose_not_consented",
        "client_erased",
    ]
    assert {e.body["channel"] for e in entries} == {"dp_release"}
    # Values never reach the ledger.
    assert all(b"4000000" not in e.leaf for e in desk.custos.ledger.entries(before))


def test_federated_training_cannot_redeem_a_research_allow(desk: Desk) -> None:
    """aggregate_only admits only the DP layer: the federated loader gets no row of it."""
    got = desk.data.redeem_rows(desk.research, _grants(desk), Channel.FEDERATED_TRAINING)
    assert got.rows == () and {code for _, code in got.refused} == {"obligation_forbids"}


def test_rows_in_bulk_only_for_the_dp_and_federated_channels(desk: Desk) -> None:
    """The data API's channel cannot be used to pull many rows at once."""
    with pytest.raises(InvalidRequest):
        desk.data.redeem_rows(desk.research, _grants(desk), Channel.DATA_API)


def test_single_reads_of_a_research_allow_are_refused_and_recorded(desk: Desk) -> None:
    """The same refusal the HTTP probe gets, from the domain service."""
    (grant, *_) = _grants(desk)
    with pytest.raises(ObligationForbids) as refused:
        desk.data.read(desk.research, grant.decision_id, grant.client_id)
    assert refused.value.obligation == "aggregate_only"
    desk.custos.registry.revoke(grant.client_id)
    with pytest.raises(ObligationForbids):
        # The obligation is checked first: it rules the channel out whatever the consent.
        desk.data.read(desk.research, grant.decision_id, grant.client_id)
    got = desk.data.redeem_rows(desk.research, [grant], Channel.DP_RELEASE)
    assert got.rows == () and got.refused == ((grant.client_id, ConsentWithdrawn.code),)
