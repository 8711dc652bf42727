"""Budgets: sequential composition, exact sums, nothing spent on a refusal, the ledger as
the record, a restart keeping the budget, and `ledger verify` re-deriving every budget."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_ledger.budgets import BudgetExceeded, BudgetOverspent, rederive
from consent_ledger.encoding import decode_entry
from consent_ledger.entries import AnalystCreated, DpRelease
from consent_ledger.export import export_lines
from consent_ledger.verify import VerificationFailed, stored_verifier_key, verify_ledger
from consent_ledger.verify_export import verify_export
from policies.seed import SimulatedClock
from privacy.dp import StatQuery
from tests.dp.conftest import NOW, DpWorld, open_world


def _ledger_budgets(world: DpWorld) -> dict[str, object]:
    entries = []
    for stored in world.services.custos.ledger.entries():
        e = decode_entry(stored.leaf)
        entries.append((stored.index, e.type, e.body))
    return dict(rederive(entries))


def test_releases_compose_and_a_refusal_spends_nothing(world: DpWorld) -> None:
    world.add_client(1)
    analyst, _ = world.analyst(1.0)
    for _ in range(3):
        world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.3))
    size = world.services.custos.ledger.size()
    with pytest.raises(BudgetExceeded) as refused:
        world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.2))
    assert refused.value.field == "epsilon"
    assert refused.value.epsilon_remaining == pytest.approx(0.1)
    assert world.services.custos.ledger.size() == size
    budget = world.stats.budget(analyst)
    # 0.3 three times is exactly 0.9 here (floats would say 0.8999999999999999).
    assert budget.epsilon_spent == Fraction(9, 10)
    assert budget.releases == 3
    last = world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.1))
    assert last.epsilon_remaining == 0.0


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    grant=st.sampled_from([0.5, 1.0, 2.5]),
    asks=st.lists(st.sampled_from([0.05, 0.1, 0.3, 0.7, 1.1]), min_size=1, max_size=8),
)
def test_remaining_never_negative_and_equals_grant_minus_ledger_sum(
    world: DpWorld, grant: float, asks: list[float]
) -> None:
    if not world.clients:
        world.add_client(1)
    analyst, _ = world.analyst(grant, name=f"a{len(asks)}")
    spent = Fraction(0)
    for eps in asks:
        try:
            r = world.stats.release(analyst, StatQuery("clients", "count", epsilon=eps))
        except BudgetExceeded as exc:
            assert Fraction(str(eps)) > Fraction(str(grant)) - spent
            assert exc.epsilon_remaining == float(Fraction(str(grant)) - spent)
            continue
        spent += Fraction(str(eps))
        assert r.epsilon_remaining >= 0
        assert r.epsilon_remaining == float(Fraction(str(grant)) - spent)
    derived = _ledger_budgets(world)[analyst.account_id]
    budget = world.stats.budget(analyst)
    assert budget.epsilon_spent == derived.epsilon_spent == spent  # type: ignore[attr-defined]
    assert budget.epsilon_remaining >= 0


def test_a_restart_keeps_the_budget(database_url: str, data_dir: Path) -> None:
    clock = SimulatedClock(NOW)
    services = open_world(database_url, data_dir, clock)
    world = DpWorld(services, clock, [])
    try:
        world.add_client(1)
        analyst, key = world.analyst(1.0)
        world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.4))
    finally:
        services.close()
    services = open_world(database_url, data_dir, clock)
    try:
        again = services.accounts.authenticate(key)
        assert services.stats.budget(again).epsilon_remaining == Fraction(6, 10)
        with pytest.raises(BudgetExceeded):
            services.stats.release(again, StatQuery("clients", "count", epsilon=0.7))
    finally:
        services.close()


def test_verify_rederives_budgets_and_names_an_overspending_entry(world: DpWorld) -> None:
    world.add_client(1)
    analyst, _ = world.analyst(1.0)
    world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.5))
    url = world.services.settings.ledger.database_url
    key = stored_verifier_key(url)
    assert key is not None
    verify_ledger(url, key)
    # A release the budget table never saw: only the ledger can tell it overspent.
    forged = DpRelease(
        analyst.account_id,
        "clients",
        "count",
        (),
        (),
        None,
        "discrete_laplace",
        "0.75",
        "0",
        "1.0",
        3,
        "-0.25",
    )
    exported = list(export_lines(world.services.custos.ledger.entries()))
    assert verify_export(exported, key).size == len(exported)
    (landed,) = world.services.custos.ledger.record(forged.entry())
    with pytest.raises(VerificationFailed) as failed:
        verify_ledger(url, key)
    assert str(failed.value).startswith(f"entry {landed.index}: analyst {analyst.account_id}")
    # An auditor holding only an export finds the same entry.
    with pytest.raises(VerificationFailed) as failed:
        verify_export(export_lines(world.services.custos.ledger.entries()), key)
    assert str(failed.value).startswith(f"entry {landed.index}: analyst {analyst.account_id}")


def test_rederive_refuses_releases_without_grant_or_with_a_wrong_remaining() -> None:
    grant = ("analyst_created", AnalystCreated("a1", "research", "clients", "1.0", "0").to_json())

    def release(eps: str, remaining: str, who: str = "a1") -> tuple[str, dict[str, object]]:
        body = DpRelease(who, "clients", "count", (), (), None, "m", eps, "0", "1", 1, remaining)
        return ("dp_release", body.to_json())

    ok = [grant, release("0.25", "0.75"), release("0.75", "0")]
    state = rederive((i, t, b) for i, (t, b) in enumerate(ok))
    assert state["a1"].epsilon_spent == 1
    for bad, index in (
        ([grant, release("0.5", "0.5", who="a2")], 1),
        ([grant, release("0.5", "0.6")], 1),
        ([grant, release("0.5", "0.5"), release("0.6", "-0.1")], 2),
        ([grant, grant], 1),
    ):
        with pytest.raises(BudgetOverspent) as exc:
            rederive((i, t, b) for i, (t, b) in enumerate(bad))
        assert exc.value.index == index


def test_a_tiny_epsilon_releases_noise_the_ledger_can_hold(world: DpWorld) -> None:
    """At ε = 1e-300 OpenDP's integer noise saturates at 64 bits, beyond the ledger's integer
    range: the entry holds it as decimal text, and the ledger still verifies."""
    world.add_client(1)
    analyst, _ = world.analyst(1.0)
    r = world.stats.release(analyst, StatQuery("clients", "count", epsilon=1e-300))
    assert isinstance(r.value, int)
    url = world.services.settings.ledger.database_url
    key = stored_verifier_key(url)
    assert key is not None
    verify_ledger(url, key)
