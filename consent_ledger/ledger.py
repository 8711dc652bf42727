"""The append-only ledger: appends, checkpoints and proofs over the database.

Every append runs inside a write transaction that first locks the single ``ledger_head``
row, so appends from any number of threads or processes are serialized: each one reads the
size and last hash that the previous one committed and can neither fork nor skip. The
pure parts (encoding, hashing, the Merkle frontier) live in their own modules.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from consent_ledger.db import Database, Tx
from consent_ledger.encoding import encode_entry, format_timestamp
from consent_ledger.errors import InvalidRequest, LedgerCorrupt
from consent_ledger.merkle import (
    consistency_proof,
    frontier_append,
    frontier_root,
    inclusion_proof,
    leaf_hash,
)
from consent_ledger.nodes import SqlNodeReader, is_stored, node_key
from consent_ledger.note import Checkpoint, NoteSigner

__all__ = [
    "Appended",
    "ConsistencyProof",
    "Head",
    "InclusionProof",
    "Ledger",
    "NewEntry",
    "StoredEntry",
    "utc_now",
]

_HASH = 32


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class NewEntry:
    type: str
    subject: str | None
    body: Mapping[str, Any]


@dataclass(frozen=True)
class Appended:
    index: int
    leaf_hash: bytes


@dataclass(frozen=True)
class Head:
    size: int
    last_hash: bytes
    frontier: tuple[bytes, ...]

    @property
    def root(self) -> bytes:
        return frontier_root(self.frontier)


@dataclass(frozen=True)
class StoredEntry:
    index: int
    leaf: bytes
    leaf_hash: bytes


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


def _split_frontier(blob: bytes) -> tuple[bytes, ...]:
    if len(blob) % _HASH:
        raise LedgerCorrupt("ledger head frontier is not a whole number of hashes")
    return tuple(blob[i : i + _HASH] for i in range(0, len(blob), _HASH))


def read_head(tx: Tx, *, lock: bool = False) -> Head:
    suffix = tx.for_update if lock else ""
    row = tx.one(f"SELECT size, last_hash, frontier FROM ledger_head WHERE id = 1{suffix}")  # noqa: S608 - suffix is a fixed lock clause
    if row is None:
        raise LedgerCorrupt("ledger head row is missing")
    frontier = _split_frontier(bytes(row[2]))
    if len(frontier) != int(row[0]).bit_count():
        raise LedgerCorrupt("ledger head frontier does not match its size")
    return Head(int(row[0]), bytes(row[1]), frontier)


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

    @property
    def origin(self) -> str:
        return self.signer.name

    # -- writing ------------------------------------------------------------------------

    def append(self, tx: Tx, entries: Sequence[NewEntry]) -> list[Appended]:
        """Append inside the caller's write transaction, so the entries commit (or not)
        together with whatever state change they record."""
        head = read_head(tx, lock=True)
        size, prev, frontier = head.size, head.last_hash, head.frontier
        timestamp = format_timestamp(self.clock())
        entry_rows: list[tuple[int, bytes, bytes, str, str | None, str]] = []
        node_rows: list[tuple[int, bytes]] = []
        appended: list[Appended] = []
        for e in entries:
            raw = encode_entry(
                index=size,
                prev_hash=prev,
                timestamp=timestamp,
                type=e.type,
                subject=e.subject,
                body=e.body,
            )
            h = leaf_hash(raw)
            frontier, completed = frontier_append(frontier, size, h)
            node_rows.extend((node_key(lv, i), nh) for (lv, i), nh in completed if is_stored(lv))
            entry_rows.append((size, raw, h, e.type, e.subject, timestamp))
            appended.append(Appended(size, h))
            size, prev = size + 1, h
        tx.executemany(
            "INSERT INTO ledger_entries (idx, leaf, leaf_hash, entry_type, subject, recorded_at)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            entry_rows,
        )
        tx.executemany("INSERT INTO ledger_nodes (nid, hash) VALUES (?, ?)", node_rows)
        tx.execute(
            "UPDATE ledger_head SET size = ?, last_hash = ?, frontier = ? WHERE id = 1",
            (size, prev, b"".join(frontier)),
        )
        return appended

    def record(self, *entries: NewEntry) -> list[Appended]:
        """Append in a transaction of its own; returns once the entries are durable."""
        with self.db.write() as tx:
            return self.append(tx, entries)

    def checkpoint(self) -> str:
        """The signed note for the current tree, signing a new one if the tree has grown."""
        with self.db.write() as tx:
            head = read_head(tx, lock=True)
            latest = tx.one("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
            if latest is not None and int(latest[0]) == head.size:
                return str(latest[1])
            root = head.root
            note = self.signer.sign(Checkpoint(self.origin, head.size, root).body())
            tx.execute(
                "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)",
                (head.size, root, note, format_timestamp(self.clock())),
            )
            return note

    # -- reading ------------------------------------------------------------------------

    def head(self) -> Head:
        with self.db.read() as tx:
            return read_head(tx)

    def latest_checkpoint(self) -> tuple[int, str] | None:
        with self.db.read() as tx:
            row = tx.one("SELECT size, note FROM ledger_checkpoints ORDER BY size DESC LIMIT 1")
        return None if row is None else (int(row[0]), str(row[1]))

    def _proof_size(self, tx: Tx, tree_size: int | None) -> int:
        head = read_head(tx)
        if tree_size is None:
            row = tx.one("SELECT MAX(size) FROM ledger_checkpoints")
            if row is None or row[0] is None:
                raise InvalidRequest("the ledger has no signed checkpoint yet", field="tree_size")
            return int(row[0])
        if not 0 < tree_size <= head.size:
            raise InvalidRequest(
                f"tree_size {tree_size} is outside 1..{head.size}", field="tree_size"
            )
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
                    "SELECT idx, leaf, leaf_hash FROM ledger_entries"
                    " WHERE idx >= ? AND idx < ? ORDER BY idx",
                    (position, stop),
                )
            if not rows:
                return
            for idx, leaf, h in rows:
                yield StoredEntry(int(idx), bytes(leaf), bytes(h))
            position = stop
