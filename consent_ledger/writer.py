"""Group commit: many concurrent writers, one transaction per batch.

Each job is a function run inside the batch's write transaction (after the ledger lock is
taken), returning its result and the entries to append. Jobs therefore see the state left
by every job before them, in ledger order: a revocation committed before a decision job
starts is the state that job decides on. A job that raises fails alone; the batch's commit
acknowledges every other job at once, so one fsync serves many requests.
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from consent_ledger.db import Tx
from consent_ledger.ledger import Appended, Ledger, NewEntry

__all__ = ["BatchWriter", "Done", "Job"]

T = TypeVar("T")
# A job gets the transaction and the index its first entry will receive.
Job = Callable[[Tx, int], tuple[T, Sequence[NewEntry]]]
Done = tuple[T, Sequence[Appended]]
_MAX_BATCH = 512
_STOP = object()


@dataclass
class _Pending(Generic[T]):
    job: Job[T]
    # A thread waits on a concurrent Future; a coroutine on an asyncio Future of its loop.
    future: Future[Done[T]] | asyncio.Future[Done[T]]
    loop: asyncio.AbstractEventLoop | None = None

    def claim(self) -> bool:
        """False if the waiter gave up (cancelled) before the job ran."""
        if isinstance(self.future, Future):
            return self.future.set_running_or_notify_cancel()
        return not self.future.cancelled()


def _settle(outcomes: list[tuple[asyncio.Future[Any], Any, BaseException | None]]) -> None:
    for future, result, exc in outcomes:
        if future.done():  # cancelled meanwhile: nobody is waiting
            continue
        if exc is None:
            future.set_result(result)
        else:
            future.set_exception(exc)


class BatchWriter:
    def __init__(self, ledger: Ledger) -> None:
        self.ledger = ledger
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="custos-ledger-writer", daemon=True)
        self._thread.start()

    def submit(self, job: Job[T]) -> Future[Done[T]]:
        future: Future[Done[T]] = Future()
        self._queue.put(_Pending(job, future))
        return future

    def run(self, job: Job[T]) -> Done[T]:
        """Submit and wait: returns once the job's entries are committed."""
        return self.submit(job).result()

    async def run_async(self, job: Job[T]) -> Done[T]:
        """As ``run``, for a coroutine: it waits without holding a thread, and one wake-up
        of its event loop settles every job of that loop in the batch."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Done[T]] = loop.create_future()
        self._queue.put(_Pending(job, future, loop))
        return await future

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
            self._deliver(self._commit(batch))

    def _commit(
        self, batch: list[_Pending[Any]]
    ) -> list[tuple[_Pending[Any], Any, BaseException | None]]:
        outcomes: list[tuple[_Pending[Any], Any, BaseException | None]] = []
        done: list[tuple[_Pending[Any], Any, int, int]] = []
        entries: list[NewEntry] = []
        try:
            with self.ledger.db.write() as tx:
                # The lock first, so every job reads state no other writer can change.
                tail = self.ledger.locked_tail(tx)
                size = tail.size
                for pending in batch:
                    if not pending.claim():
                        continue
                    # A savepoint per job: a job that fails halfway leaves no half-written rows.
                    tx.execute("SAVEPOINT job")
                    try:
                        result, new = pending.job(tx, size + len(entries))
                    except Exception as exc:  # noqa: BLE001 - the job's own error, handed back to it
                        tx.execute("ROLLBACK TO SAVEPOINT job")
                        tx.execute("RELEASE SAVEPOINT job")
                        outcomes.append((pending, None, exc))
                        continue
                    tx.execute("RELEASE SAVEPOINT job")
                    done.append((pending, result, len(entries), len(entries) + len(new)))
                    entries.extend(new)
                appended = self.ledger.append(tx, entries, tail) if entries else []
        except BaseException as exc:
            # The batch failed as a whole (the lock, the append, the commit): every job in it
            # that has no outcome of its own learns why, including any it never reached.
            failed = {id(pending) for pending, _, _ in outcomes}
            outcomes.extend((p, None, exc) for p in batch if id(p) not in failed)
            if isinstance(exc, Exception):
                return outcomes
            self._deliver(outcomes)
            raise
        return [
            *outcomes,
            *(
                (pending, (result, appended[start:end]), None)
                for pending, result, start, end in done
            ),
        ]

    @staticmethod
    def _deliver(outcomes: list[tuple[_Pending[Any], Any, BaseException | None]]) -> None:
        by_loop: dict[asyncio.AbstractEventLoop, list[Any]] = {}
        for pending, result, exc in outcomes:
            if pending.loop is not None:
                by_loop.setdefault(pending.loop, []).append((pending.future, result, exc))
            elif pending.future.cancelled():
                continue
            elif exc is None:
                pending.future.set_result(result)
            else:
                pending.future.set_exception(exc)
        for loop, settled in by_loop.items():
            try:
                loop.call_soon_threadsafe(_settle, settled)
            except RuntimeError:  # the loop has closed: its waiters are gone
                continue
