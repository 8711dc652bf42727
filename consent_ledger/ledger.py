"""The append-only ledger: appends, checkpoints and proofs over the database.

Every append runs inside a write transaction that first takes the ledger's lock (SQLite's
``BEGIN IMMEDIATE`` write lock, a PostgreSQL transaction-scoped advisory lock), so appends
from any number of threads or processes are serialized: each reads the last entry the
previous one committed and can neither fork nor skip (the primary key on the index would
refuse a fork even without the lock). The pure parts (encoding, hashing, the Merkle
frontier) live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple, overload

from consent_ledger.db import Database, Tx
from consent_ledger.encoding import (
    GENESIS_PREV_HASH,
    EncodingError,
    decode_entry,
    encode_entry,
    format_timestamp,
    linked_run,
)
from consent_ledger.errors import InvalidRequest, LedgerCorrupt
from consent_ledger.merkle import (
    consistency_proof,
    frontier_extend,
    frontier_root,
    inclusion_proof,
    leaf_hash,
    leaf_hasher,
    perfect_subtrees,
)
from consent_ledger.nodes import STORED_LEVELS, SqlNodeReader, node_key
from consent_ledger.note import Checkpoint, NoteSigner

__all__ = [
    "Appended",
    "ConsistencyProof",
    "InclusionProof",
    "Landed",
    "Ledger",
    "NewEntry",
    "StoredEntry",
    "Tail",
    "utc_now",
]

# Any constant works; it only has to be the same for every Custos process on one database.
_PG_LEDGER_LOCK = 0x637573746F73  # "custos"


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewEntry:
    type: str
    subject: str | None
    body: Mapping[str, Any]


class Appended(NamedTuple):
    """Where an entry landed. A NamedTuple: one is built per appended entry, on the hot path."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, which is never needed
    leaf_hash: bytes
    timestamp: str


class Landed(Sequence[Appended]):
    """Where a batch of entries landed, one ``Appended`` per entry, built only when read.

    A bulk append's caller rarely looks at more than a few of its entries, and building
    a tuple per entry up front cost as much as hashing it.
    """

    __slots__ = ("_first", "_leaves", "_timestamp")

    def __init__(self, first: int, leaves: Sequence[bytes], timestamp: str) -> None:
        self._first = first
        self._leaves = leaves
        self._timestamp = timestamp

    def __len__(self) -> int:
        return len(self._leaves)

    @overload
    def __getitem__(self, i: int) -> Appended: ...
    @overload
    def __getitem__(self, i: slice) -> Landed: ...
    def __getitem__(self, i: int | slice) -> Appended | Landed:
        if isinstance(i, slice):
            start, _stop, step = i.indices(len(self._leaves))
            if step != 1:
                raise ValueError("a run of entries is sliced without a step")
            return Landed(self._first + start, self._leaves[i], self._timestamp)
        n = len(self._leaves)
        position = i + n if i < 0 else i
        if not 0 <= position < n:
            raise IndexError("entry outside this run")
        return Appended(self._first + position, self._leaves[position], self._timestamp)

    def __repr__(self) -> str:
        return f"Landed(first={self._first}, count={len(self)})"


@dataclass(frozen=True)
class Tail:
    """What an append needs to know about the log: its size, last hash and frontier."""

    size: int
    last_hash: bytes
    last_timestamp: str
    frontier: tuple[bytes, ...]

    @property
    def root(self) -> bytes:
        return frontier_root(self.frontier)


@dataclass(frozen=True)
class StoredEntry:
    index: int
    leaf: bytes

    @property
    def leaf_hash(self) -> bytes:
        return leaf_hash(self.leaf)


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "leaf_index": self.leaf_index,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    tree_size: int
    hashes: tuple[bytes, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "old_size": self.old_size,
            "tree_size": self.tree_size,
            "hashes": [h.hex() for h in self.hashes],
        }


_EMPTY_TAIL = Tail(0, GENESIS_PREV_HASH, "", ())
_ENTRY_COLUMNS = ("idx", "leaf")
_NODE_COLUMNS = ("nid", "hash")
# Beyond this many entries appended elsewhere, rebuilding the frontier from stored nodes is
# cheaper than hashing the new entries.
_CATCH_UP_MAX = 512


class Ledger:
    def __init__(
        self,
        db: Database,
        signer: NoteSigner,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.db = db
        self.signer = signer
        self.clock = clock
        # The last hash commits to the whole history through the chain, so a cached frontier
        # is valid exactly when the log still ends in the hash it was cached under. Another
        # process's appends (or a rolled-back transaction of ours) just miss the cache.
        self._cached = _EMPTY_TAIL

    @property
    def origin(self) -> str:
        return self.signer.name

    # -- the tail -----------------------------------------------------------------------

    def lock(self, tx: Tx) -> None:
        """Take the ledger's write lock for the rest of the transaction (idempotent)."""
        if tx.dialect == "postgresql":
            # SQLite's BEGIN IMMEDIATE already holds the database's only write lock.
            tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_LEDGER_LOCK,))

    def locked_tail(self, tx: Tx) -> Tail:
        """Take the lock and read the tail: nothing else can append until ``tx`` ends."""
        return self._tail(tx, lock=True)

    def _tail(self, tx: Tx, *, lock: bool) -> Tail:
        if lock:
            self.lock(tx)
        row = tx.one("SELECT idx, leaf FROM ledger_entries ORDER BY idx DESC LIMIT 1")
        if row is None:
            return _EMPTY_TAIL
        size, leaf = int(row[0]) + 1, bytes(row[1])
        last = leaf_hash(leaf)
        cached = self._cached
        if cached.size == size and cached.last_hash == last:
            return cached
        try:
            timestamp = decode_entry(leaf).timestamp
        except EncodingError as exc:
            raise LedgerCorrupt(f"the last entry ({size - 1}) is not canonical: {exc}") from exc
        caught_up = self._catch_up(tx, cached, size, last)
        if caught_up is not None:
            return Tail(size, last, timestamp, caught_up)
        subtrees = perfect_subtrees(0, size)
        found = SqlNodeReader(tx).get_nodes(subtrees)
        return Tail(size, last, timestamp, tuple(found[n] for n in subtrees))

    @staticmethod
    def _catch_up(tx: Tx, cached: Tail, size: int, last: bytes) -> tuple[bytes, ...] | None:
        """The frontier at ``size``, from the cached one and the entries appended since (by
        another process sharing the database), or None if that is not the cheaper way.

        Rebuilding the frontier from stored nodes reads and hashes up to 15 entries per
        level; with two server processes taking turns, that was most of each batch's cost.
        The entries read here must continue the cached chain and end in ``last``.
        """
        if not 0 < cached.size < size or size - cached.size > _CATCH_UP_MAX:
            return None
        rows = tx.all(
            "SELECT leaf FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
            (cached.size, size),
        )
        raws = [bytes(raw) for (raw,) in rows]
        leaves = [leaf_hash(raw) for raw in raws]
        # Anything but a continuation of what we cached: rebuild from the nodes.
        if (
            len(raws) != size - cached.size
            or linked_run(raws, leaves, cached.size, cached.last_hash) != len(raws)
            or leaves[-1] != last
        ):
            return None
        stack = list(cached.frontier)
        frontier_extend(stack, cached.size, leaves, ())
        return tuple(stack)

    # -- writing ------------------------------------------------------------------------

    def append(self, tx: Tx, entries: Sequence[NewEntry], tail: Tail | None = None) -> Landed:
        """Append inside the caller's write transaction, so the entries commit (or not)
        together with whatever state change they record. ``tail`` is what ``locked_tail``
        returned earlier in this same transaction, if the caller already read it."""
        if tail is None:
            tail = self._tail(tx, lock=True)
        size, prev = tail.size, tail.last_hash
        # Timestamps never run backwards along the log, whatever the clocks of the writers
        # do, so a time range is always one contiguous run of indices.
        timestamp = max(format_timestamp(self.clock()), tail.last_timestamp)
        leaves: list[bytes] = []
        leaf = leaf_hasher  # leaf_hash(raw), inlined on the hot path
        with tx.keyed_blob_sink("ledger_entries", _ENTRY_COLUMNS) as insert:
            for e in entries:
                raw = encode_entry(
                    index=size,
                    prev_hash=prev,
                    timestamp=timestamp,
                    type=e.type,
                    subject=e.subject,
                    body=e.body,
                )
                h = leaf()
                h.update(raw)
                prev = h.digest()
                insert(size, raw)
                leaves.append(prev)
                size += 1
        stack = list(tail.frontier)
        stored = frontier_extend(stack, tail.size, leaves, STORED_LEVELS)
        with tx.keyed_blob_sink("ledger_nodes", _NODE_COLUMNS) as insert:
            for (level, index), node in stored:
                insert(node_key(level, index), node)
        tail_after = Tail(size, prev, timestamp, tuple(stack))
        tx.after_commit(lambda: self._remember(tail_after))
        return Landed(tail.size, leaves, timestamp)

    def _remember(self, tail: Tail) -> None:
        self._cached = tail

    def record(self, *entries: NewEntry) -> Landed:
        """Append in a transaction of its own; returns once the entries are durable."""
        with self.db.write() as tx:
            return self.append(tx, entries)

    def checkpoint(self) -> str:
        """The signed note for the current tree, signing a new one if the tree has grown."""
        with self.db.write() as tx:
            tail = self._tail(tx, lock=True)
            latest = tx.one("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            if latest is not None and int(latest[0]) == tail.size:
                return str(latest[1])
            root = tail.root
            note = self.signer.sign(Checkpoint(self.origin, tail.size, root).body())
            tx.execute(
                "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)",
                (tail.size, root, note, format_timestamp(self.clock())),
            )
            return note

    # -- reading ------------------------------------------------------------------------

    def tail(self) -> Tail:
        with self.db.read() as tx:
            return self._tail(tx, lock=False)

    def size(self) -> int:
        with self.db.read() as tx:
            row = tx.one("SELECT MAX(idx) FROM ledger_entries")
        return 0 if row is None or row[0] is None else int(row[0]) + 1

    def latest_checkpoint(self) -> tuple[int, str] | None:
        with self.db.read() as tx:
            row = tx.one("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def _proof_size(self, tx: Tx, tree_size: int | None) -> int:
        if tree_size is None:
            row = tx.one("SELECT MAX(size) FROM ledger_checkpoints")
            if row is None or row[0] is None:
                raise InvalidRequest("the ledger has no signed checkpoint yet", field="tree_size")
            return int(row[0])
        row = tx.one("SELECT MAX(idx) FROM ledger_entries")
        size = 0 if row is None or row[0] is None else int(row[0]) + 1
        if not 0 < tree_size <= size:
            raise InvalidRequest(f"tree_size {tree_size} is outside 1..{size}", field="tree_size")
        return tree_size

    def inclusion_proof(self, index: int, tree_size: int | None = None) -> InclusionProof:
        """RFC 9162 §2.1.3 path for entry ``index``; by default against the latest checkpoint."""
        with self.db.read() as tx:
            size = self._proof_size(tx, tree_size)
            if not 0 <= index < size:
                raise InvalidRequest(
                    f"leaf index {index} is outside 0..{size - 1}", field="leaf_index"
                )
            path = inclusion_proof(index, size, SqlNodeReader(tx))
        return InclusionProof(index, size, tuple(path))

    def consistency_proof(self, old_size: int, tree_size: int | None = None) -> ConsistencyProof:
        """RFC 9162 §2.1.4 proof from ``old_size``; by default to the latest checkpoint."""
        with self.db.read() as tx:
            size = self._proof_size(tx, tree_size)
            if not 0 < old_size <= size:
                raise InvalidRequest(f"old_size {old_size} is outside 1..{size}", field="old_size")
            path = consistency_proof(old_size, size, SqlNodeReader(tx))
        return ConsistencyProof(old_size, size, tuple(path))

    def entries(
        self, start: int = 0, end: int | None = None, batch: int = 5000
    ) -> Iterator[StoredEntry]:
        """Stored entries in index order, read in batches of consistent snapshots."""
        position = start
        while end is None or position < end:
            stop = position + batch if end is None else min(end, position + batch)
            with self.db.read() as tx:
                rows = tx.all(
                    "SELECT idx, leaf FROM ledger_entries WHERE idx >= ? AND idx < ? ORDER BY idx",
                    (position, stop),
                )
            if not rows:
                return
            for idx, leaf in rows:
                yield StoredEntry(int(idx), bytes(leaf))
            position = stop
