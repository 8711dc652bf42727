"""Fixtures for the consent ledger: an opened installation on each database backend."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock


@pytest.fixture
def clock() -> SimulatedClock:
    return SimulatedClock(datetime(2026, 1, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def custos(database_url: str, data_dir: Path, clock: SimulatedClock) -> Iterator[Custos]:
    """A fresh installation (schema, keys, empty ledger) on SQLite and on PostgreSQL."""
    opened = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock)
    yield opened
    opened.close()
