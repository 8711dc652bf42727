"""The ledger over a real database: appends, checkpoints, proofs, concurrency."""

from __future__ import annotations

import multiprocessing
import threading
from pathlib import Path

import pytest

from consent_ledger.db import Tx
from consent_ledger.encoding import GENESIS_PREV_HASH, decode_entry
from consent_ledger.errors import InvalidRequest
from consent_ledger.ledger import Appended, Ledger, NewEntry, Tail
from consent_ledger.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from consent_ledger.note import Checkpoint, NoteVerifier, open_checkpoint
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock


def _fill(custos: Custos, n: int, batch: int = 1) -> None:
    for start in range(0, n, batch):
        custos.ledger.record(
            *(
                NewEntry("test_event", f"c_{i}", {"i": i})
                for i in range(start, min(n, start + batch))
            )
        )


def _checkpoint(custos: Custos) -> Checkpoint:
    vkey = NoteVerifier.parse(custos.ledger.signer.verifier_key())
    return open_checkpoint(custos.ledger.checkpoint(), [vkey])


@pytest.mark.parametrize(("size", "batch"), [(37, 5), (700, 300)])
def test_entries_chain_and_match_the_merkle_root(custos: Custos, size: int, batch: int) -> None:
    """Each entry's prev_hash is its predecessor's leaf hash; the head root is RFC 6962's.
    (Batches of 300 stream through COPY on PostgreSQL, in blocks and a remainder.)"""
    _fill(custos, size, batch=batch)
    stored = list(custos.ledger.entries())
    assert [s.index for s in stored] == list(range(size))
    prev = GENESIS_PREV_HASH
    for s in stored:
        entry = decode_entry(s.leaf)
        assert entry.prev_hash == prev
        assert s.leaf_hash == leaf_hash(s.leaf)
        prev = s.leaf_hash
    assert custos.ledger.tail().root == root_from_leaf_hashes([s.leaf_hash for s in stored])


def test_a_batch_says_where_each_entry_landed(custos: Custos) -> None:
    """The lazy result of a batch reads like the list of per-entry results it replaces."""
    _fill(custos, 2)
    landed = custos.ledger.record(*(NewEntry("test_event", None, {"i": i}) for i in range(5)))
    stored = list(custos.ledger.entries(2))
    expected = [Appended(s.index, s.leaf_hash, landed[0].timestamp) for s in stored]
    assert list(landed) == expected
    assert len(landed) == 5
    assert (landed[-1], landed[1:3][1]) == (expected[-1], expected[2])
    assert list(landed[1:3]) == expected[1:3]
    assert list(landed[5:]) == []
    with pytest.raises(IndexError):
        landed[5]
    with pytest.raises(ValueError, match="step"):
        landed[::2]


def test_checkpoint_is_signed_and_reused_until_the_log_grows(custos: Custos) -> None:
    """A checkpoint signs (origin, size, root); asking again without appends returns it."""
    _fill(custos, 10)
    first = custos.ledger.checkpoint()
    assert custos.ledger.checkpoint() == first
    cp = _checkpoint(custos)
    assert (cp.origin, cp.size, cp.root_hash) == (
        custos.ledger.origin,
        10,
        custos.ledger.tail().root,
    )
    _fill(custos, 1)
    assert _checkpoint(custos).size == 11


@pytest.mark.parametrize("size", [1, 2, 3, 16, 17, 255, 300])
def test_every_inclusion_proof_verifies(custos: Custos, size: int) -> None:
    """Proofs read from stored nodes (levels 0, 4, 8, …) verify for every index."""
    _fill(custos, size, batch=64)
    cp = _checkpoint(custos)
    hashes = [s.leaf_hash for s in custos.ledger.entries()]
    for i in range(size):
        proof = custos.ledger.inclusion_proof(i)
        assert proof.tree_size == size
        verify_inclusion(hashes[i], i, size, proof.hashes, cp.root_hash)


def test_consistency_proofs_between_checkpoints_verify(custos: Custos) -> None:
    """A log that grew from m to n entries proves it to the holder of the old root."""
    roots = {}
    for _ in range(6):
        _fill(custos, 23, batch=7)
        cp = _checkpoint(custos)
        roots[cp.size] = cp.root_hash
    newest = max(roots)
    for old, root in roots.items():
        proof = custos.ledger.consistency_proof(old)
        verify_consistency(old, newest, root, roots[newest], proof.hashes)


def test_proof_requests_out_of_range_are_refused(custos: Custos) -> None:
    """An index or size outside the log is a clear InvalidRequest."""
    with pytest.raises(InvalidRequest, match="no signed checkpoint"):
        custos.ledger.inclusion_proof(0)
    _fill(custos, 4)
    custos.ledger.checkpoint()
    for call in (
        lambda: custos.ledger.inclusion_proof(4),
        lambda: custos.ledger.inclusion_proof(-1),
        lambda: custos.ledger.inclusion_proof(0, tree_size=5),
        lambda: custos.ledger.consistency_proof(0),
        lambda: custos.ledger.consistency_proof(5),
    ):
        with pytest.raises(InvalidRequest):
            call()


@pytest.mark.parametrize("good_before", [1, 300])
def test_failed_append_writes_nothing(custos: Custos, good_before: int) -> None:
    """An entry that cannot be encoded aborts the whole batch; the head stays put. With 300
    good entries first, PostgreSQL is already streaming the batch through COPY when the bad
    one comes."""
    _fill(custos, 3)
    before = custos.ledger.tail()
    good = [NewEntry("ok", None, {"i": i}) for i in range(good_before)]
    with pytest.raises(ValueError, match="float"):
        custos.ledger.record(*good, NewEntry("bad", None, {"x": 0.5}))
    assert custos.ledger.tail() == before
    assert len(list(custos.ledger.entries())) == 3
    custos.ledger.record(*good)  # the ledger goes on from where it was
    assert custos.ledger.tail().size == 3 + good_before


def test_concurrent_threads_never_fork_or_skip(custos: Custos) -> None:
    """Eight threads appending at once leave one gap-free chain with every entry in it."""

    def work(t: int) -> None:
        for i in range(25):
            custos.ledger.record(NewEntry("thread_event", None, {"t": t, "i": i}))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(8)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    stored = list(custos.ledger.entries())
    assert [s.index for s in stored] == list(range(200))
    seen = {(decode_entry(s.leaf).body["t"], decode_entry(s.leaf).body["i"]) for s in stored}
    assert len(seen) == 200
    prev = GENESIS_PREV_HASH
    for s in stored:
        assert decode_entry(s.leaf).prev_hash == prev
        prev = s.leaf_hash


def _process_worker(url: str, data_dir: str, worker: int, count: int) -> None:
    custos = open_custos(ledger_settings(database_url=url, data_dir=Path(data_dir)))
    try:
        for i in range(count):
            custos.ledger.record(NewEntry("process_event", None, {"w": worker, "i": i}))
    finally:
        custos.close()


def test_concurrent_processes_never_fork_or_skip(
    custos: Custos, database_url: str, data_dir: Path
) -> None:
    """Four OS processes appending at once still produce one verifiable chain."""
    ctx = multiprocessing.get_context("spawn")
    procs = [
        ctx.Process(target=_process_worker, args=(database_url, str(data_dir), w, 30))
        for w in range(4)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    stored = list(custos.ledger.entries())
    assert [s.index for s in stored] == list(range(120))
    assert custos.ledger.tail().root == root_from_leaf_hashes([s.leaf_hash for s in stored])


def test_a_writer_catches_up_with_entries_another_appended(
    custos: Custos,
    database_url: str,
    data_dir: Path,
    clock: SimulatedClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two installations on one database take turns appending (as two server processes do):
    each catches its cached frontier up with the other's entries, and every tail equals one
    rebuilt from the stored nodes."""
    caught_up: list[int] = []
    catch_up = Ledger._catch_up

    def counted(tx: Tx, cached: Tail, size: int, last: bytes) -> tuple[bytes, ...] | None:
        frontier = catch_up(tx, cached, size, last)
        if frontier is not None:
            caught_up.append(size - cached.size)
        return frontier

    monkeypatch.setattr(Ledger, "_catch_up", staticmethod(counted))
    other = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock)
    try:
        for turn, batch in enumerate([1, 3, 1, 17, 2, 600, 5, 1, 31]):
            writer = (custos, other)[turn % 2]
            writer.ledger.record(
                *(NewEntry("turn", None, {"t": turn, "i": i}) for i in range(batch))
            )
            tail = writer.ledger.tail()
            fresh = open_custos(
                ledger_settings(database_url=database_url, data_dir=data_dir), clock=clock
            )
            try:
                assert fresh.ledger.tail() == tail
                assert tail.root == root_from_leaf_hashes(
                    [e.leaf_hash for e in custos.ledger.entries()]
                )
            finally:
                fresh.close()
    finally:
        other.close()
    # Each turn catches up with the other's last batch, except the other's first turn (its
    # cache was empty) and after the batch of 600 (above the limit): those rebuild.
    assert caught_up == [3, 1, 17, 2, 5, 1]
