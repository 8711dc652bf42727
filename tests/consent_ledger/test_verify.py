"""The offline verifier catches every kind of tampering."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from consent_ledger import encoding, verify
from consent_ledger.ledger import NewEntry
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from consent_ledger.verify import NotVerifiable, VerificationFailed, verify_ledger
from policies.seed import SimulatedClock

SIZE = 40


def _sql(url: str, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(sql), params or {})
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def _build(custos: Custos, clock: SimulatedClock) -> str:
    for i in range(SIZE):
        clock.now += timedelta(seconds=1)
        custos.ledger.record(NewEntry("test_event", f"c_{i % 7}", {"i": i, "note": "ok"}))
        if i == SIZE // 2:
            custos.ledger.checkpoint()
    custos.ledger.checkpoint()
    return custos.ledger.signer.verifier_key()


@pytest.fixture
def built(custos: Custos, clock: SimulatedClock, database_url: str) -> Iterator[tuple[str, str]]:
    yield database_url, _build(custos, clock)


def _fails(url: str, key: str, older: str | None = None, match: str | None = None) -> str:
    with pytest.raises(VerificationFailed, match=match) as info:
        verify_ledger(url, key, older)
    return str(info.value)


def test_intact_ledger_verifies(built: tuple[str, str]) -> None:
    """An untouched ledger verifies: all entries, the root, both stored checkpoints."""
    url, key = built
    report = verify_ledger(url, key)
    assert (report.size, report.checkpoints, report.unsigned_tail) == (SIZE, 2, 0)


def test_the_pure_python_checks_verify_alike(
    built: tuple[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where the C extension was not built, the reference checks do the same job."""
    monkeypatch.setattr(encoding, "canonical_link", encoding._link_reference)
    monkeypatch.setattr(verify, "canonical_link", encoding._link_reference)
    monkeypatch.setattr(verify, "linked_run", encoding._linked_run_reference)
    monkeypatch.setattr(encoding, "_plain", encoding._plain_reference)
    url, key = built
    assert verify_ledger(url, key).size == SIZE
    (leaf,) = _sql(url, "SELECT leaf FROM ledger_entries WHERE idx = 5")[0]
    forged = bytes(leaf).replace(b'"ok"', b'"OK"')
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 5", {"l": forged})
    assert "entry 5" in _fails(url, key)


@pytest.mark.parametrize("index", [0, 1, SIZE // 2, SIZE - 1])
def test_changed_entry_byte_is_detected(built: tuple[str, str], index: int) -> None:
    """Changing one byte of an entry (first, middle, last) names that entry."""
    url, key = built
    (leaf,) = _sql(url, "SELECT leaf FROM ledger_entries WHERE idx = :i", {"i": index})[0]
    forged = bytes(leaf).replace(b'"ok"', b'"OK"')
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = :i", {"l": forged, "i": index})
    assert str(index) in _fails(url, key)


def test_deleted_entry_is_detected(built: tuple[str, str]) -> None:
    """A missing entry leaves a gap the verifier names."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx = 7")
    assert "entry 7" in _fails(url, key, match="missing or reordered")


def test_swapped_entries_are_detected(built: tuple[str, str]) -> None:
    """Two entries swapped (with their index columns) break the chain."""
    url, key = built
    rows = _sql(url, "SELECT idx, leaf FROM ledger_entries WHERE idx IN (3, 4)")
    a, b = sorted(rows)
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 3", {"l": b[1]})
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 4", {"l": a[1]})
    assert "entry 3" in _fails(url, key)


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chunks of 16 entries fetched 5 at a time, in worker processes from any size, so
    that a 40-entry log crosses every edge the verifier stitches across."""
    monkeypatch.setattr(verify, "CHUNK", 16)
    monkeypatch.setattr(verify, "PARALLEL_FROM", 0)
    monkeypatch.setattr(verify, "_FETCH", 5)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("index", [None, 4, 5, 15, 16, 31, 32, SIZE - 1])
def test_tampering_at_chunk_and_fetch_edges_is_detected(
    built: tuple[str, str], workers: int, index: int | None
) -> None:
    """The same verdicts as one pass, whichever side of a chunk or fetch edge is changed."""
    url, key = built
    report = verify_ledger(url, key, workers=workers)
    assert (report.size, report.checkpoints) == (SIZE, 2)
    if index is None:
        return
    (leaf,) = _sql(url, "SELECT leaf FROM ledger_entries WHERE idx = :i", {"i": index})[0]
    forged = bytes(leaf).replace(b'"ok"', b'"OK"')
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = :i", {"l": forged, "i": index})
    # No later entry links to the last one: the signed root is what catches it.
    named = f"entry {index}" if index < SIZE - 1 else f"to {index}: one of them was altered"
    assert named in _fails_with(url, key, workers)


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize("workers", [1, 2])
def test_a_gap_or_swap_at_a_chunk_edge_is_detected(built: tuple[str, str], workers: int) -> None:
    url, key = built
    rows = _sql(url, "SELECT idx, leaf FROM ledger_entries WHERE idx IN (15, 16)")
    a, b = sorted(rows)
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 15", {"l": b[1]})
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 16", {"l": a[1]})
    assert "entry 15" in _fails_with(url, key, workers)
    _sql(url, "DELETE FROM ledger_entries WHERE idx IN (15, 16)")
    assert "missing" in _fails_with(url, key, workers)


def _fails_with(url: str, key: str, workers: int) -> str:
    with pytest.raises(VerificationFailed) as info:
        verify_ledger(url, key, workers=workers)
    return str(info.value)


def test_truncated_log_below_a_checkpoint_is_detected(built: tuple[str, str]) -> None:
    """Deleting the tail (and the checkpoints above it) cannot fool an auditor's checkpoint."""
    url, key = built
    older = _sql(url, "SELECT note FROM ledger_checkpoints ORDER BY size DESC")[0][0]
    _sql(url, "DELETE FROM ledger_entries WHERE idx >= 30")
    _sql(url, "DELETE FROM ledger_checkpoints WHERE size > 30")
    # The database's own records now look consistent; the auditor's checkpoint is not fooled.
    verify_ledger(url, key)
    _fails(url, key, older, match="truncated")


def test_rewritten_history_is_not_consistent_with_an_older_checkpoint(
    built: tuple[str, str], data_dir: Path, clock: SimulatedClock
) -> None:
    """A log rebuilt from scratch with different entries fails the consistency check."""
    url, key = built
    older = _sql(url, "SELECT note FROM ledger_checkpoints ORDER BY size")[0][0]
    for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
        _sql(url, f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    custos = open_custos(ledger_settings(database_url=url, data_dir=data_dir), clock=clock)
    try:
        for i in range(SIZE + 5):
            custos.ledger.record(NewEntry("test_event", None, {"i": i, "note": "rewritten"}))
        custos.ledger.checkpoint()
    finally:
        custos.close()
    verify_ledger(url, key)
    _fails(url, key, older, match="not a consistent extension")


def test_forged_checkpoint_signature_is_detected(built: tuple[str, str]) -> None:
    """A stored checkpoint whose signature does not verify fails the run."""
    url, key = built
    (note,) = _sql(url, "SELECT note FROM ledger_checkpoints ORDER BY size DESC")[0]
    lines = note.split("\n")
    lines[1] = str(int(lines[1]) - 1)
    _sql(
        url,
        "UPDATE ledger_checkpoints SET note = :n WHERE size = :s",
        {"n": "\n".join(lines), "s": SIZE},
    )
    _fails(url, key, match="checkpoint")


def test_wrong_key_fails(built: tuple[str, str], tmp_path: Path) -> None:
    """Checkpoints signed by another key do not verify."""
    from consent_ledger.note import NoteSigner

    url, _ = built
    other = NoteSigner.generate("custos.local/ledger").verifier_key()
    _fails(url, other, match="checkpoint")


def test_not_a_custos_database(tmp_path: Path) -> None:
    """Any other database is refused as not Custos', not reported as a broken ledger."""
    path = tmp_path / "other.db"
    _sql(f"sqlite:///{path}", "CREATE TABLE t (x INTEGER)")
    with pytest.raises(NotVerifiable, match="not a Custos database"):
        verify_ledger(f"sqlite:///{path}", "k+00000000+AQ==")
    with pytest.raises(NotVerifiable, match="no SQLite database file"):
        verify_ledger(f"sqlite:///{tmp_path / 'missing.db'}", "k+00000000+AQ==")


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_any_flipped_byte_anywhere_is_detected(
    data: st.DataObject, custos: Custos, clock: SimulatedClock, database_url: str
) -> None:
    """Property: flipping any bit of any stored entry is always caught."""
    if not _sql(database_url, "SELECT 1 FROM ledger_entries LIMIT 1"):
        _build(custos, clock)
    key = custos.ledger.signer.verifier_key()
    index = data.draw(st.integers(0, SIZE - 1))
    (leaf,) = _sql(database_url, "SELECT leaf FROM ledger_entries WHERE idx = :i", {"i": index})[0]
    leaf = bytes(leaf)
    pos = data.draw(st.integers(0, len(leaf) - 1))
    bit = data.draw(st.integers(0, 7))
    forged = leaf[:pos] + bytes([leaf[pos] ^ (1 << bit)]) + leaf[pos + 1 :]
    _sql(
        database_url,
        "UPDATE ledger_entries SET leaf = :l WHERE idx = :i",
        {"l": forged, "i": index},
    )
    try:
        _fails(database_url, key)
    finally:
        _sql(
            database_url,
            "UPDATE ledger_entries SET leaf = :l WHERE idx = :i",
            {"l": leaf, "i": index},
        )
