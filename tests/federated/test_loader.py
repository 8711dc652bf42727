"""A department's training data, read through the policy engine from a seeded database."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from consent_ledger.encoding import decode_entry
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from federated.errors import InvalidTrainingSettings
from federated.features import FEATURE_NAMES
from federated.loader import load_department
from federated.settings import DEPARTMENTS
from policies.books import clients_in_book
from policies.errors import UnknownDepartment
from policies.seed import SimulatedClock, seed_population
from tests.federated.conftest import AS_OF

AGE_MISSING = FEATURE_NAMES.index("age_missing")
FAMILY_MISSING = FEATURE_NAMES.index("family_missing")
HOUSEHOLD_MISSING = FEATURE_NAMES.index("household_missing")


def _trainers(custos: Custos, department: str) -> set[str]:
    """The clients whose consent names model training at level 2 or more."""
    out = set()
    for cid in clients_in_book(custos.db, department):
        consent = custos.registry.current(cid)
        if consent is not None and "model_training" in consent.purposes and consent.level >= 2:
            out.add(cid)
    return out


def _not_expired(custos: Custos, clients: set[str]) -> set[str]:
    from consent_ledger.ledger import utc_now

    now = utc_now()
    out = set()
    for cid in clients:
        consent = custos.registry.current(cid)
        assert consent is not None
        if consent.expires_at is None or consent.expires_at > now:
            out.add(cid)
    return out


def test_every_client_sits_in_exactly_one_book(seeded: Custos) -> None:
    books = [set(clients_in_book(seeded.db, d)) for d in DEPARTMENTS]
    living = {cid for cid, _ in seeded.registry.living_clients()}
    assert set().union(*books) == living
    assert sum(len(b) for b in books) == len(living)


def test_only_consenting_clients_train(seeded: Custos) -> None:
    for dept in DEPARTMENTS:
        part = load_department(seeded, dept)
        expected = _not_expired(seeded, _trainers(seeded, dept))
        assert part.clients == len(expected) > 0
        assert part.in_book == len(clients_in_book(seeded.db, dept))
        assert part.clients + sum(part.skipped.values()) == part.in_book


def test_missing_levels_and_permits_become_missing_features(seeded: Custos) -> None:
    """Risk may not train on user.demographic: no age and no family for any of its clients.
    Elsewhere a group is present exactly where the client's level reaches it."""
    risk = load_department(seeded, "risk")
    for x in (risk.x_train, risk.x_test):
        assert (x[:, AGE_MISSING] == 1).all()
        assert (x[:, FAMILY_MISSING] == 1).all()
    advisory = load_department(seeded, "advisory")
    x = advisory.x_train
    assert (x[:, AGE_MISSING] == 0).all()
    assert 0 < (x[:, FAMILY_MISSING] == 0).sum() < len(x)
    assert (x[:, HOUSEHOLD_MISSING] == 0).sum() < (x[:, FAMILY_MISSING] == 0).sum()
    assert advisory.groups["family"] == int((advisory.x_train[:, FAMILY_MISSING] == 0).sum()) + int(
        (advisory.x_test[:, FAMILY_MISSING] == 0).sum()
    )


def test_a_revocation_before_the_run_excludes_the_client(seeded: Custos) -> None:
    before = load_department(seeded, "research")
    trainers = sorted(_not_expired(seeded, _trainers(seeded, "research")))
    seeded.registry.revoke(trainers[0], ["model_training"])
    seeded.registry.revoke(trainers[1])
    after = load_department(seeded, "research")
    assert after.clients == before.clients - 2
    assert after.skipped["model_training_not_consented"] == (
        before.skipped.get("model_training_not_consented", 0) + 1
    )


def test_every_read_is_a_federated_training_redemption_on_the_ledger(seeded: Custos) -> None:
    start = seeded.ledger.size()
    part = load_department(seeded, "advisory")
    entries = [decode_entry(e.leaf) for e in seeded.ledger.entries(start)]
    accessed = [e for e in entries if e.type == "data_accessed"]
    profile = [e for e in accessed if "user.financial.risk_level" in e.body["categories"]]
    assert len(profile) == part.clients
    assert {e.body["channel"] for e in accessed} == {"federated_training"}
    assert {e.body["purpose"] for e in accessed} == {"model_training"}
    decided = [e for e in entries if e.type.startswith("access_")]
    assert {e.body["input"]["principal"]["department"] for e in decided} == {"advisory"}
    # Nothing personal: the entries name categories, never values.
    text = orjson.dumps([e.body for e in entries]).decode()
    assert "@example.com" not in text
    assert 'risk_questionnaire":[' not in text


def test_departments_without_a_book_or_a_permit_are_refused(seeded: Custos) -> None:
    with pytest.raises(UnknownDepartment):
        load_department(seeded, "treasury")
    with pytest.raises(InvalidTrainingSettings, match="no model-training permit"):
        load_department(seeded, "compliance")


def test_books_and_partitions_on_each_database(database_url: str, data_dir: Path) -> None:
    """The book column (migration 0007) and the loader work the same on SQLite and
    PostgreSQL."""
    clock = SimulatedClock(AS_OF)
    custos = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock)
    try:
        seed_population(custos, clock, clients=80, seed=2, as_of=AS_OF)
        books = {d: clients_in_book(custos.db, d) for d in DEPARTMENTS}
        assert sum(map(len, books.values())) == len(custos.registry.living_clients())
        total = sum(load_department(custos, d, clock=clock).clients for d in DEPARTMENTS)
        assert total > 0
    finally:
        custos.close()
