"""Group commit: every waiter, thread or coroutine, learns its own outcome; one failing job
changes nothing and fails alone; deferred WAL checkpoints keep the WAL bounded."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from consent_ledger.db import Tx
from consent_ledger.ledger import NewEntry
from consent_ledger.runtime import Custos
from consent_ledger.writer import BatchWriter, Done, Job
from tests.support.asyncio_thread import run_in_own_thread


def _entry(tag: str) -> tuple[str, Sequence[NewEntry]]:
    return tag, [NewEntry("writer_test", None, {"tag": tag})]


def _ok(tag: str) -> Job[str]:
    def job(tx: Tx, first: int) -> tuple[str, Sequence[NewEntry]]:
        tx.execute("INSERT INTO custos_meta (key, value) VALUES (?, ?)", (f"k-{tag}", str(first)))
        return _entry(tag)

    return job


def _failing(tx: Tx, first: int) -> tuple[str, Sequence[NewEntry]]:
    tx.execute("INSERT INTO custos_meta (key, value) VALUES ('k-bad', 'half written')")
    raise ValueError("this job refuses")


def test_coroutines_and_threads_each_get_their_own_outcome(custos: Custos) -> None:
    writer = BatchWriter(custos.ledger)
    try:

        async def many() -> list[Done[str] | BaseException]:
            jobs = [writer.run_async(_ok(f"a{i}")) for i in range(20)]
            jobs.insert(7, writer.run_async(_failing))
            return await asyncio.gather(*jobs, return_exceptions=True)

        outcomes = run_in_own_thread(many())
        threaded = writer.run(_ok("t"))
    finally:
        writer.close()
    failed = [o for o in outcomes if isinstance(o, BaseException)]
    assert [str(e) for e in failed] == ["this job refuses"]
    done = [o for o in outcomes if not isinstance(o, BaseException)]
    assert sorted(result for result, _ in done) == sorted(f"a{i}" for i in range(20))
    indices = sorted(appended[0].index for _, appended in done)
    assert indices == list(range(indices[0], indices[0] + 20))
    assert threaded[1][0].index == indices[-1] + 1
    with custos.db.read() as tx:
        keys = {r[0] for r in tx.all("SELECT key FROM custos_meta WHERE key LIKE ?", ("k-%",))}
    assert "k-bad" not in keys  # the failed job's own write was rolled back
    assert len(keys) == 21


def test_a_cancelled_waiter_runs_no_job(custos: Custos) -> None:
    writer = BatchWriter(custos.ledger)
    size = custos.ledger.size()

    async def cancel_one() -> None:
        # The writer is busy with the first job while the second waits in the queue.
        first = asyncio.ensure_future(writer.run_async(_ok("first")))
        second = asyncio.ensure_future(writer.run_async(_ok("second")))
        second.cancel()
        await first
        with pytest.raises(asyncio.CancelledError):
            await second

    try:
        run_in_own_thread(cancel_one())
        writer.run(_ok("after"))
    finally:
        writer.close()
    entries = [e.leaf for e in custos.ledger.entries(size)]
    assert [b'"tag":"second"' in leaf for leaf in entries].count(True) <= 1
    assert any(b'"tag":"after"' in leaf for leaf in entries)


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_deferred_wal_checkpoints_keep_the_wal_bounded(custos: Custos, database_url: str) -> None:
    from consent_ledger import db as db_module

    custos.db.defer_wal_checkpoints()
    wal = Path(database_url.removeprefix("sqlite:///") + "-wal")
    body = {"pad": "x" * 3000}  # about one page per entry
    for _ in range(300):
        custos.ledger.record(NewEntry("writer_test", None, body))
    with custos.db.read() as tx:
        frames = tx.one("PRAGMA wal_checkpoint(PASSIVE)")[1]
    assert frames >= 300  # no commit copied the WAL back on its own
    restart, db_module._WAL_RESTART_FRAMES = db_module._WAL_RESTART_FRAMES, 100
    try:
        custos.db.checkpoint_wal()
    finally:
        db_module._WAL_RESTART_FRAMES = restart
    custos.ledger.record(NewEntry("writer_test", None, body))
    with custos.db.read() as tx:
        busy, frames, copied = tx.one("PRAGMA wal_checkpoint(PASSIVE)")
    # Fully copied, so the next commit started the WAL over from its beginning.
    assert (busy, frames, copied) == (0, frames, frames)
    assert frames < 20
    assert wal.stat().st_size > 0


def test_when_a_whole_batch_fails_every_waiter_learns_why(
    custos: Custos, monkeypatch: pytest.MonkeyPatch
) -> None:
    writer = BatchWriter(custos.ledger)
    size = custos.ledger.size()

    def broken(tx: Tx) -> Any:
        raise RuntimeError("the disk is full")

    monkeypatch.setattr(custos.ledger, "locked_tail", broken)

    async def many() -> list[Done[str] | BaseException]:
        jobs = [writer.run_async(_ok(f"b{i}")) for i in range(10)]
        return await asyncio.gather(*jobs, return_exceptions=True)

    try:
        outcomes = run_in_own_thread(
            many()
        )  # would hang if a job the batch never reached were lost
        with pytest.raises(RuntimeError, match="disk is full"):
            writer.run(_ok("threaded"))
    finally:
        writer.close()
    assert [str(o) for o in outcomes] == ["the disk is full"] * 10
    assert custos.ledger.size() == size


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
def test_one_process_holds_a_duty_until_it_closes(custos: Custos, database_url: str) -> None:
    from consent_ledger.db import open_database

    other = open_database(database_url)
    try:
        assert custos.db.claim_duty("checkpointer")
        assert custos.db.claim_duty("checkpointer")  # held: asking again is a yes
        assert not other.claim_duty("checkpointer")
        assert other.claim_duty("something-else")
        custos.db.close()
        assert other.claim_duty("checkpointer")  # the holder went away: taken over
    finally:
        other.close()
