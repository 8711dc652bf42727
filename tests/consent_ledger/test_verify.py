"""The offline verifier catches every kind of tampering."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import create_engine, text

from consent_ledger import encoding, verify
from consent_ledger.ledger import NewEntry
from consent_ledger.merkle import EMPTY_ROOT
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
    assert _fails(url, key) == _broken_after(5)


def test_a_first_entry_not_linked_to_genesis_is_named_entry_0(built: tuple[str, str]) -> None:
    """Entry 0 re-encoded with another prev_hash: the failure names entry 0 (it used to say
    'entry -1'), and says what the first entry must link to."""
    url, key = built
    (leaf,) = _sql(url, "SELECT leaf FROM ledger_entries WHERE idx = 0")[0]
    forged = bytes(leaf).replace(encoding.GENESIS_PREV_HASH.hex().encode(), b"1" * 64)
    assert forged != bytes(leaf)
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 0", {"l": forged})
    assert _fails(url, key) == "entry 0: its prev_hash is not the genesis value (64 zeros)"


def _broken_after(index: int) -> str:
    """The verdict on a changed (still canonical) entry that a later entry links to."""
    return (
        f"entry {index}: its hash is not the prev_hash that entry {index + 1} records "
        "(one of the two was altered)"
    )


@pytest.mark.parametrize("index", [0, 1, SIZE // 2, SIZE - 1])
def test_changed_entry_byte_is_detected(built: tuple[str, str], index: int) -> None:
    """Changing one byte of an entry (first, middle, last) names exactly that entry; the
    last one, which no later entry links to, is caught by the signed root."""
    url, key = built
    (leaf,) = _sql(url, "SELECT leaf FROM ledger_entries WHERE idx = :i", {"i": index})[0]
    forged = bytes(leaf).replace(b'"ok"', b'"OK"')
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = :i", {"l": forged, "i": index})
    if index < SIZE - 1:
        assert _fails(url, key) == _broken_after(index)
    else:
        # The checkpoint at SIZE // 2 + 1 still matches; the one at SIZE does not.
        assert _fails(url, key) == (
            f"the signed root at size {SIZE} does not match entries {SIZE // 2 + 1} to "
            f"{SIZE - 1}: one of them was altered"
        )


def test_deleted_entry_is_detected(built: tuple[str, str]) -> None:
    """A missing entry leaves a gap the verifier names by the index that is missing."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx = 7")
    assert _fails(url, key) == (
        "entry 7: found index 8 where 7 belongs: an entry is missing or reordered"
    )
    with pytest.raises(VerificationFailed) as info:
        verify_ledger(url, key)
    assert info.value.problem.index == 7


def test_a_long_run_of_deleted_entries_is_named_where_it_starts(built: tuple[str, str]) -> None:
    """With more entries deleted than remain after the gap, the log's size still comes from
    its highest index (not the row count), so the gap is named, not mistaken for a
    truncation."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx >= 5 AND idx <= 30")
    assert _fails(url, key) == (
        "entry 5: found index 31 where 5 belongs: an entry is missing or reordered"
    )


def test_a_ledger_without_checkpoints_is_all_unsigned_tail(
    custos: Custos, clock: SimulatedClock, database_url: str
) -> None:
    """With no checkpoint stored, every entry is in the unsigned tail; an empty ledger
    verifies as size 0 with the empty-tree root."""
    key = custos.ledger.signer.verifier_key()
    empty = verify_ledger(database_url, key)
    assert (empty.size, empty.root, empty.checkpoints, empty.unsigned_tail) == (
        0,
        EMPTY_ROOT,
        0,
        0,
    )
    for i in range(5):
        clock.now += timedelta(seconds=1)
        custos.ledger.record(NewEntry("test_event", None, {"i": i}))
    report = verify_ledger(database_url, key)
    assert (report.size, report.checkpoints, report.unsigned_tail) == (5, 0, 5)
    assert report.root == custos.ledger.tail().root


def test_entries_after_the_last_checkpoint_are_the_unsigned_tail(
    built: tuple[str, str], custos: Custos, clock: SimulatedClock
) -> None:
    """Entries appended after the last checkpoint are counted as the unsigned tail, and the
    report's root is the root of the whole log."""
    url, key = built
    for i in range(3):
        clock.now += timedelta(seconds=1)
        custos.ledger.record(NewEntry("test_event", None, {"i": i}))
    report = verify_ledger(url, key)
    assert (report.size, report.checkpoints, report.unsigned_tail) == (SIZE + 3, 2, 3)
    assert report.root == custos.ledger.tail().root


@pytest.mark.parametrize("column", ["size", "root"])
def test_a_stored_checkpoint_that_disagrees_with_its_note_is_detected(
    built: tuple[str, str], column: str
) -> None:
    """The size and root columns of a stored checkpoint must be what its signed note says:
    an edited column is reported, even where the note itself still verifies."""
    url, key = built
    if column == "size":
        _sql(url, "UPDATE ledger_checkpoints SET size = :s WHERE size = :o", {"s": 30, "o": SIZE})
        shown = 30
    else:
        _sql(
            url,
            "UPDATE ledger_checkpoints SET root = :r WHERE size = :o",
            {"r": bytes(32), "o": SIZE},
        )
        shown = SIZE
    assert _fails(url, key) == f"stored checkpoint of size {shown} disagrees with its signed note"


def test_swapped_entries_are_detected(built: tuple[str, str]) -> None:
    """Two entries swapped (with their index columns) break the chain."""
    url, key = built
    rows = _sql(url, "SELECT idx, leaf FROM ledger_entries WHERE idx IN (3, 4)")
    a, b = sorted(rows)
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 3", {"l": b[1]})
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 4", {"l": a[1]})
    assert _fails(url, key) == "entry 3: its bytes say index 4"


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
    """Entries swapped or deleted across a chunk edge are named by the first index involved."""
    url, key = built
    rows = _sql(url, "SELECT idx, leaf FROM ledger_entries WHERE idx IN (15, 16)")
    a, b = sorted(rows)
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 15", {"l": b[1]})
    _sql(url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 16", {"l": a[1]})
    assert _fails_with(url, key, workers) == "entry 15: its bytes say index 16"
    _sql(url, "DELETE FROM ledger_entries WHERE idx IN (15, 16)")
    # The first chunk ends early at 15: that is the entry named missing.
    assert _fails_with(url, key, workers) == "entry 15: an entry is missing"


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
    assert _fails(url, key, older) == (
        f"the given checkpoint covers {SIZE} entries but the log has only 30: "
        "the log was truncated below it"
    )
    garbled = older.replace("\n", "\n\n", 1)
    _fails(url, key, garbled, match="^the given checkpoint does not verify: ")


def test_truncated_log_under_its_own_checkpoints_is_detected(built: tuple[str, str]) -> None:
    """Deleting the tail but leaving the checkpoints that signed it is a truncation."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx >= 30")
    assert _fails(url, key) == (
        f"a signed checkpoint covers {SIZE} entries but only 30 are stored: the log was truncated"
    )


def test_every_log_extends_an_auditors_checkpoint_of_the_empty_log(
    custos: Custos, clock: SimulatedClock, database_url: str
) -> None:
    """A checkpoint taken while the log was empty is consistent with whatever came after."""
    empty = custos.ledger.checkpoint()
    key = custos.ledger.signer.verifier_key()
    assert verify_ledger(database_url, key, empty).size == 0
    for i in range(3):
        clock.now += timedelta(seconds=1)
        custos.ledger.record(NewEntry("test_event", None, {"i": i}))
    assert verify_ledger(database_url, key, empty).size == 3


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
    _fails(
        url,
        key,
        older,
        match=r"^the log is not a consistent extension of the given checkpoint of size 21 \(",
    )


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
    _fails(url, key, match=f"^stored checkpoint of size {SIZE}: ")


def test_wrong_key_fails(built: tuple[str, str], tmp_path: Path) -> None:
    """Checkpoints signed by another key do not verify."""
    from consent_ledger.note import NoteSigner

    url, _ = built
    other = NoteSigner.generate("custos.local/ledger").verifier_key()
    # The first stored checkpoint (in size order) is the one reported.
    _fails(url, other, match=f"^stored checkpoint of size {SIZE // 2 + 1}: ")


def test_the_stored_verifier_key_is_read_back(built: tuple[str, str]) -> None:
    """The key a database claims for itself is the key its checkpoints verify with."""
    url, key = built
    assert verify.stored_verifier_key(url) == key
    _sql(url, "DELETE FROM custos_meta WHERE key = 'verifier_key'")
    assert verify.stored_verifier_key(url) is None


def test_not_a_custos_database(tmp_path: Path) -> None:
    """Any other database is refused as not Custos', not reported as a broken ledger."""
    path = tmp_path / "other.db"
    _sql(f"sqlite:///{path}", "CREATE TABLE t (x INTEGER)")
    with pytest.raises(NotVerifiable, match="not a Custos database"):
        verify_ledger(f"sqlite:///{path}", "k+00000000+AQ==")
    with pytest.raises(NotVerifiable, match="no SQLite database file"):
        verify_ledger(f"sqlite:///{tmp_path / 'missing.db'}", "k+00000000+AQ==")
    garbage = tmp_path / "garbage.db"
    garbage.write_bytes(b"not a database at all" * 100)
    with pytest.raises(NotVerifiable, match=r"^cannot read sqlite:///.*: DatabaseError$"):
        verify_ledger(f"sqlite:///{garbage}", "k+00000000+AQ==")
    with pytest.raises(NotVerifiable, match="unsupported database URL scheme 'mysql'"):
        verify_ledger("mysql://host/db", "k+00000000+AQ==")


def test_a_malformed_verifier_key_is_not_verifiable(built: tuple[str, str]) -> None:
    """A verifier key that does not parse is bad input, not a broken ledger."""
    url, _ = built
    with pytest.raises(NotVerifiable, match=r"^verifier key: "):
        verify_ledger(url, "not a key")


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


@pytest.mark.usefixtures("small_chunks")
@pytest.mark.parametrize(("first", "last"), [(30, 31), (16, 31)], ids=["tail", "whole"])
def test_a_gap_at_the_end_of_the_second_last_chunk_is_named(
    built: tuple[str, str], first: int, last: int
) -> None:
    """Entries missing at the end of any chunk but the last (or all of its entries) are
    named where the gap starts, not blamed on the next chunk's first link."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx BETWEEN :a AND :b", {"a": first, "b": last})
    assert _fails_with(url, key, 1) == f"entry {first}: an entry is missing"


def test_a_deleted_second_last_entry_is_a_gap_not_a_truncation(built: tuple[str, str]) -> None:
    """The log runs to its highest stored index: with the second-last entry gone, the gap
    is named, rather than the log being read as one entry shorter."""
    url, key = built
    _sql(url, "DELETE FROM ledger_entries WHERE idx = :i", {"i": SIZE - 2})
    with pytest.raises(VerificationFailed) as info:
        verify_ledger(url, key)
    assert info.value.problem == verify.Problem(
        f"found index {SIZE - 1} where {SIZE - 2} belongs: an entry is missing or reordered",
        SIZE - 2,
    )


def test_the_first_checkpoint_names_the_range_from_entry_zero(
    custos: Custos, clock: SimulatedClock, database_url: str
) -> None:
    """A root mismatch at the first checkpoint names every entry from 0 as suspect."""
    for i in range(5):
        clock.now += timedelta(seconds=1)
        custos.ledger.record(NewEntry("test_event", None, {"i": i, "note": "ok"}))
    custos.ledger.checkpoint()
    key = custos.ledger.signer.verifier_key()
    (leaf,) = _sql(database_url, "SELECT leaf FROM ledger_entries WHERE idx = 4")[0]
    forged = bytes(leaf).replace(b'"ok"', b'"OK"')
    _sql(database_url, "UPDATE ledger_entries SET leaf = :l WHERE idx = 4", {"l": forged})
    assert _fails(database_url, key) == (
        "the signed root at size 5 does not match entries 0 to 4: one of them was altered"
    )


def test_a_database_with_only_the_ledger_tables_is_verifiable(tmp_path: Path) -> None:
    """Exactly the three tables the verifier reads are enough: empty, they verify as an
    empty log."""
    url = f"sqlite:///{tmp_path / 'bare.db'}"
    _sql(url, "CREATE TABLE custos_meta (key TEXT PRIMARY KEY, value TEXT)")
    _sql(url, "CREATE TABLE ledger_entries (idx INTEGER PRIMARY KEY, leaf BLOB)")
    _sql(url, "CREATE TABLE ledger_checkpoints (size INTEGER PRIMARY KEY, root BLOB, note TEXT)")
    from consent_ledger.note import NoteSigner

    key = NoteSigner.generate("custos.local/ledger").verifier_key()
    report = verify_ledger(url, key)
    assert (report.size, report.root, report.checkpoints, report.unsigned_tail) == (
        0,
        EMPTY_ROOT,
        0,
        0,
    )


def test_an_unreachable_database_is_named_without_its_password() -> None:
    """A database that cannot be reached is NotVerifiable, and the message shows the URL
    with its password hidden."""
    url = "postgresql://auditor:s3cret-pw@127.0.0.1:1/custos"
    with pytest.raises(NotVerifiable, match=r"^cannot read postgresql://auditor:\*\*\*@") as info:
        verify_ledger(url, "k+00000000+AQ==")
    assert "s3cret-pw" not in str(info.value)


def test_every_connection_the_verifier_opens_is_closed(
    built: tuple[str, str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Verifying (a good ledger, a broken one, a database that is not Custos') and reading
    the stored key leave no connection open."""
    opened: list[Any] = []
    connect = verify._connect_raw

    def recording(url: str) -> Any:
        conn = connect(url)
        opened.append(conn)
        return conn

    monkeypatch.setattr(verify, "_connect_raw", recording)
    url, key = built
    verify_ledger(url, key, workers=1)
    verify.stored_verifier_key(url)
    _sql(url, "DELETE FROM ledger_entries WHERE idx = 7")
    with pytest.raises(VerificationFailed):
        verify_ledger(url, key, workers=1)
    other = tmp_path / "other.db"
    _sql(f"sqlite:///{other}", "CREATE TABLE t (x INTEGER)")
    with pytest.raises(NotVerifiable):
        verify_ledger(f"sqlite:///{other}", key)
    assert len(opened) >= 5
    for conn in opened:
        # sqlite3 and psycopg each say so in their own words.
        with pytest.raises((sqlite3.ProgrammingError, psycopg.OperationalError), match="closed"):
            conn.execute("SELECT 1")


def test_a_one_entry_checkpoint_is_checked_against_a_rewritten_log(
    custos: Custos, clock: SimulatedClock, database_url: str, data_dir: Path
) -> None:
    """An auditor's checkpoint of a single entry still binds that entry: a log rebuilt with
    a different first entry is not a consistent extension of it."""
    custos.ledger.record(NewEntry("test_event", None, {"i": 0, "note": "original"}))
    older = custos.ledger.checkpoint()
    key = custos.ledger.signer.verifier_key()
    for table in ("ledger_entries", "ledger_nodes", "ledger_checkpoints"):
        _sql(database_url, f"DELETE FROM {table}")  # noqa: S608 - fixed table names
    other = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock)
    try:
        for i in range(3):
            clock.now += timedelta(seconds=1)
            other.ledger.record(NewEntry("test_event", None, {"i": i, "note": "rewritten"}))
    finally:
        other.close()
    assert verify_ledger(database_url, key).size == 3
    _fails(
        database_url,
        key,
        older,
        match=r"^the log is not a consistent extension of the given checkpoint of size 1 \(",
    )


def test_problems_and_reports_are_immutable_values(built: tuple[str, str]) -> None:
    """What the verifier reports cannot be altered afterwards, and compares and hashes by
    value."""
    url, key = built
    report = verify_ledger(url, key)
    with pytest.raises(dataclasses.FrozenInstanceError):
        report.size = 0  # type: ignore[misc]
    assert hash(report) == hash(verify_ledger(url, key))
    problem = verify.Problem("broken", 3)
    with pytest.raises(dataclasses.FrozenInstanceError):
        problem.index = 4  # type: ignore[misc]
    assert hash(problem) == hash(verify.Problem("broken", 3))
    assert (str(problem), str(verify.Problem("broken"))) == ("entry 3: broken", "broken")
