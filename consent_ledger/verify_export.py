"""Offline verification from what an auditor holds: an export, signed checkpoints, proofs.

An external auditor has ``custos ledger export`` output, a checkpoint note and the verifier
key, not the firm's database. ``verify_export`` recomputes from the export alone what
``consent_ledger.verify`` recomputes from the database: every leaf hash from the ``leaf``
bytes (and that the line's decoded fields are what those bytes say), the canonical form,
the hash chain, the Merkle root, the checkpoint's signature and its root over the entries it
covers (so a truncated or rewritten export is caught). ``verify_inclusion_file`` and
``verify_consistency_file`` check the JSON proofs the API and ``custos ledger prove`` hand out
against signed checkpoints.

Like the database verifier, this imports only the pure format modules (encoding, merkle,
note) and the verifier's own result types, never the service. Failures raise
``VerificationFailed`` naming the first bad entry (exit 1 in the CLI); input that is not an
export, a proof, a key or a signed note at all raises ``NotVerifiable`` (exit 2).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from consent_ledger.budgets import BudgetOverspent, rederive
from consent_ledger.encoding import GENESIS_PREV_HASH, EncodingError, decode_entry
from consent_ledger.merkle import (
    ProofError,
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from consent_ledger.note import Checkpoint, NoteError, NoteVerifier, open_checkpoint
from consent_ledger.verify import NotVerifiable, Problem, Report, VerificationFailed

# What budgets are re-derived from, as in the database verifier.
_BUDGET_TYPES = frozenset({"analyst_created", "dp_release"})

__all__ = [
    "ProofResult",
    "checkpoint_shape_problem",
    "verify_consistency_file",
    "verify_export",
    "verify_inclusion_file",
]

_SIG_PREFIX = "\u2014 "  # EM DASH, SPACE: how every signature line of a signed note starts
_HEX_HASH = re.compile(r"[0-9a-f]{64}")
# The members every export line carries (consent_ledger.export), all of them needed here.
_LINE_FIELDS = ("index", "prev_hash", "timestamp", "type", "subject", "body", "leaf_hash", "leaf")


def _fail(message: str, index: int | None = None) -> VerificationFailed:
    return VerificationFailed(Problem(message, index))


# -- checkpoints ----------------------------------------------------------------------------


def checkpoint_shape_problem(note: str) -> str | None:
    """Why ``note`` is not even shaped like a signed checkpoint, or None if it is.

    Separates bad input (a truncated file, the wrong file: exit 2) from a checkpoint that
    is well formed but does not verify (a forged or altered one: exit 1). Signatures are not
    checked here; ``open_checkpoint`` does that.
    """
    if not note.endswith("\n"):
        return "it does not end with a newline"
    split = note.rfind("\n\n")
    if split < 0:
        return "it has no blank line before its signature lines"
    text, signatures = note[: split + 1], note[split + 2 :]
    if not signatures:
        return "it has no signature lines"
    for number, line in enumerate(signatures[:-1].split("\n"), start=1):
        if not line.startswith(_SIG_PREFIX) or len(line[len(_SIG_PREFIX) :].split(" ")) != 2:
            return f"signature line {number} is not '\u2014 <key name> <base64 signature>'"
    try:
        Checkpoint.parse(text)
    except NoteError as exc:
        return str(exc)
    return None


def _verifier(key: str) -> NoteVerifier:
    try:
        return NoteVerifier.parse(key)
    except NoteError as exc:
        raise NotVerifiable(f"verifier key: {exc}") from exc


def _open_given(note: str, verifier: NoteVerifier, what: str) -> Checkpoint:
    """A checkpoint the auditor supplied: malformed is bad input, unverifiable a failure."""
    shape = checkpoint_shape_problem(note)
    if shape is not None:
        raise NotVerifiable(f"{what} is not a signed checkpoint: {shape}")
    try:
        return open_checkpoint(note, [verifier], origin=verifier.name)
    except NoteError as exc:
        raise _fail(f"{what} does not verify: {exc}") from exc


# -- exports --------------------------------------------------------------------------------


def _line_object(number: int, raw: bytes) -> Mapping[str, Any]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise NotVerifiable(f"line {number} of the export is not JSON") from None
    if type(obj) is not dict or any(f not in obj for f in _LINE_FIELDS):
        raise NotVerifiable(
            f"line {number} of the export is not an export line "
            f"(it needs {', '.join(_LINE_FIELDS)})"
        )
    if type(obj["index"]) is not int or type(obj["leaf"]) is not str:
        raise NotVerifiable(f"line {number} of the export: index or leaf has the wrong JSON type")
    return obj


def _check_line(obj: Mapping[str, Any], expected: int, prev: bytes) -> bytes:
    """The leaf hash of the export line that should hold entry ``expected``, whose
    predecessor's leaf hash is ``prev``; VerificationFailed names what is wrong."""
    if obj["index"] != expected:
        # The database verifier's words for the same finding.
        raise _fail(
            f"found index {obj['index']} where {expected} belongs: "
            "an entry is missing or reordered",
            expected,
        )
    try:
        leaf = base64.b64decode(obj["leaf"], validate=True)
    except (binascii.Error, ValueError):
        raise _fail("its leaf is not base64", expected) from None
    try:
        entry = decode_entry(leaf)
    except EncodingError as exc:
        raise _fail(f"bytes are not a canonical entry ({exc})", expected) from exc
    if entry.index != expected:
        raise _fail(f"its bytes say index {entry.index}", expected)
    if entry.prev_hash != prev:
        if expected == 0:
            raise _fail("its prev_hash is not 64 zeros, as the first entry's must be", 0)
        raise _fail(
            f"its hash is not the prev_hash that entry {expected} records "
            "(one of the two was altered)",
            expected - 1,
        )
    digest = leaf_hash(leaf)
    if obj["leaf_hash"] != digest.hex():
        raise _fail("its leaf_hash is not SHA-256(0x00 || leaf)", expected)
    # An auditor reads the decoded fields; they must be exactly what the signed bytes say.
    decoded = {
        "prev_hash": entry.prev_hash.hex(),
        "timestamp": entry.timestamp,
        "type": entry.type,
        "subject": entry.subject,
        "body": entry.body,
    }
    for field, value in decoded.items():
        if obj[field] != value:
            raise _fail(f"its {field} is not what its leaf bytes say", expected)
    return digest


def verify_export(
    lines: Iterable[bytes], verifier_key: str | None = None, checkpoint: str | None = None
) -> Report:
    """Verify an export (its lines, as bytes) and, given one, a signed checkpoint over it.

    Without a checkpoint only the export's own consistency is checked (chain, canonical
    bytes, leaf hashes): nothing signed vouches for it, which ``Report.checkpoints == 0``
    says. The checkpoint's origin must be the verifier key's name, as for the database.
    """
    verifier = None if verifier_key is None else _verifier(verifier_key)
    if checkpoint is not None and verifier is None:
        raise NotVerifiable("a checkpoint needs the verifier key to check it")
    # The checkpoint's shape is bad input and is reported before any entry is read.
    if checkpoint is not None:
        shape = checkpoint_shape_problem(checkpoint)
        if shape is not None:
            raise NotVerifiable(f"the given checkpoint is not a signed checkpoint: {shape}")
    hashes: list[bytes] = []
    prev = GENESIS_PREV_HASH
    budget_entries: list[tuple[int, str, Mapping[str, Any]]] = []
    for number, raw in enumerate(lines, start=1):
        obj = _line_object(number, raw)
        prev = _check_line(obj, len(hashes), prev)
        if obj["type"] in _BUDGET_TYPES:  # checked against the leaf bytes just above
            budget_entries.append((len(hashes), obj["type"], obj["body"]))
        hashes.append(prev)
    try:
        rederive(budget_entries)
    except BudgetOverspent as exc:
        raise _fail(exc.message, exc.index) from None
    size = len(hashes)
    root = root_from_leaf_hashes(hashes)
    if checkpoint is None or verifier is None:
        return Report(size, root, 0, size)
    cp = _open_given(checkpoint, verifier, "the given checkpoint")
    if cp.size > size:
        raise _fail(
            f"not in the export, but the given checkpoint covers {cp.size} entries: "
            "the log was truncated below it",
            size,
        )
    signed_root = root if cp.size == size else root_from_leaf_hashes(hashes[: cp.size])
    if signed_root != cp.root_hash:
        raise _fail(
            f"the signed root at size {cp.size} does not match entries 0 to {cp.size - 1}: "
            "one of them was altered"
        )
    return Report(size, root, 1, size - cp.size)


# -- proofs ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProofResult:
    """A verified proof: the signed tree it was checked against, and what it proved (the
    entry of an inclusion proof, the older size of a consistency proof)."""

    size: int
    root: bytes
    leaf_index: int | None = None
    old_size: int | None = None


def _proof_object(raw: bytes, what: str, sizes: tuple[str, str]) -> tuple[int, int, list[bytes]]:
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise NotVerifiable(f"the {what} file is not JSON") from None
    shape = f"the {what} file is not {{{sizes[0]!r}, {sizes[1]!r}, 'hashes'}}"
    if type(obj) is not dict or any(k not in obj for k in (*sizes, "hashes")):
        raise NotVerifiable(shape)
    first, second, hashes = obj[sizes[0]], obj[sizes[1]], obj["hashes"]
    if type(first) is not int or type(second) is not int or type(hashes) is not list:
        raise NotVerifiable(shape)
    if not all(type(h) is str and _HEX_HASH.fullmatch(h) for h in hashes):
        raise NotVerifiable(f"the {what} file: every hash must be 64 lower-case hex digits")
    return first, second, [bytes.fromhex(h) for h in hashes]


def verify_inclusion_file(
    proof: bytes, leaf_hash_hex: str, checkpoint: str, verifier_key: str
) -> ProofResult:
    """Check an inclusion proof (``{"leaf_index", "tree_size", "hashes"}``) of the entry
    whose leaf hash is ``leaf_hash_hex`` against a signed checkpoint of that tree size."""
    verifier = _verifier(verifier_key)
    if not _HEX_HASH.fullmatch(leaf_hash_hex):
        raise NotVerifiable("the leaf hash must be 64 lower-case hex digits")
    index, tree_size, hashes = _proof_object(proof, "inclusion proof", ("leaf_index", "tree_size"))
    cp = _open_given(checkpoint, verifier, "the checkpoint")
    if tree_size != cp.size:
        raise _fail(
            f"the proof is for a tree of {tree_size} entries but the checkpoint is of {cp.size}",
            index,
        )
    try:
        verify_inclusion(bytes.fromhex(leaf_hash_hex), index, cp.size, hashes, cp.root_hash)
    except ProofError as exc:
        raise _fail(f"not in the signed tree: {exc}", index) from exc
    return ProofResult(cp.size, cp.root_hash, leaf_index=index)


def verify_consistency_file(
    proof: bytes, old_checkpoint: str, checkpoint: str, verifier_key: str
) -> ProofResult:
    """Check a consistency proof (``{"old_size", "tree_size", "hashes"}``): the tree of the
    signed ``checkpoint`` extends that of the signed ``old_checkpoint``."""
    verifier = _verifier(verifier_key)
    old_size, tree_size, hashes = _proof_object(
        proof, "consistency proof", ("old_size", "tree_size")
    )
    old = _open_given(old_checkpoint, verifier, "the old checkpoint")
    cp = _open_given(checkpoint, verifier, "the checkpoint")
    if (old_size, tree_size) != (old.size, cp.size):
        raise _fail(
            f"the proof is from {old_size} to {tree_size} entries but the checkpoints are of "
            f"{old.size} and {cp.size}"
        )
    try:
        verify_consistency(old.size, cp.size, old.root_hash, cp.root_hash, hashes)
    except ProofError as exc:
        raise _fail(
            f"the log of {cp.size} entries is not a consistent extension of the checkpoint "
            f"of {old.size} ({exc})"
        ) from exc
    return ProofResult(cp.size, cp.root_hash, old_size=old.size)
