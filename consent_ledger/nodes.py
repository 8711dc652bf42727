"""Where Merkle subtree hashes live in the database, and how proofs read them.

Leaf hashes are recomputed from ``ledger_entries.leaf``. Of the internal perfect subtrees only those
at levels 4, 8, 12, ... are stored (``ledger_nodes``), about one row per 15 entries instead
of one per entry, which keeps batched appends close to raw insert speed. Any other subtree
is folded from at most 8 stored children, so a proof still costs two indexed queries.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from consent_ledger.db import Tx
from consent_ledger.errors import LedgerCorrupt
from consent_ledger.merkle import NodeId, leaf_hash, root_from_leaf_hashes

__all__ = ["STORED_LEVELS", "STRIDE", "SqlNodeReader", "is_stored", "node_key"]

STRIDE = 4
_LEVEL_SHIFT = 50  # 2**50 subtrees per level is far beyond any ledger's size


def is_stored(level: int) -> bool:
    return level > 0 and level % STRIDE == 0


# The same, as a set the append path can test membership in without a call.
STORED_LEVELS = frozenset(level for level in range(64) if is_stored(level))


def node_key(level: int, index: int) -> int:
    return (level << _LEVEL_SHIFT) | index


def _children(node: NodeId) -> list[NodeId]:
    """The stored (or leaf) subtrees that a node is folded from: itself if it is stored."""
    level, index = node
    if level == 0 or is_stored(level):
        return [node]
    base = level - level % STRIDE
    width = 1 << (level - base)
    return [(base, index * width + i) for i in range(width)]


class SqlNodeReader:
    """Serves proof generation from one open transaction."""

    def __init__(self, tx: Tx) -> None:
        self._tx = tx

    def get_nodes(self, ids: Sequence[NodeId]) -> Mapping[NodeId, bytes]:
        plan = {node: _children(node) for node in ids}
        needed = {child for children in plan.values() for child in children}
        found = self._fetch(needed)
        result: dict[NodeId, bytes] = {}
        for node, children in plan.items():
            try:
                # A perfect subtree's children fold exactly as a tree of their own.
                result[node] = root_from_leaf_hashes([found[c] for c in children])
            except KeyError as exc:
                raise LedgerCorrupt(f"Merkle node {exc.args[0]} is missing from storage") from exc
        return result

    def _fetch(self, needed: Iterable[NodeId]) -> dict[NodeId, bytes]:
        leaves = sorted(i for lv, i in needed if lv == 0)
        inner = sorted(node_key(lv, i) for lv, i in needed if lv > 0)
        found: dict[NodeId, bytes] = {}
        if leaves:
            where, params = self._tx.in_list("idx", leaves)
            sql = f"SELECT idx, leaf FROM ledger_entries WHERE {where}"  # noqa: S608 - placeholders only
            for idx, leaf in self._tx.all(sql, params):
                found[(0, idx)] = leaf_hash(bytes(leaf))
        if inner:
            where, params = self._tx.in_list("nid", inner)
            sql = f"SELECT nid, hash FROM ledger_nodes WHERE {where}"  # noqa: S608 - placeholders only
            for nid, h in self._tx.all(sql, params):
                found[(nid >> _LEVEL_SHIFT, nid & ((1 << _LEVEL_SHIFT) - 1))] = bytes(h)
        return found
