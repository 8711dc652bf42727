"""The offline verifier: checks a Custos ledger with no trust in the server or its hashes.

It reads the database read-only, recomputes every leaf hash from the stored canonical
bytes, the hash chain, the Merkle tree and the signature of every stored checkpoint, and,
given an auditor's older checkpoint, proves the current log extends it. It imports only
the pure format modules (encoding, merkle, note), never the service.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import Connection, make_url

from consent_ledger.encoding import GENESIS_PREV_HASH, EncodingError, decode_entry
from consent_ledger.merkle import (
    EMPTY_ROOT,
    NodeId,
    ProofError,
    consistency_proof,
    node_hash,
    perfect_subtrees,
    verify_consistency,
)
from consent_ledger.note import Checkpoint, NoteError, NoteVerifier, open_checkpoint

__all__ = [
    "NotVerifiable",
    "Problem",
    "Report",
    "VerificationFailed",
    "stored_verifier_key",
    "verify_ledger",
]

_BATCH = 20_000


class VerificationFailed(Exception):
    """The ledger is not what it claims; ``problem`` names the first thing found wrong."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


class NotVerifiable(Exception):
    """The input is not a Custos ledger at all (or cannot be read)."""


@dataclass(frozen=True)
class Problem:
    message: str
    index: int | None = None

    def __str__(self) -> str:
        where = "" if self.index is None else f"entry {self.index}: "
        return where + self.message


@dataclass(frozen=True)
class Report:
    size: int
    root: bytes
    checkpoints: int
    unsigned_tail: int
    notes: tuple[str, ...] = field(default=())


class _LevelNodes:
    """Every perfect subtree of the tree, built level by level from the leaf hashes."""

    def __init__(self, leaves: list[bytes]) -> None:
        levels = [leaves]
        sha = hashlib.sha256
        while len(levels[-1]) > 1:
            below = levels[-1]
            it = iter(below[: len(below) & ~1])
            levels.append([sha(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=True)])
        self.levels = levels

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {(lv, i): self.levels[lv][i] for lv, i in ids}

    def root(self, size: int) -> bytes:
        if size == 0:
            return EMPTY_ROOT
        hashes = [self.levels[lv][i] for lv, i in perfect_subtrees(0, size)]
        acc = hashes[-1]
        for h in reversed(hashes[:-1]):
            acc = node_hash(h, acc)
        return acc


def _fail(message: str, index: int | None = None) -> VerificationFailed:
    return VerificationFailed(Problem(message, index))


def _rows(conn: Connection) -> Iterator[Sequence[Any]]:
    last = -1
    while True:
        batch = conn.execute(
            text(
                "SELECT idx, leaf, leaf_hash, entry_type, subject, recorded_at"
                " FROM ledger_entries WHERE idx > :last ORDER BY idx LIMIT :n"
            ),
            {"last": last, "n": _BATCH},
        ).all()
        if not batch:
            return
        yield from batch
        last = int(batch[-1][0])


def _check_entries(conn: Connection) -> tuple[list[bytes], bytes]:
    sha = hashlib.sha256
    leaves: list[bytes] = []
    prev = GENESIS_PREV_HASH
    for position, (idx, leaf, stored_hash, etype, subject, recorded_at) in enumerate(_rows(conn)):
        if idx != position:
            raise _fail(
                f"found index {idx} where {position} belongs: an entry is missing or reordered",
                position,
            )
        raw = bytes(leaf)
        try:
            entry = decode_entry(raw)
        except EncodingError as exc:
            raise _fail(f"bytes are not a canonical entry ({exc})", position) from exc
        if entry.index != position:
            raise _fail(f"its bytes say index {entry.index}", position)
        if entry.prev_hash != prev:
            raise _fail("prev_hash is not the hash of the entry before it", position)
        h = sha(b"\x00" + raw).digest()
        if h != bytes(stored_hash):
            raise _fail("the stored leaf hash is not the hash of its bytes", position)
        if (etype, subject, recorded_at) != (entry.type, entry.subject, entry.timestamp):
            raise _fail("its query columns disagree with its bytes", position)
        leaves.append(h)
        prev = h
    return leaves, prev


def _check_head(conn: Connection, size: int, last: bytes) -> None:
    row = conn.execute(text("SELECT size, last_hash FROM ledger_head WHERE id = 1")).first()
    if row is None:
        raise _fail("the ledger head row is missing")
    if int(row[0]) != size:
        raise _fail(f"the ledger head says {row[0]} entries but {size} are stored")
    if bytes(row[1]) != last:
        raise _fail("the ledger head's last hash is not the hash of the last entry")


def _check_checkpoints(
    conn: Connection, tree: _LevelNodes, size: int, verifiers: Sequence[NoteVerifier]
) -> int:
    rows = conn.execute(text("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")).all()
    for stored_size, stored_root, note in rows:
        try:
            cp = open_checkpoint(str(note), verifiers)
        except NoteError as exc:
            raise _fail(f"stored checkpoint of size {stored_size}: {exc}") from exc
        if cp.size != stored_size or cp.root_hash != bytes(stored_root):
            raise _fail(f"stored checkpoint of size {stored_size} disagrees with its signed note")
        if cp.size > size:
            raise _fail(
                f"a signed checkpoint covers {cp.size} entries but only {size} are stored: "
                "the log was truncated"
            )
        if tree.root(cp.size) != cp.root_hash:
            raise _fail(f"the signed root at size {cp.size} does not match the entries")
    return len(rows)


def _check_older(checkpoint: Checkpoint, tree: _LevelNodes, size: int, root: bytes) -> None:
    if checkpoint.size > size:
        raise _fail(
            f"the given checkpoint covers {checkpoint.size} entries but the log has only {size}: "
            "the log was truncated below it"
        )
    if checkpoint.size == 0:
        return
    try:
        proof = consistency_proof(checkpoint.size, size, tree)
        verify_consistency(checkpoint.size, size, checkpoint.root_hash, root, proof)
    except ProofError as exc:
        raise _fail(
            f"the log is not a consistent extension of the given checkpoint of size "
            f"{checkpoint.size} ({exc})"
        ) from exc


def _connect(url: str) -> Connection:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if not parsed.database or not Path(parsed.database).is_file():
            raise NotVerifiable(f"no SQLite database file at {parsed.database!r}")
        # Read-only URI: the verifier can never change what it checks.
        engine = create_engine(
            f"sqlite:///file:{parsed.database}?mode=ro&uri=true",
        )
    else:
        engine = create_engine(url)
    try:
        conn = engine.connect()
        tables = set(inspect(conn).get_table_names())
        conn.rollback()
    except Exception as exc:
        engine.dispose()
        raise NotVerifiable(
            f"cannot open {parsed.render_as_string(hide_password=True)}: {type(exc).__name__}"
        ) from exc
    needed = {"custos_meta", "ledger_entries", "ledger_head", "ledger_checkpoints"}
    if not needed <= tables:
        _close(conn)
        raise NotVerifiable(
            f"{parsed.render_as_string(hide_password=True)} is not a Custos database "
            f"(missing tables: {', '.join(sorted(needed - tables))})"
        )
    return conn


def _close(conn: Connection) -> None:
    engine = conn.engine
    conn.close()
    engine.dispose()


def stored_verifier_key(url: str) -> str | None:
    """The verifier key the database claims for itself (trust on first use only)."""
    conn = _connect(url)
    try:
        row = conn.execute(text("SELECT value FROM custos_meta WHERE key = 'verifier_key'")).first()
        return None if row is None else str(row[0])
    finally:
        _close(conn)


def verify_ledger(url: str, verifier_key: str, older_checkpoint: str | None = None) -> Report:
    """Verify everything; raise VerificationFailed naming the first problem."""
    conn = _connect(url)
    try:
        try:
            verifier = NoteVerifier.parse(verifier_key)
        except NoteError as exc:
            raise NotVerifiable(f"verifier key: {exc}") from exc
        older: Checkpoint | None = None
        if older_checkpoint is not None:
            try:
                older = open_checkpoint(older_checkpoint, [verifier], origin=verifier.name)
            except NoteError as exc:
                raise _fail(f"the given checkpoint does not verify: {exc}") from exc
        with conn.begin():
            leaves, last = _check_entries(conn)
            tree = _LevelNodes(leaves)
            size = len(leaves)
            root = tree.root(size)
            _check_head(conn, size, last)
            count = _check_checkpoints(conn, tree, size, [verifier])
            signed = conn.execute(text("SELECT MAX(size) FROM ledger_checkpoints")).scalar()
            if older is not None:
                _check_older(older, tree, size, root)
    finally:
        _close(conn)
    return Report(size, root, count, size - int(signed or 0))
