"""A seeded Custos database for the federated tests."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock, seed_population

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def seed_database(folder: Path, clients: int, seed: int = 5) -> tuple[str, Path]:
    """A SQLite database seeded by the demo seed; its URL and key folder."""
    url, keys = f"sqlite:///{folder / 'custos.db'}", folder / "keys"
    clock = SimulatedClock(AS_OF)
    custos = open_custos(ledger_settings(database_url=url, data_dir=keys), clock=clock)
    try:
        seed_population(custos, clock, clients=clients, seed=seed, as_of=AS_OF)
    finally:
        custos.close()
    return url, keys


@pytest.fixture(scope="session")
def seeded_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fl-seeded")
    seed_database(folder, 400)
    return folder


@pytest.fixture
def seeded(seeded_template: Path, tmp_path: Path) -> Iterator[Custos]:
    """A fresh copy of the seeded database, opened."""
    folder = tmp_path / "db"
    shutil.copytree(seeded_template, folder)
    custos = open_custos(
        ledger_settings(database_url=f"sqlite:///{folder / 'custos.db'}", data_dir=folder / "keys")
    )
    try:
        yield custos
    finally:
        custos.close()
