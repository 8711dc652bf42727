"""The offline verifier: checks a Custos ledger with no trust in the server or its hashes.

It reads the database read-only through the plain database driver, recomputes every leaf
hash from the stored canonical bytes, the hash chain, the Merkle tree and the signature of
every stored checkpoint, and, given an auditor's older checkpoint, proves the current log
extends it. It imports only the pure format modules (encoding, merkle, note), never the
service.

Entries are checked in aligned chunks of 2**16; on a large log the chunks run in worker
processes (one per core), each returning its leaf hashes and the levels of its subtrees,
and the chunks are stitched together here: chain links across chunk edges, upper levels.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from hashlib import sha256
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from consent_ledger.budgets import BudgetOverspent, rederive
from consent_ledger.encoding import (
    GENESIS_PREV_HASH,
    EncodingError,
    canonical_link,
    decode_entry,
    entry_link,
    linked_run,
)
from consent_ledger.merkle import (
    NodeId,
    ProofError,
    consistency_proof,
    parent_level,
    root_at,
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

CHUNK_LEVEL = 16
CHUNK = 1 << CHUNK_LEVEL
# Below this many entries, starting worker processes costs more than it saves.
PARALLEL_FROM = 4 * CHUNK
_FETCH = 10_000
_H = 32
# The entries budgets are re-derived from, found in the canonical bytes without decoding
# every entry (JCS writes exactly these bytes for the type member; an escaped quote inside
# a string value cannot produce them).
_BUDGET_MARKS = (b'"type":"analyst_created"', b'"type":"dp_release"')


class NotVerifiable(Exception):
    """The input is not a Custos ledger at all (or cannot be read)."""


@dataclass(frozen=True)
class Problem:
    message: str
    index: int | None = None

    def __str__(self) -> str:
        where = "" if self.index is None else f"entry {self.index}: "
        return where + self.message


class VerificationFailed(Exception):
    """The ledger is not what it claims; ``problem`` names the first thing found wrong."""

    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass(frozen=True)
class Report:
    size: int
    root: bytes
    checkpoints: int
    unsigned_tail: int


def _fail(message: str, index: int | None = None) -> VerificationFailed:
    return VerificationFailed(Problem(message, index))


# -- database access (driver level: no ORM, read-only) ------------------------------------


def _connect_raw(url: str) -> Any:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        path = parsed.database
        if not path or not Path(path).is_file():
            raise NotVerifiable(f"no SQLite database file at {path!r}")
        # Read-only: the verifier can never change what it checks.
        return sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    if backend == "postgresql":
        import psycopg

        dsn = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = psycopg.connect(dsn, autocommit=False)
        conn.read_only = True
        return conn
    raise NotVerifiable(f"unsupported database URL scheme {parsed.drivername!r}")


def _placeholder(conn: Any) -> str:
    return "?" if isinstance(conn, sqlite3.Connection) else "%s"


def _tables(conn: Any) -> set[str]:
    cur = conn.cursor()
    if isinstance(conn, sqlite3.Connection):
        cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
    else:
        cur.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
    return {str(r[0]) for r in cur.fetchall()}


def _open(url: str) -> Any:
    shown = make_url(url).render_as_string(hide_password=True)
    try:
        conn = _connect_raw(url)
        tables = _tables(conn)
    except NotVerifiable:
        raise
    except Exception as exc:
        raise NotVerifiable(f"cannot read {shown}: {type(exc).__name__}") from exc
    needed = {"custos_meta", "ledger_entries", "ledger_checkpoints"}
    if not needed <= tables:
        conn.close()
        raise NotVerifiable(
            f"{shown} is not a Custos database "
            f"(missing tables: {', '.join(sorted(needed - tables))})"
        )
    return conn


def stored_verifier_key(url: str) -> str | None:
    """The verifier key the database claims for itself (trust on first use only)."""
    conn = _open(url)
    try:
        cur = conn.cursor()
        cur.execute("SELECT value FROM custos_meta WHERE key = 'verifier_key'")
        row = cur.fetchone()
        return None if row is None else str(row[0])
    finally:
        conn.close()


def _broken_link(index: int) -> Problem:
    if index == 0:
        # The first entry links to no entry: its prev_hash must be the genesis value.
        return Problem("its prev_hash is not the genesis value (64 zeros)", 0)
    # The chain cannot tell which side of a broken link was altered; name the earlier one.
    return Problem(
        f"its hash is not the prev_hash that entry {index} records (one of the two was altered)",
        index - 1,
    )


# -- one chunk of entries -----------------------------------------------------------------


@dataclass(frozen=True)
class _Chunk:
    start: int
    count: int
    first_prev: bytes
    last_hash: bytes
    levels: tuple[bytes, ...]  # level k: concatenated hashes of its perfect subtrees
    problem: Problem | None
    budget_entries: tuple[tuple[int, bytes], ...] = ()  # (index, leaf) of grants and releases


def _levels(leaves: list[bytes]) -> tuple[bytes, ...]:
    """Every level of perfect subtrees above ``leaves``, each level's hashes concatenated."""
    levels = [b"".join(leaves)]
    below = leaves
    while len(below) > 1:
        # An odd last hash has no parent here: it pairs up across the next chunk's edge.
        below = parent_level(below)
        levels.append(b"".join(below))
    return tuple(levels)


def _entry_problem(idx: int, expected: int, raw: bytes) -> Problem:
    """What is wrong with the entry stored at ``idx`` where ``expected`` belongs."""
    if idx != expected:
        return Problem(
            f"found index {idx} where {expected} belongs: an entry is missing or reordered",
            expected,
        )
    try:
        index, _prev = entry_link(raw)
    except EncodingError as exc:
        return Problem(f"bytes are not a canonical entry ({exc})", idx)
    if index != idx:
        return Problem(f"its bytes say index {index}", idx)
    return _broken_link(idx)


def _in_order(indices: list[int], first: int) -> int:
    """How many leading stored indices run first, first + 1, ... without a gap."""
    if indices == list(range(first, first + len(indices))):
        return len(indices)
    return next(k for k, idx in enumerate(indices) if idx != first + k)


def _check_chunk(url: str, start: int, end: int) -> _Chunk:
    conn = _connect_raw(url)
    try:
        # PostgreSQL's binary format sends bytea as it is, not as hex text to decode.
        cur = conn.cursor() if isinstance(conn, sqlite3.Connection) else conn.cursor(binary=True)
        p = _placeholder(conn)
        cur.execute(
            f"SELECT idx, leaf FROM ledger_entries WHERE idx >= {p} AND idx < {p} ORDER BY idx",  # noqa: S608 - placeholders only
            (start, end),
        )
        hashes: list[bytes] = []
        first_prev = b""
        expected = start
        problem: Problem | None = None
        budget_entries: list[tuple[int, bytes]] = []
        while problem is None and (rows := cur.fetchmany(_FETCH)):
            raws = [leaf if type(leaf) is bytes else bytes(leaf) for _, leaf in rows]
            if expected == start:
                # The chunk's first link is checked when the chunks are stitched together.
                link = canonical_link(raws[0])
                first_prev = b"" if link is None else link[1]
            batch = [sha256(b"\x00" + raw).digest() for raw in raws]  # leaf_hash, inlined
            prev = hashes[-1] if hashes else first_prev
            good = min(
                linked_run(raws, batch, expected, prev),
                _in_order([idx for idx, _ in rows], expected),
            )
            hashes.extend(batch[:good])
            budget_entries.extend(
                (expected + k, raws[k])
                for k in range(good)
                if any(mark in raws[k] for mark in _BUDGET_MARKS)
            )
            if good < len(rows):
                problem = _entry_problem(rows[good][0], expected + good, raws[good])
            expected += good
    finally:
        conn.close()
    last = hashes[-1] if hashes else b""
    return _Chunk(
        start, len(hashes), first_prev, last, _levels(hashes), problem, tuple(budget_entries)
    )


# -- the whole tree -----------------------------------------------------------------------


class _Tree:
    """Every perfect subtree of the log, stored level by level as concatenated hashes."""

    def __init__(self, chunks: Sequence[_Chunk]) -> None:
        depth = max((len(c.levels) for c in chunks), default=0)
        levels = [b"".join(c.levels[k] for c in chunks if k < len(c.levels)) for k in range(depth)]
        if levels:
            top = _levels([levels[-1][i : i + _H] for i in range(0, len(levels[-1]), _H)])
            levels.extend(top[1:])
        self.levels = levels

    def node(self, level: int, index: int) -> bytes:
        return self.levels[level][index * _H : (index + 1) * _H]

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        return {(lv, i): self.node(lv, i) for lv, i in ids}

    def root(self, size: int) -> bytes:
        return root_at(size, self)


def _log_size(conn: Any) -> int:
    cur = conn.cursor()
    cur.execute("SELECT MAX(idx), COUNT(*) FROM ledger_entries")
    top, count = cur.fetchone()
    size = 0 if top is None else int(top) + 1
    # A gap shows up as MAX+1 > COUNT; the chunk scan names where it is.
    return max(size, int(count))


def _check_entries(url: str, size: int, workers: int) -> tuple[_Tree, int]:
    ranges = [(s, min(size, s + CHUNK)) for s in range(0, size, CHUNK)]
    if workers > 1 and size >= PARALLEL_FROM:
        # fork: the children inherit the loaded modules instead of importing them again.
        with ProcessPoolExecutor(workers, mp_context=get_context("fork")) as pool:
            chunks = list(pool.map(_check_chunk, [url] * len(ranges), *zip(*ranges, strict=True)))
    else:
        chunks = [_check_chunk(url, s, e) for s, e in ranges]
    prev = GENESIS_PREV_HASH
    for chunk in chunks:
        if chunk.count and chunk.first_prev != prev:
            raise VerificationFailed(_broken_link(chunk.start))
        if chunk.problem is not None:
            raise VerificationFailed(chunk.problem)
        if chunk.count != CHUNK and chunk is not chunks[-1]:
            raise _fail("an entry is missing", chunk.start + chunk.count)
        prev = chunk.last_hash
    total = sum(c.count for c in chunks)
    _check_budgets([e for c in chunks for e in c.budget_entries])
    return _Tree(chunks), total


def _check_budgets(found: list[tuple[int, bytes]]) -> None:
    """No analyst's releases ever exceeded their grant (``consent_ledger.budgets``)."""
    entries = []
    for index, raw in found:
        e = decode_entry(raw)
        entries.append((index, e.type, e.body))
    try:
        rederive(entries)
    except BudgetOverspent as exc:
        raise _fail(exc.message, exc.index) from None


def _check_checkpoints(
    conn: Any, tree: _Tree, size: int, verifiers: Sequence[NoteVerifier]
) -> tuple[int, int]:
    cur = conn.cursor()
    cur.execute("SELECT size, root, note FROM ledger_checkpoints ORDER BY size")
    rows = cur.fetchall()
    good = 0  # the largest checkpointed size whose root matched
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
            raise _fail(
                f"the signed root at size {cp.size} does not match entries {good} to "
                f"{cp.size - 1}: one of them was altered"
            )
        good = cp.size
    return len(rows), max((int(r[0]) for r in rows), default=0)


def _check_older(checkpoint: Checkpoint, tree: _Tree, size: int, root: bytes) -> None:
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


def verify_ledger(
    url: str,
    verifier_key: str,
    older_checkpoint: str | None = None,
    *,
    workers: int | None = None,
) -> Report:
    """Verify everything; raise VerificationFailed naming the first problem."""
    conn = _open(url)
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
        size = _log_size(conn)
        tree, size = _check_entries(url, size, workers or os.cpu_count() or 1)
        root = tree.root(size)
        count, signed = _check_checkpoints(conn, tree, size, [verifier])
        if older is not None:
            _check_older(older, tree, size, root)
    finally:
        conn.close()
    return Report(size, root, count, size - signed)
