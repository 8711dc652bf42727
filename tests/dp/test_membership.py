"""Who is in a release: clients whose consent covers research analytics at the level of
every column the query reads, at the moment of the release (counted at a very large ε,
where the integer noise is 0 but with probability below 1e-20)."""

from __future__ import annotations

from pathlib import Path

import pytest

from privacy.dp import StatQuery, StatsService
from tests.dp.conftest import DpWorld, with_cap

HUGE = 60.0


@pytest.fixture
def huge(world: DpWorld) -> DpWorld:
    s = world.services
    world.services.stats = StatsService(
        with_cap(s.stats.datasets, 100.0), s.data, s.custos.registry, s.writer, s.clock
    )
    return world


def _count(world: DpWorld, analyst: object, column: str | None = None) -> object:
    q = StatQuery("clients", "count", column=column, epsilon=HUGE)
    return world.stats.release(analyst, q).value  # type: ignore[arg-type]


def test_revocation_and_erasure_committed_before_a_release_are_reflected(huge: DpWorld) -> None:
    for n in range(6):
        huge.add_client(n)
    huge.add_client(6, research=False)
    analyst, _ = huge.analyst(10_000)
    assert _count(huge, analyst) == 6
    registry = huge.services.custos.registry
    registry.revoke(huge.clients[0], ["research_analytics"])
    assert _count(huge, analyst) == 5
    registry.erase(huge.clients[1])
    assert _count(huge, analyst) == 4
    registry.set_purposes(huge.clients[6], ["kyc", "research_analytics"])
    assert _count(huge, analyst) == 5


def test_a_column_counts_only_clients_consenting_at_its_level(huge: DpWorld) -> None:
    for n in range(4):
        huge.add_client(n, level=4)
    huge.add_client(4, level=2)
    analyst, _ = huge.analyst(10_000)
    assert _count(huge, analyst, "household_income") == 4  # L4
    assert _count(huge, analyst, "risk_level") == 5  # L2
    huge.services.custos.registry.change_level(huge.clients[0], 3)
    assert _count(huge, analyst, "household_income") == 3
    assert _count(huge, analyst, "risk_level") == 5


def test_an_expired_consent_leaves_the_data_without_any_entry(huge: DpWorld) -> None:
    from datetime import timedelta

    registry = huge.services.custos.registry
    client = registry.register_client()
    registry.collect(client, {"user.demographic.date_of_birth": "1980-01-01"}, by="compliance")
    registry.grant(client, 2, ["research_analytics"], expires_at=huge.clock() + timedelta(days=1))
    analyst, _ = huge.analyst(10_000)
    assert _count(huge, analyst) == 1
    huge.clock.now += timedelta(days=2)
    assert _count(huge, analyst) == 0


def test_grouped_values_are_exact_at_a_huge_epsilon(huge: DpWorld) -> None:
    for n in range(10):
        huge.add_client(n)
    analyst, _ = huge.analyst(10_000)
    q = StatQuery("clients", "histogram", column="risk_level", epsilon=HUGE)
    assert huge.stats.release(analyst, q).value == {f"C{k}": 2 for k in range(1, 6)}
    q = StatQuery("clients", "sum", column="assets_under_management", epsilon=HUGE)
    # The sum's scale is its bound over ε: noise of about 3e5 on 2.1e6; only its shape here.
    assert isinstance(huge.stats.release(analyst, q).value, int)


def test_membership_is_the_policy_in_force_and_its_obligations(
    database_url: str, tmp_path: Path
) -> None:
    """A policy reloaded between two releases decides the second: an obligation that rules
    the dp_release channel out (federated_only), or no permit at all, empties the data."""
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.settings import ledger_settings
    from policies.loader import DEFAULT_POLICY_PATH
    from policies.seed import SimulatedClock
    from tests.dp.conftest import NOW

    policy = tmp_path / "firm.yaml"
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    policy.write_text(text, encoding="utf-8")
    settings = api_settings(
        ledger=ledger_settings(database_url=database_url, data_dir=tmp_path / "keys"),
        policy_path=policy,
    )
    clock = SimulatedClock(NOW)
    services = build_services(settings, clock)
    try:
        services.stats = StatsService(
            with_cap(services.stats.datasets, 100.0),
            services.data,
            services.custos.registry,
            services.writer,
            clock,
        )
        world = DpWorld(services, clock, [])
        for n in range(3):
            world.add_client(n)
        analyst, _ = world.analyst(10_000)
        assert _count(world, analyst) == 3
        federated = text.replace(
            "add: [aggregate_only, {retain_days: 90}]",
            "add: [aggregate_only, federated_only, {retain_days: 90}]",
        )
        assert federated != text
        policy.write_text(federated, encoding="utf-8")
        services.policy.reload()
        assert _count(world, analyst) == 0
        no_permit = text.replace(
            "purposes: [research_analytics]\n        categories: "
            "[user.financial, user.demographic]",
            "purposes: [research_analytics]\n        categories: [user.financial]",
        )
        assert no_permit != text
        policy.write_text(no_permit, encoding="utf-8")
        services.policy.reload()
        # Date of birth (the lowest-level column, user.demographic) is no longer permitted.
        assert _count(world, analyst) == 0
        assert _count(world, analyst, "household_income") == 3
    finally:
        services.close()


def test_a_release_that_fails_after_spending_leaves_neither_spend_nor_entry(
    world: DpWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The spend and the entry are one transaction: a failure between them (here, the
    measurement) rolls the spend back and writes nothing."""
    import privacy.dp.service as service

    world.add_client(1)
    analyst, _ = world.analyst(1.0)
    size = world.services.custos.ledger.size()

    def broken(*args: object) -> object:
        raise RuntimeError("the measurement crashed")

    monkeypatch.setattr(service, "run", broken)
    with pytest.raises(RuntimeError):
        world.stats.release(analyst, StatQuery("clients", "count", epsilon=0.5))
    assert world.services.custos.ledger.size() == size
    assert world.stats.budget(analyst).epsilon_spent == 0


def test_values_collected_after_the_snapshot_are_read_again(huge: DpWorld) -> None:
    """A value collected after the population was first read is in the next release."""
    registry = huge.services.custos.registry
    client = registry.register_client()
    registry.collect(client, {"user.demographic.date_of_birth": "1980-01-01"}, by="compliance")
    registry.grant(client, 4, ["research_analytics"])
    analyst, _ = huge.analyst(10_000)
    assert _count(huge, analyst, "household_income") == 0
    registry.collect(client, {"user.financial.household_income": 90_000}, by="compliance")
    assert _count(huge, analyst, "household_income") == 1
    q = StatQuery("clients", "sum", column="household_income", epsilon=HUGE)
    # Noise of scale 5e6/60: the sum is within 2e6 of the true 90,000 but with p < 1e-10.
    assert abs(huge.stats.release(analyst, q).value - 90_000) < 2_000_000  # type: ignore[operator]
