"""The demo population."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from consent_ledger.encoding import decode_entry
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock, seed_population

AS_OF = datetime(2026, 11, 1, tzinfo=UTC)


def _seed(tmp_path: Path, name: str) -> tuple[bytes, list[str]]:
    clock = SimulatedClock(AS_OF)
    custos = open_custos(
        ledger_settings(database_url=f"sqlite:///{tmp_path / name}", data_dir=tmp_path / "k"),
        clock=clock,
    )
    try:
        seed_population(custos, clock, clients=40, seed=3, as_of=AS_OF)
        types = [decode_entry(e.leaf).type for e in custos.ledger.entries()]
        return custos.ledger.tail().root, types
    finally:
        custos.close()


def test_same_seed_same_ledger(tmp_path: Path) -> None:
    """Seeding twice with one seed gives the same Merkle root; the mix of events is realistic."""
    root_a, types = _seed(tmp_path, "a.db")
    root_b, _ = _seed(tmp_path, "b.db")
    assert root_a == root_b
    for expected in (
        "client_registered",
        "data_collected",
        "consent_granted",
        "access_allowed",
        "access_denied",
        "data_erased",
    ):
        assert expected in types
    assert types.count("client_registered") == 40
