"""Tests for consent_ledger.merkle: RFC 9162 tree hashing, proofs and verification.

Three independent sources of truth are used, so a bug cannot hide by being
shared between the code and its test:

* published vectors from transparency-dev/merkle (tests/consent_ledger/vectors/),
* a naive recursive reference written in this file straight from the RFC 9162
  definitions of MTH, PATH and PROOF, using hashlib directly,
* properties linking our own functions to each other.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
import json
from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consent_ledger.merkle import (
    EMPTY_ROOT,
    MemoryNodes,
    NodeId,
    ProofError,
    consistency_proof,
    consistency_proof_nodes,
    frontier_append,
    frontier_extend,
    frontier_root,
    inclusion_proof,
    inclusion_proof_nodes,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_at,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)

VECTORS = Path(__file__).parent / "vectors"
REF_TREE: dict[str, Any] = json.loads(
    (VECTORS / "transparency_dev_merkle_reference_tree.json").read_text(encoding="utf-8")
)
PROBES: dict[str, Any] = json.loads(
    (VECTORS / "transparency_dev_merkle_probes.json").read_text(encoding="utf-8")
)

PROFILE = settings(deadline=None, max_examples=40, suppress_health_check=[HealthCheck.too_slow])


# --- the reference: RFC 9162 §2.1 definitions, transcribed literally ---------------


def _k(n: int) -> int:
    """RFC 9162: the largest power of two smaller than n (n > 1)."""
    k = 1
    while k * 2 < n:
        k *= 2
    return k


class RefTree:
    """MTH / PATH / PROOF over entries D[0:n], as recursive as the RFC text."""

    def __init__(self, entries: Sequence[bytes]) -> None:
        self.d = list(entries)
        self.mth = cache(self._mth)

    def _mth(self, a: int, b: int) -> bytes:
        n = b - a
        if n == 0:
            return hashlib.sha256(b"").digest()
        if n == 1:
            return hashlib.sha256(b"\x00" + self.d[a]).digest()
        k = _k(n)
        return hashlib.sha256(b"\x01" + self.mth(a, a + k) + self.mth(a + k, b)).digest()

    def path(self, m: int, a: int, b: int) -> list[bytes]:
        """PATH(m, D[a:b])."""
        n = b - a
        if n == 1:
            return []
        k = _k(n)
        if m < k:
            return [*self.path(m, a, a + k), self.mth(a + k, b)]
        return [*self.path(m - k, a + k, b), self.mth(a, a + k)]

    def proof(self, m: int, n: int) -> list[bytes]:
        """PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true)."""
        return self.subproof(m, 0, n, True)

    def subproof(self, m: int, a: int, b: int, flag: bool) -> list[bytes]:
        n = b - a
        if m == n:
            return [] if flag else [self.mth(a, b)]
        k = _k(n)
        if m <= k:
            return [*self.subproof(m, a, a + k, flag), self.mth(a + k, b)]
        return [*self.subproof(m - k, a + k, b, False), self.mth(a, a + k)]


def inclusion_shape(m: int, n: int) -> tuple[str, ...]:
    """Which side each PATH(m, D[n]) sibling is on: all a verifier learns from n."""
    if n == 1:
        return ()
    k = _k(n)
    return (*inclusion_shape(m, k), "R") if m < k else (*inclusion_shape(m - k, n - k), "L")


def consistency_shape(m: int, n: int, flag: bool = True) -> tuple[str, ...]:
    """The branch structure of SUBPROOF(m, D[n], true), for 0 < m <= n."""
    if m == n:
        return () if flag else ("=",)
    k = _k(n)
    if m <= k:
        return (*consistency_shape(m, k, flag), "R")
    return (*consistency_shape(m - k, n - k, False), "L")


def entries_for(n: int, salt: bytes = b"") -> list[bytes]:
    """Distinct entries: with duplicates, H(x, x) is symmetric and some index
    mutations would legitimately still verify."""
    return [i.to_bytes(4, "big") + salt for i in range(n)]


class CountingReader:
    """NodeReader that records each get_nodes call, to check proofs batch their reads."""

    def __init__(self, inner: MemoryNodes) -> None:
        self.inner = inner
        self.calls: list[list[NodeId]] = []

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        self.calls.append(list(ids))
        return self.inner.get_nodes(ids)


def flip(b: bytes, pos: int = 0, mask: int = 0x08) -> bytes:
    out = bytearray(b)
    out[pos % len(out)] ^= mask
    return bytes(out)


def fails(fn: Any, *args: Any) -> bool:
    try:
        fn(*args)
    except ProofError:
        return True
    return False


SIZES = st.one_of(
    st.integers(1, 300),
    st.sampled_from([2**k + d for k in range(1, 11) for d in (-1, 0, 1) if 2**k + d > 0]),
)


# --- published vectors: transparency-dev/merkle ---------------------------------------


def _ref_leaves() -> list[bytes]:
    return [leaf_hash(bytes.fromhex(x)) for x in REF_TREE["leaf_inputs"]]


def _ref_nodes() -> MemoryNodes:
    return MemoryNodes(_ref_leaves())


def test_empty_root_is_sha256_of_nothing() -> None:
    """EMPTY_ROOT equals the published empty-tree root (size 0 entry of RootHashes)."""
    assert EMPTY_ROOT.hex() == REF_TREE["root_hashes"][0]
    assert root_from_leaf_hashes([]) == EMPTY_ROOT == frontier_root(())
    assert root_at(0, MemoryNodes()) == EMPTY_ROOT


def test_published_node_hashes() -> None:
    """leaf_hash/node_hash reproduce every published perfect-subtree hash of the 8-leaf tree."""
    nodes = _ref_nodes()
    for level, row in enumerate(REF_TREE["node_hashes"]):
        for index, want in enumerate(row):
            assert nodes.node((level, index)).hex() == want, (level, index)
    level0 = REF_TREE["node_hashes"][0]
    for i in range(0, 8, 2):
        assert (
            node_hash(bytes.fromhex(level0[i]), bytes.fromhex(level0[i + 1])).hex()
            == (REF_TREE["node_hashes"][1][i // 2])
        )


def test_published_roots_for_every_size() -> None:
    """Roots of sizes 0..8 match the published RootHashes by all three root computations."""
    leaves = _ref_leaves()
    nodes = _ref_nodes()
    frontier: tuple[bytes, ...] = ()
    for size, want in enumerate(REF_TREE["root_hashes"]):
        assert root_from_leaf_hashes(leaves[:size]).hex() == want, size
        assert frontier_root(frontier).hex() == want, size
        assert root_at(size, nodes).hex() == want, size
        if size < len(leaves):
            frontier, _ = frontier_append(frontier, size, leaves[size])


def test_published_compact_trees() -> None:
    """The frontier after each append equals the published CompactTrees node lists."""
    leaves = _ref_leaves()
    table = REF_TREE["node_hashes"]
    frontier: tuple[bytes, ...] = ()
    for size, want_ids in enumerate(REF_TREE["compact_trees"]):
        assert [h.hex() for h in frontier] == [table[lv][ix] for lv, ix in want_ids], size
        if size < len(leaves):
            frontier, _ = frontier_append(frontier, size, leaves[size])


@pytest.mark.parametrize(
    "vector", REF_TREE["inclusion_proofs"], ids=lambda v: f"{v['index']}of{v['size']}"
)
def test_published_inclusion_proofs(vector: dict[str, Any]) -> None:
    """We generate exactly the published inclusion proof and accept it."""
    nodes = _ref_nodes()
    index, size = vector["index"], vector["size"]
    proof = inclusion_proof(index, size, nodes)
    assert [p.hex() for p in proof] == vector["proof"]
    root = bytes.fromhex(REF_TREE["root_hashes"][size])
    verify_inclusion(_ref_leaves()[index], index, size, proof, root)


@pytest.mark.parametrize(
    "vector", REF_TREE["consistency_proofs"], ids=lambda v: f"{v['size1']}to{v['size2']}"
)
def test_published_consistency_proofs(vector: dict[str, Any]) -> None:
    """We generate exactly the published consistency proof and accept it."""
    nodes = _ref_nodes()
    m, n = vector["size1"], vector["size2"]
    proof = consistency_proof(m, n, nodes)
    assert [p.hex() for p in proof] == vector["proof"]
    roots = REF_TREE["root_hashes"]
    verify_consistency(m, n, bytes.fromhex(roots[m]), bytes.fromhex(roots[n]), proof)


def _upstream_groups(ids: list[list[int]], rehash: list[int] | None) -> list[list[NodeId]]:
    """Convert upstream's flat node list + rehash range into our per-proof-hash groups.

    Upstream lists an ephemeral node's parts lowest level first (right to
    left); we list them left to right.
    """
    nodes = [(lv, ix) for lv, ix in ids]
    if rehash is None:
        return [[n] for n in nodes]
    begin, end = rehash
    return (
        [[n] for n in nodes[:begin]]
        + [list(reversed(nodes[begin:end]))]
        + [[n] for n in nodes[end:]]
    )


@pytest.mark.parametrize(
    "vector", REF_TREE["inclusion_node_ids"], ids=lambda v: f"{v['index']}of{v['size']}"
)
def test_published_inclusion_node_ids(vector: dict[str, Any]) -> None:
    """The nodes an inclusion proof reads are exactly upstream's proof.Inclusion node IDs."""
    got = inclusion_proof_nodes(vector["index"], vector["size"])
    assert got == _upstream_groups(vector["ids"], vector["rehash"])


@pytest.mark.parametrize(
    "vector", REF_TREE["consistency_node_ids"], ids=lambda v: f"{v['size1']}to{v['size2']}"
)
def test_published_consistency_node_ids(vector: dict[str, Any]) -> None:
    """The nodes a consistency proof reads are exactly upstream's proof.Consistency node IDs."""
    got = consistency_proof_nodes(vector["size1"], vector["size2"])
    assert got == _upstream_groups(vector["ids"], vector["rehash"])


def test_published_bad_proof_parameters() -> None:
    """Parameter pairs upstream rejects for proof generation are rejected here too.

    Exception: upstream also rejects consistency from size 0; we return the
    empty proof for it (see test_consistency_from_empty_tree).
    """
    for case in REF_TREE["inclusion_node_ids_errors"]:
        with pytest.raises(ProofError):
            inclusion_proof_nodes(case["index"], case["size"])
    for case in REF_TREE["consistency_node_ids_errors"]:
        with pytest.raises(ProofError):
            consistency_proof_nodes(case["size1"], case["size2"])


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _b64_list(values: list[str] | None) -> list[bytes]:
    return [_b64(v) for v in values or []]


# Probes where Custos is deliberately stricter than transparency-dev/merkle.
STRICTER = {
    # Upstream accepts 12-byte "roots" when both sizes are 1; we require every
    # root to be a 32-byte SHA-256 hash.
    "testdata/consistency/additional/sizes-are-equal-one-and-proof-is-empty.json",
}


@pytest.mark.parametrize("probe", PROBES["inclusion"], ids=lambda p: p["file"])
def test_published_inclusion_probes(probe: dict[str, Any]) -> None:
    """verify_inclusion accepts exactly the upstream inclusion probes that upstream accepts."""
    args = (
        _b64(probe["leafHash"]),
        probe["leafIdx"],
        probe["treeSize"],
        _b64_list(probe["proof"]),
        _b64(probe["root"]),
    )
    if probe["wantErr"]:
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("probe", PROBES["consistency"], ids=lambda p: p["file"])
def test_published_consistency_probes(probe: dict[str, Any]) -> None:
    """verify_consistency accepts exactly the upstream consistency probes upstream accepts,
    except the listed cases where we are stricter."""
    args = (
        probe["size1"],
        probe["size2"],
        _b64(probe["root1"]),
        _b64(probe["root2"]),
        _b64_list(probe["proof"]),
    )
    if probe["wantErr"] or probe["file"] in STRICTER:
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_probe_corpus_is_complete() -> None:
    """The transcribed corpus holds both happy paths and many rejections, so the
    parametrized probe tests cannot pass vacuously."""
    for kind in ("inclusion", "consistency"):
        probes = PROBES[kind]
        assert len(probes) > 50
        assert sum(not p["wantErr"] for p in probes) >= 5
    assert {p["file"] for p in PROBES["consistency"]} >= STRICTER


# --- reference cross-checks --------------------------------------------------------


def test_reference_matches_published_roots() -> None:
    """The in-test reference itself reproduces the published roots (it is trustworthy)."""
    ref = RefTree([bytes.fromhex(x) for x in REF_TREE["leaf_inputs"]])
    for size, want in enumerate(REF_TREE["root_hashes"]):
        assert ref.mth(0, size).hex() == want


@PROFILE
@given(n=SIZES, salt=st.binary(max_size=4))
def test_three_roots_agree_with_reference(n: int, salt: bytes) -> None:
    """root_from_leaf_hashes == frontier after appends == root_at(MemoryNodes) == MTH,
    at every intermediate size."""
    entries = entries_for(n, salt)
    ref = RefTree(entries)
    leaves = [leaf_hash(e) for e in entries]
    nodes = MemoryNodes(leaves)
    frontier: tuple[bytes, ...] = ()
    for size in range(n + 1):
        want = ref.mth(0, size)
        assert frontier_root(frontier) == want
        assert root_at(size, nodes) == want
        if size in (0, 1, n // 2, n - 1, n):
            assert root_from_leaf_hashes(leaves[:size]) == want
        if size < n:
            frontier, _ = frontier_append(frontier, size, leaves[size])


@PROFILE
@given(n=SIZES, salt=st.binary(max_size=4))
def test_every_inclusion_proof_matches_reference_and_verifies(n: int, salt: bytes) -> None:
    """For every index, inclusion_proof == RFC PATH and verify_inclusion accepts it."""
    entries = entries_for(n, salt)
    ref = RefTree(entries)
    nodes = MemoryNodes(leaf_hash(e) for e in entries)
    root = ref.mth(0, n)
    for i in range(n):
        proof = inclusion_proof(i, n, nodes)
        assert proof == ref.path(i, 0, n)
        verify_inclusion(leaf_hash(entries[i]), i, n, proof, root)


@PROFILE
@given(n=SIZES, salt=st.binary(max_size=4))
def test_every_consistency_proof_matches_reference_and_verifies(n: int, salt: bytes) -> None:
    """For every old size m in 1..n, consistency_proof == RFC PROOF and it verifies."""
    entries = entries_for(n, salt)
    ref = RefTree(entries)
    nodes = MemoryNodes(leaf_hash(e) for e in entries)
    for m in range(1, n + 1):
        proof = consistency_proof(m, n, nodes)
        assert proof == ref.proof(m, n)
        verify_consistency(m, n, ref.mth(0, m), ref.mth(0, n), proof)


def test_all_small_consistency_pairs() -> None:
    """Exhaustively for n <= 64: every (m, n) proof matches the reference and verifies,
    served from one MemoryNodes built for the largest tree."""
    entries = entries_for(64)
    ref = RefTree(entries)
    nodes = MemoryNodes(leaf_hash(e) for e in entries)
    for n in range(1, 65):
        for m in range(1, n + 1):
            proof = consistency_proof(m, n, nodes)
            assert proof == ref.proof(m, n), (m, n)
            verify_consistency(m, n, ref.mth(0, m), ref.mth(0, n), proof)


@pytest.mark.parametrize("n", [2**k + d for k in (12, 16) for d in (-1, 0, 1)])
def test_large_sizes(n: int) -> None:
    """Around powers of two up to 65537 leaves the roots agree and sampled proofs
    (first, last, middle, boundaries) match the reference and verify."""
    entries = entries_for(n)
    ref = RefTree(entries)
    leaves = [leaf_hash(e) for e in entries]
    nodes = MemoryNodes(leaves)
    nodes.precompute()
    root = root_from_leaf_hashes(leaves)
    assert root == ref.mth(0, n) == root_at(n, nodes)
    frontier: tuple[bytes, ...] = ()
    for i, h in enumerate(leaves):
        frontier, _ = frontier_append(frontier, i, h)
    assert frontier_root(frontier) == root
    for i in sorted({0, 1, n // 2, n - 2, n - 1, 2 ** (n.bit_length() - 1) - 1}):
        proof = inclusion_proof(i, n, nodes)
        assert proof == ref.path(i, 0, n)
        verify_inclusion(leaves[i], i, n, proof, root)
    for m in sorted({1, 2, n // 3, n // 2, n - 1, 2 ** (n.bit_length() - 1)} - {0}):
        if m > n:
            continue
        proof = consistency_proof(m, n, nodes)
        assert proof == ref.proof(m, n)
        verify_consistency(m, n, ref.mth(0, m), root, proof)


# --- mutations must fail --------------------------------------------------------------


@st.composite
def inclusion_case(draw: st.DrawFn) -> tuple[list[bytes], int, int, list[bytes], bytes]:
    n = draw(SIZES)
    i = draw(st.integers(0, n - 1))
    entries = entries_for(n, draw(st.binary(max_size=4)))
    leaves = [leaf_hash(e) for e in entries]
    return leaves, i, n, inclusion_proof(i, n, MemoryNodes(leaves)), root_from_leaf_hashes(leaves)


@settings(deadline=None, max_examples=150)
@given(case=inclusion_case(), data=st.data())
def test_inclusion_mutations_fail(
    case: tuple[list[bytes], int, int, list[bytes], bytes], data: st.DataObject
) -> None:
    """Changing any proof hash, the index, the leaf or the root, or dropping,
    inserting or appending a proof hash, makes verify_inclusion fail; changing the
    size fails exactly when it changes the path's shape (the only thing a verifier
    learns from the size)."""
    leaves, i, n, proof, root = case
    leaf = leaves[i]
    verify_inclusion(leaf, i, n, proof, root)
    mask = data.draw(st.integers(1, 255), label="mask")
    pos = data.draw(st.integers(0, 31), label="pos")
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")

    assert fails(verify_inclusion, flip(leaf, pos, mask), i, n, proof, root)
    assert fails(verify_inclusion, leaf, i, n, proof, flip(root, pos, mask))
    assert fails(verify_inclusion, leaf, i, n, [*proof, extra], root)
    at = data.draw(st.integers(0, len(proof)), label="insert_at")
    assert fails(verify_inclusion, leaf, i, n, [*proof[:at], extra, *proof[at:]], root)
    if proof:
        j = data.draw(st.integers(0, len(proof) - 1), label="j")
        mutated = list(proof)
        mutated[j] = flip(mutated[j], pos, mask)
        assert fails(verify_inclusion, leaf, i, n, mutated, root)
        assert fails(verify_inclusion, leaf, i, n, proof[:j] + proof[j + 1 :], root)
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda x: x != i), label="index")
        assert fails(verify_inclusion, leaf, other, n, proof, root)
    size = data.draw(st.integers(i + 1, 2 * n + 2).filter(lambda s: s != n), label="size")
    same_shape = inclusion_shape(i, size) == inclusion_shape(i, n)
    assert fails(verify_inclusion, leaf, i, size, proof, root) != same_shape


def test_inclusion_size_is_bound_only_through_shape() -> None:
    """Documents why the size property above is an iff: leaf 0's path in trees of
    size 5 and 6 has the same shape, so a size-5 proof also 'verifies' at size 6
    against the size-5 root; the (size, root) pair must come from one checkpoint."""
    leaves = [leaf_hash(e) for e in entries_for(5)]
    proof = inclusion_proof(0, 5, MemoryNodes(leaves))
    verify_inclusion(leaves[0], 0, 6, proof, root_from_leaf_hashes(leaves))
    assert inclusion_shape(0, 5) == inclusion_shape(0, 6)


@st.composite
def consistency_case(draw: st.DrawFn) -> tuple[int, int, bytes, bytes, list[bytes]]:
    n = draw(SIZES.filter(lambda x: x > 1))
    m = draw(st.integers(1, n - 1))
    leaves = [leaf_hash(e) for e in entries_for(n, draw(st.binary(max_size=4)))]
    proof = consistency_proof(m, n, MemoryNodes(leaves))
    return m, n, root_from_leaf_hashes(leaves[:m]), root_from_leaf_hashes(leaves), proof


@settings(deadline=None, max_examples=150)
@given(case=consistency_case(), data=st.data())
def test_consistency_mutations_fail(
    case: tuple[int, int, bytes, bytes, list[bytes]], data: st.DataObject
) -> None:
    """Changing any proof hash or either root, swapping the roots, or dropping,
    inserting or appending a proof hash, makes verify_consistency fail; changing a
    size fails exactly when it changes the proof's shape."""
    m, n, r1, r2, proof = case
    verify_consistency(m, n, r1, r2, proof)
    mask = data.draw(st.integers(1, 255), label="mask")
    pos = data.draw(st.integers(0, 31), label="pos")
    extra = data.draw(st.binary(min_size=32, max_size=32), label="extra")

    assert fails(verify_consistency, m, n, flip(r1, pos, mask), r2, proof)
    assert fails(verify_consistency, m, n, r1, flip(r2, pos, mask), proof)
    assert fails(verify_consistency, m, n, r2, r1, proof)
    assert fails(verify_consistency, m, n, r1, r2, [])
    assert fails(verify_consistency, m, n, r1, r2, [*proof, extra])
    at = data.draw(st.integers(0, len(proof)), label="insert_at")
    assert fails(verify_consistency, m, n, r1, r2, [*proof[:at], extra, *proof[at:]])
    j = data.draw(st.integers(0, len(proof) - 1), label="j")
    mutated = list(proof)
    mutated[j] = flip(mutated[j], pos, mask)
    assert fails(verify_consistency, m, n, r1, r2, mutated)
    assert fails(verify_consistency, m, n, r1, r2, proof[:j] + proof[j + 1 :])

    shape = consistency_shape(m, n)
    m2 = data.draw(st.integers(0, n + 1).filter(lambda x: x != m), label="old_size")
    same = 0 < m2 < n and consistency_shape(m2, n) == shape
    assert fails(verify_consistency, m2, n, r1, r2, proof) != same
    n2 = data.draw(st.integers(max(m - 1, 0), 2 * n + 2).filter(lambda x: x != n), label="size")
    same = m < n2 and consistency_shape(m, n2) == shape
    assert fails(verify_consistency, m, n2, r1, r2, proof) != same


# --- special cases and argument checks -------------------------------------------------


def test_consistency_from_empty_tree() -> None:
    """Decision: from size 0 the only valid proof is the empty one, the old root
    must be EMPTY_ROOT, and the new root is only length-checked (c2sp.org/tlog-witness:
    'the proof MUST be empty if the old size is zero')."""
    leaves = [leaf_hash(e) for e in entries_for(5)]
    nodes = MemoryNodes(leaves)
    root = root_from_leaf_hashes(leaves)
    assert consistency_proof(0, 5, nodes) == []
    assert consistency_proof(0, 0, nodes) == []
    verify_consistency(0, 5, EMPTY_ROOT, root, [])
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(0, 5, EMPTY_ROOT, root, [root])
    with pytest.raises(ProofError, match="empty-tree root"):
        verify_consistency(0, 5, root, root, [])
    with pytest.raises(ProofError, match="empty-tree root"):
        verify_consistency(0, 0, root, root, [])
    with pytest.raises(ProofError, match="not 32"):
        verify_consistency(0, 5, EMPTY_ROOT, root[:31], [])


def test_equal_sizes() -> None:
    """Equal sizes need an empty proof and equal roots."""
    root = leaf_hash(b"x")
    verify_consistency(3, 3, root, root, [])
    with pytest.raises(ProofError, match="different root hashes"):
        verify_consistency(3, 3, root, EMPTY_ROOT, [])
    with pytest.raises(ProofError, match="must be empty"):
        verify_consistency(3, 3, root, root, [root])


def test_invalid_arguments_raise_proof_error() -> None:
    """Out-of-range sizes and indexes raise ProofError (code 'proof_invalid') with a
    message naming the problem, in generation and verification alike."""
    nodes = MemoryNodes(leaf_hash(e) for e in entries_for(4))
    h = leaf_hash(b"")
    cases: list[tuple[Any, tuple[Any, ...], str]] = [
        (inclusion_proof, (-1, 4, nodes), "leaf index -1 is negative"),
        (inclusion_proof, (4, 4, nodes), "leaf index 4 is not less than tree size 4"),
        (inclusion_proof, (0, 0, nodes), "leaf index 0 is not less than tree size 0"),
        (consistency_proof, (3, 2, nodes), "old tree size 3 is larger than new tree size 2"),
        (consistency_proof, (-1, 2, nodes), "old tree size -1 is negative"),
        (root_at, (-1, nodes), "tree size -1 is negative"),
        (perfect_subtrees, (3, 2), "range end 2 is before range start 3"),
        (perfect_subtrees, (-2, 2), "range start -2 is negative"),
        (verify_inclusion, (h, 5, 5, [], h), "leaf index 5 is not less than tree size 5"),
        (verify_inclusion, (h, -1, 5, [], h), "leaf index -1 is negative"),
        (verify_inclusion, (h, 0, -1, [], h), "tree size -1 is negative"),
        (consistency_proof, (0, -1, nodes), "new tree size -1 is negative"),
        (frontier_append, ((), -1, h), "tree size -1 is negative"),
        (verify_inclusion, (h[:5], 0, 1, [], h), "leaf hash is 5 bytes, not 32"),
        (verify_inclusion, (h, 0, 1, [], h + b"x"), "root hash is 33 bytes, not 32"),
        (verify_inclusion, (h, 0, 2, [b""], h), "proof hash 0 is 0 bytes, not 32"),
        (verify_consistency, (5, 4, h, h, []), "old tree size 5 is larger than new tree size 4"),
        (verify_consistency, (-1, 4, h, h, []), "old tree size -1 is negative"),
        (verify_consistency, (1, 2, h, h, [h[:3]]), "proof hash 0 is 3 bytes, not 32"),
        (verify_consistency, (1, 2, h[:4], h, [h]), "old root hash is 4 bytes, not 32"),
        (verify_consistency, (1, 2, h, h[:4], [h]), "new root hash is 4 bytes, not 32"),
        (frontier_append, ((), 1, h), "frontier has 0 hashes, but a tree of size 1"),
        (frontier_append, ((h,), 1, h[:1]), "leaf hash is 1 bytes, not 32"),
        (frontier_root, ((h, b""),), "frontier hash 1 is 0 bytes"),
        (root_from_leaf_hashes, ([h, h[:7]],), "leaf hash 1 is 7 bytes, not 32"),
        (MemoryNodes, ([h, b"short"],), "leaf hash 1 is 5 bytes, not 32"),
    ]
    for fn, args, message in cases:
        with pytest.raises(ProofError, match=message) as info:
            fn(*args)
        assert info.value.code == "proof_invalid"
        # The message starts with the problem itself, not with some other check's words.
        assert str(info.value).startswith(message), (fn.__name__, str(info.value))
    # Callers that catch ValueError for bad arguments keep catching proof errors.
    assert issubclass(ProofError, ValueError)


def test_wrong_length_messages_say_what_is_needed() -> None:
    """A proof of the wrong length is reported with the expected length."""
    leaves = [leaf_hash(e) for e in entries_for(8)]
    nodes = MemoryNodes(leaves)
    root = root_from_leaf_hashes(leaves)
    proof = inclusion_proof(3, 8, nodes)
    with pytest.raises(
        ProofError, match="inclusion proof has 2 hashes, but leaf 3 in a tree of size 8 needs 3"
    ):
        verify_inclusion(leaves[3], 3, 8, proof[:2], root)
    with pytest.raises(ProofError, match=r"has 4 hashes.*needs 3"):
        verify_inclusion(leaves[3], 3, 8, [*proof, root], root)
    cproof = consistency_proof(3, 8, nodes)
    r3 = root_from_leaf_hashes(leaves[:3])
    with pytest.raises(
        ProofError, match=f"consistency proof has 0 hashes, but sizes 3 -> 8 need {len(cproof)}"
    ):
        verify_consistency(3, 8, r3, root, [])
    with pytest.raises(ProofError, match=rf"has {len(cproof) + 1} hashes.*need {len(cproof)}"):
        verify_consistency(3, 8, r3, root, [*cproof, root])
    with pytest.raises(ProofError, match="gives new root"):
        verify_consistency(3, 8, r3, EMPTY_ROOT, cproof)
    with pytest.raises(ProofError, match="gives old root"):
        verify_consistency(3, 8, EMPTY_ROOT, root, cproof)
    with pytest.raises(ProofError, match="gives root"):
        verify_inclusion(leaves[2], 3, 8, proof, root)


# --- structure: frontier, perfect subtrees, batched reads -----------------------------


@PROFILE
@given(n=st.integers(0, 300))
def test_frontier_append_reports_every_completed_node_once(n: int) -> None:
    """Across n appends, frontier_append reports each perfect subtree of the final
    tree exactly once, with the right hash, the leaf first, as soon as it is complete."""
    leaves = [leaf_hash(e) for e in entries_for(n)]
    nodes = MemoryNodes(leaves)
    frontier: tuple[bytes, ...] = ()
    seen: list[NodeId] = []
    for size, h in enumerate(leaves):
        frontier, completed = frontier_append(frontier, size, h)
        assert completed[0] == ((0, size), h)
        for node, value in completed:
            level, index = node
            assert (index + 1) << level == size + 1  # completed by this very leaf
            assert nodes.node(node) == value
        seen.extend(node for node, _ in completed)
        assert len(frontier) == (size + 1).bit_count()
    everything = {(lv, ix) for lv in range(n.bit_length() + 1) for ix in range(n >> lv)}
    assert len(seen) == len(set(seen)) and set(seen) == everything


@PROFILE
@given(
    size=st.integers(0, 70),
    count=st.integers(0, 40),
    keep=st.frozensets(st.integers(0, 8)),
)
def test_frontier_extend_is_repeated_append_filtered_by_level(
    size: int, count: int, keep: frozenset[int]
) -> None:
    """Extending by many leaves at once (the batch path) leaves the frontier that one append
    after another leaves, and reports exactly their completed nodes at the levels kept."""
    leaves = [leaf_hash(e) for e in entries_for(size + count)]
    frontier: tuple[bytes, ...] = ()
    for i in range(size):
        frontier, _ = frontier_append(frontier, i, leaves[i])
    expected: list[tuple[NodeId, bytes]] = []
    one_by_one = frontier
    for i in range(size, size + count):
        one_by_one, completed = frontier_append(one_by_one, i, leaves[i])
        expected.extend(c for c in completed if c[0][0] in keep)
    stack = list(frontier)
    assert frontier_extend(stack, size, leaves[size:], keep) == expected
    assert tuple(stack) == one_by_one


@PROFILE
@given(start=st.integers(0, 2**20), length=st.integers(0, 2**20))
def test_perfect_subtrees_is_the_minimal_aligned_tiling(start: int, length: int) -> None:
    """perfect_subtrees tiles [start, end) left to right with aligned perfect subtrees,
    and no two neighbours could merge into one (so the tiling is minimal)."""
    end = start + length
    tiles = perfect_subtrees(start, end)
    pos = start
    for level, index in tiles:
        assert index << level == pos  # contiguous and aligned by construction of NodeId
        pos += 1 << level
    assert pos == end
    for (l1, i1), (l2, i2) in itertools.pairwise(tiles):
        assert not (l1 == l2 and i1 % 2 == 0 and i2 == i1 + 1)
    assert len(tiles) <= 2 * max(length, 1).bit_length()


def test_perfect_subtrees_of_a_prefix_is_the_binary_decomposition() -> None:
    """From 0, the tiles are the set bits of the size, largest first."""
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(5, 12) == [(0, 5), (1, 3), (2, 2)]


@pytest.mark.parametrize("n", [1, 2, 3, 7, 8, 9, 100, 1025])
def test_proofs_read_nodes_in_one_batch(n: int) -> None:
    """Each proof and root_at calls get_nodes exactly once with distinct ids (never
    for an empty proof), so a store can answer with a single query."""
    inner = MemoryNodes(leaf_hash(e) for e in entries_for(n))
    for i in range(0, n, max(1, n // 10)):
        reader = CountingReader(inner)
        proof = inclusion_proof(i, n, reader)
        assert len(reader.calls) == (1 if proof else 0)
        for call in reader.calls:
            assert len(call) == len(set(call))
    for m in range(0, n + 1, max(1, n // 10)):
        reader = CountingReader(inner)
        proof = consistency_proof(m, n, reader)
        assert len(reader.calls) == (1 if proof else 0)
    reader = CountingReader(inner)
    root_at(n, reader)
    assert len(reader.calls) == 1


def test_reader_that_omits_a_node_is_reported() -> None:
    """A NodeReader that does not return a requested node gives a LookupError naming
    it, instead of a wrong proof."""

    class Forgetful:
        def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
            return {}

    class Garbled:
        def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
            return dict.fromkeys(ids, b"short")

    with pytest.raises(LookupError, match=r"no hash for node \(0, 1\)"):
        inclusion_proof(0, 2, Forgetful())
    with pytest.raises(LookupError, match="returned 5 bytes"):
        consistency_proof(1, 2, Garbled())


def test_memory_nodes_bounds_append_and_precompute() -> None:
    """MemoryNodes refuses nodes outside the tree, grows by append, and gives the same
    hashes with or without precompute."""
    leaves = [leaf_hash(e) for e in entries_for(10)]
    lazy = MemoryNodes(leaves[:6])
    for h in leaves[6:]:
        lazy.append(h)
    eager = MemoryNodes(leaves)
    eager.precompute()
    assert lazy.size == eager.size == 10
    for level in range(4):
        for index in range(10 >> level):
            assert lazy.node((level, index)) == eager.node((level, index))
    for bad in [(0, 10), (1, 5), (4, 0), (-1, 0), (0, -1)]:
        with pytest.raises(LookupError):
            lazy.node(bad)
    eager.append(leaf_hash(b"more"))
    eager.precompute()
    assert eager.node((0, 10)) == leaf_hash(b"more")
    assert root_at(11, eager) == root_from_leaf_hashes([*leaves, leaf_hash(b"more")])
    with pytest.raises(ProofError, match="leaf hash is 3 bytes"):
        eager.append(b"abc")


@PROFILE
@given(first=st.integers(0, 40), second=st.integers(0, 40), third=st.integers(0, 40))
def test_memory_nodes_precompute_is_incremental(first: int, second: int, third: int) -> None:
    """Precompute, append, precompute again, append without precomputing: every perfect
    subtree still has the hash the RFC's definition gives it."""
    leaves = [leaf_hash(e) for e in entries_for(first + second + third)]
    nodes = MemoryNodes(leaves[:first])
    nodes.precompute()
    for h in leaves[first : first + second]:
        nodes.append(h)
    nodes.precompute()
    for h in leaves[first + second :]:
        nodes.append(h)
    size = len(leaves)
    for level in range(size.bit_length()):
        for index in range(size >> level):
            span = leaves[index << level : (index + 1) << level]
            assert nodes.node((level, index)) == root_from_leaf_hashes(span), (level, index)


def test_precomputed_nodes_are_looked_up_not_recomputed(monkeypatch: pytest.MonkeyPatch) -> None:
    """After precompute every perfect subtree is a lookup: its promise to the proof server."""
    leaves = [leaf_hash(e) for e in entries_for(37)]
    nodes = MemoryNodes(leaves[:20])
    nodes.precompute()
    for h in leaves[20:]:
        nodes.append(h)
    nodes.precompute()
    expected = {
        (level, index): root_from_leaf_hashes(leaves[index << level : (index + 1) << level])
        for level in range(6)
        for index in range(37 >> level)
    }

    def recomputed(_hashes: Sequence[bytes]) -> bytes:
        raise AssertionError("a precomputed node was hashed again")

    monkeypatch.setattr("consent_ledger.merkle.root_from_leaf_hashes", recomputed)
    assert {node: nodes.node(node) for node in expected} == expected
