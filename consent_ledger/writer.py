"""Group commit: many concurrent writers, one transaction per batch.

Each job is a function run inside the batch's write transaction (after the ledger lock is
taken), returning its result and the entries to append. Jobs therefore see the state left
by every job before them, in ledger order: a revocation committed before a decision job
starts is the state that job decides on. A job that raises fails alone; the batch's commit
acknowledges every other job at once, so one fsync serves many requests.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from consent_ledger.db import Tx
from consent_ledger.ledger import Appended, Ledger, NewEntry

__all__ = ["BatchWriter", "Job"]

T = TypeVar("T")
# A job gets the transaction and the index its first entry will receive.
Job = Callable[[Tx, int], tuple[T, Sequence[NewEntry]]]
_MAX_BATCH = 512
_STOP = object()


@dataclass
class _Pending(Generic[T]):
    job: Job[T]
    future: Future[tuple[T, list[Appended]]]


class BatchWriter:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="custos-ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job[T]) -> Future[tuple[T, list[Appended]]]:
        future: Future[tuple[T, list[Appended]]] = Future()
        self._queue.put(_Pending(job, future))
        return future

    def run(self, job: Job[T]) -> tuple[T, list[Appended]]:
        """Submit and wait: returns once the job's entries are committed."""
        return self.submit(job).result()

    def close(self) -> None:
        self._queue.put(_STOP)
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is _STOP:
                return
            batch = [first]
            while len(batch) < _MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    self._queue.put(_STOP)
                    break
                batch.append(item)
            self._commit(batch)

    def _commit(self, batch: list[_Pending[Any]]) -> None:
        done: list[tuple[_Pending[Any], Any, int, int]] = []
        entries: list[NewEntry] = []
        try:
            with self.ledger.db.write() as tx:
                # The lock first, so every job reads state no other writer can change.
                size = self.ledger.locked_tail(tx).size
                for pending in batch:
                    if not pending.future.set_running_or_notify_cancel():
                        continue
                    # A savepoint per job: a job that fails halfway leaves no half-written rows.
                    tx.execute("SAVEPOINT job")
                    try:
                        result, new = pending.job(tx, size + len(entries))
                    except Exception as exc:  # noqa: BLE001 - the job's own error, handed back to it
                        tx.execute("ROLLBACK TO SAVEPOINT job")
                        tx.execute("RELEASE SAVEPOINT job")
                        pending.future.set_exception(exc)
                        continue
                    tx.execute("RELEASE SAVEPOINT job")
                    done.append((pending, result, len(entries), len(entries) + len(new)))
                    entries.extend(new)
                appended = self.ledger.append(tx, entries) if entries else []
        except BaseException as exc:
            for pending, *_ in done:
                pending.future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        for pending, result, start, end in done:
            pending.future.set_result((result, appended[start:end]))
