"""Mutation testing of the pure core: do the tests notice when the code is wrong?

Each mutant is one small change to one module's AST: a flipped comparison (``<`` to
``<=``, ``==`` to ``!=``, ``in`` to ``not in``, ...), a flipped boolean constant, ``and``
swapped with ``or``, a ``not`` removed, an integer constant moved by one, or a statement
inside a function replaced by ``pass``. Docstrings, ``__all__``, imports and type
annotations are never mutated, nor are module- or class-level statements deleted (that
only breaks the import, which proves nothing).

Every mutant runs against that module's own tests, ``pytest -x -q -p no:randomly -m "not
postgres"`` (SQLite only, to stay fast), or rather against those of them that ran the
mutated line in an unmutated, traced baseline run (no other test can notice the change).
It runs in a forked copy of this runner, which has preloaded pytest and its plugins but
never the project, and which loads the mutated module through an import hook: no file of
the working tree is ever rewritten, so other test runs on the same tree are unaffected.
One mutant runs at a time. Hypothesis runs derandomized and without its example database,
so a verdict does not depend on luck and nothing is written to ``.hypothesis``.

A mutant is *killed* when the tests fail, *timed out* when they run past the time limit
(a mutant that loops forever is detected too) and *survived* when they pass. A mutant on
a line the unmutated tests never execute survives without being run (marked "not
covered"). Mutants listed in ``EQUIVALENT`` cannot change behaviour and are left out of
the score:

    score = (killed + timed out) / (mutants - equivalent)

Usage: ``python scripts/mutate.py [MODULE ...]`` (no module: all of ``MODULE_TESTS``),
e.g. ``python scripts/mutate.py consent_ledger/merkle.py``, or ``make mutate
MODULE=consent_ledger/merkle.py``. Exits 1 if a score is below ``--fail-under``.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import CodeType, FrameType, ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

_POLICY_TESTS = (
    "tests/policies/test_engine.py",
    "tests/policies/test_examples.py",
    "tests/policies/test_properties.py",
)
# Each module's own tests: the fast, in-process ones that exercise it directly.
MODULE_TESTS: dict[str, tuple[str, ...]] = {
    "consent_ledger/merkle.py": ("tests/consent_ledger/test_merkle.py",),
    "consent_ledger/encoding.py": (
        "tests/consent_ledger/test_encoding.py",
        "tests/consent_ledger/test_canonical.py",
    ),
    "consent_ledger/verify.py": ("tests/consent_ledger/test_verify.py",),
    "consent_ledger/consent.py": ("tests/consent_ledger/test_consent.py",),
    "policies/engine.py": _POLICY_TESTS,
    "policies/compiled.py": (*_POLICY_TESTS, "tests/policies/test_compiled.py"),
}

PYTEST_ARGS = (
    *("-x", "-q", "-p", "no:randomly", "-p", "no:cacheprovider", "-m", "not postgres"),
    # Plugins preloaded before pytest starts cannot have their asserts rewritten; harmless.
    *("-W", "ignore::pytest.PytestAssertRewriteWarning"),
)

# Mutants that cannot change behaviour, by (module, function, mutation, source line): one
# line each on why. Only true equivalents belong here, never "hard to test".
EQUIVALENT: dict[tuple[str, str, str, str], str] = {
    (
        "consent_ledger/merkle.py",
        "root_from_leaf_hashes",
        "0 -> -1",
        "return bytes(level[0])",
    ): "the loop ends with exactly one node, so level[-1] is level[0]",
    (
        "consent_ledger/merkle.py",
        "<module>",
        "64 -> 65",
        "_EVERY_LEVEL = range(64)",
    ): "no tree of 2**63 leaves or more is ever appended to, so levels 63 and 64 are never reached",
    (
        "consent_ledger/merkle.py",
        "<module>",
        "64 -> 63",
        "_EVERY_LEVEL = range(64)",
    ): "no tree of 2**63 leaves or more is ever appended to, so levels 63 and 64 are never reached",
    (
        "consent_ledger/merkle.py",
        "perfect_subtrees",
        "1 -> 0",
        "level = (start & -start).bit_length() - 1 if start else (end - start).bit_length() - 1",
    ): "a level one too high is shrunk by the loop just below",
    (
        "consent_ledger/merkle.py",
        "root_at",
        "0 -> -1",
        "return _fold([perfect_subtrees(0, size)], reader)[0]",
    ): "_fold of one group returns a list of one root",
    (
        "consent_ledger/merkle.py",
        "verify_inclusion",
        "1 -> 0",
        "if not fn & 1:",
    ): "the while loop just below tests `not fn & 1` itself, so the guard only saves a test",
    (
        "consent_ledger/merkle.py",
        "verify_inclusion",
        "0 -> 1",
        "while not fn & 1 and fn != 0:",
    ): "fn is even and non-zero here, so shifting stops at an odd fn first",
    (
        "consent_ledger/merkle.py",
        "verify_inclusion",
        "0 -> -1",
        "while not fn & 1 and fn != 0:",
    ): "fn is even and non-zero here, so shifting stops at an odd fn first",
    (
        "consent_ledger/merkle.py",
        "verify_consistency",
        "1 -> 0",
        "if not fn & 1:",
    ): "the while loop just below tests `not fn & 1` itself, so the guard only saves a test",
    (
        "consent_ledger/merkle.py",
        "verify_consistency",
        "0 -> 1",
        "while not fn & 1 and fn != 0:",
    ): "fn is even and non-zero here, so shifting stops at an odd fn first",
    (
        "consent_ledger/merkle.py",
        "verify_consistency",
        "0 -> -1",
        "while not fn & 1 and fn != 0:",
    ): "fn is even and non-zero here, so shifting stops at an odd fn first",
    (
        "consent_ledger/consent.py",
        "change_level",
        "`>` -> `>=`",
        "event = ConsentEvent.UPGRADED if level > active.level else ConsentEvent.DOWNGRADED",
    ): "equal levels were refused as a conflict just above, so > and >= agree here",
    (
        "consent_ledger/verify.py",
        "<module>",
        "16 -> 17",
        "CHUNK_LEVEL = 16",
    ): "any power-of-two chunk gives the same verdicts (edges are tested with CHUNK = 16)",
    (
        "consent_ledger/verify.py",
        "<module>",
        "16 -> 15",
        "CHUNK_LEVEL = 16",
    ): "any power-of-two chunk gives the same verdicts (edges are tested with CHUNK = 16)",
    (
        "consent_ledger/verify.py",
        "<module>",
        "1 -> 2",
        "CHUNK = 1 << CHUNK_LEVEL",
    ): "2 << 16 is another power-of-two chunk: same verdicts",
    (
        "consent_ledger/verify.py",
        "<module>",
        "4 -> 5",
        "PARALLEL_FROM = 4 * CHUNK",
    ): "the threshold for worker processes only changes speed",
    (
        "consent_ledger/verify.py",
        "<module>",
        "4 -> 3",
        "PARALLEL_FROM = 4 * CHUNK",
    ): "the threshold for worker processes only changes speed",
    (
        "consent_ledger/verify.py",
        "<module>",
        "10000 -> 10001",
        "_FETCH = 10_000",
    ): "the fetch batch size only changes speed (edges tested with _FETCH = 5)",
    (
        "consent_ledger/verify.py",
        "<module>",
        "10000 -> 9999",
        "_FETCH = 10_000",
    ): "the fetch batch size only changes speed (edges tested with _FETCH = 5)",
    (
        "consent_ledger/verify.py",
        "_check_chunk",
        "`is` -> `is not`",
        "raws = [leaf if type(leaf) is bytes else bytes(leaf) for _, leaf in rows]",
    ): "bytes(b) of a bytes value is an equal copy",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "`and` -> `or`",
        "if workers > 1 and size >= PARALLEL_FROM:",
    ): "worker processes and one pass give the same verdicts (tested both ways)",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "`>` -> `>=`",
        "if workers > 1 and size >= PARALLEL_FROM:",
    ): "worker processes and one pass give the same verdicts (tested both ways)",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "1 -> 2",
        "if workers > 1 and size >= PARALLEL_FROM:",
    ): "worker processes and one pass give the same verdicts (tested both ways)",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "1 -> 0",
        "if workers > 1 and size >= PARALLEL_FROM:",
    ): "worker processes and one pass give the same verdicts (tested both ways)",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "`>=` -> `>`",
        "if workers > 1 and size >= PARALLEL_FROM:",
    ): "worker processes and one pass give the same verdicts (tested both ways)",
    (
        "consent_ledger/verify.py",
        "_log_size",
        "0 -> 1",
        "size = 0 if top is None else int(top) + 1",
    ): "an empty log scanned as size 1 finds no row: the count of rows found is the size",
    (
        "consent_ledger/verify.py",
        "_log_size",
        "0 -> -1",
        "size = 0 if top is None else int(top) + 1",
    ): "max(-1, 0) is 0",
    (
        "consent_ledger/verify.py",
        "_log_size",
        "1 -> 2",
        "size = 0 if top is None else int(top) + 1",
    ): "scanning one index past the end finds no row there, in a chunk that is last",
    (
        "consent_ledger/verify.py",
        "_check_older",
        "statement replaced by `pass`",
        "if checkpoint.size == 0:",
    ): "the proof from size 0 is empty and always verifies: the early return saves work",
    (
        "consent_ledger/verify.py",
        "_check_older",
        "0 -> -1",
        "if checkpoint.size == 0:",
    ): "no checkpoint has size -1; size 0 then takes the always-valid empty proof",
    (
        "consent_ledger/encoding.py",
        "_linked_run_reference",
        "`<` -> `<=`",
        "prev = hashes[i] if i + 1 < len(raws) else prev",
    ): "it only changes prev after the last entry, where prev is never read again",
    (
        "consent_ledger/encoding.py",
        "_linked_run_reference",
        "1 -> 0",
        "prev = hashes[i] if i + 1 < len(raws) else prev",
    ): "it only changes prev after the last entry, where prev is never read again",
    (
        "policies/compiled.py",
        "Template",
        "slots=True -> False",
        "@dataclass(frozen=True, slots=True)",
    ): "slots only saves memory: a frozen dataclass refuses new attributes either way",
    (
        "policies/compiled.py",
        "ForbidEntry",
        "slots=True -> False",
        "@dataclass(frozen=True, slots=True)",
    ): "slots only saves memory: a frozen dataclass refuses new attributes either way",
    (
        "policies/compiled.py",
        "ProofEntry",
        "slots=True -> False",
        "@dataclass(frozen=True, slots=True)",
    ): "slots only saves memory: a frozen dataclass refuses new attributes either way",
    (
        "policies/compiled.py",
        "Cell",
        "slots=True -> False",
        "@dataclass(frozen=True, slots=True)",
    ): "slots only saves memory: a frozen dataclass refuses new attributes either way",
    (
        "consent_ledger/verify.py",
        "_Chunk",
        "frozen=True -> False",
        "@dataclass(frozen=True)",
    ): "an internal record, never assigned to or hashed",
    (
        "consent_ledger/verify.py",
        "VerificationFailed.__init__",
        "statement replaced by `pass`",
        "super().__init__(str(problem))",
    ): "BaseException.__new__ keeps the argument: str() of the error is the same",
    (
        "consent_ledger/verify.py",
        "_tables",
        "0 -> -1",
        "return {str(r[0]) for r in cur.fetchall()}",
    ): "one-column rows: r[-1] is r[0]",
    (
        "consent_ledger/verify.py",
        "stored_verifier_key",
        "0 -> -1",
        "return None if row is None else str(row[0])",
    ): "one-column rows: row[-1] is row[0]",
    (
        "consent_ledger/verify.py",
        "_Tree.__init__",
        "default=0 -> 1",
        "depth = max((len(c.levels) for c in chunks), default=0)",
    ): "with no chunks the tree is empty and root(0) reads no level",
    (
        "consent_ledger/verify.py",
        "_Tree.__init__",
        "default=0 -> -1",
        "depth = max((len(c.levels) for c in chunks), default=0)",
    ): "range(-1) and range(0) are both empty",
    (
        "consent_ledger/verify.py",
        "_check_older",
        "statement replaced by `pass`",
        "return",
    ): "the proof from size 0 is empty and always verifies: the early return saves work",
    (
        "consent_ledger/verify.py",
        "verify_ledger",
        "1 -> 2",
        "tree, size = _check_entries(url, size, workers or os.cpu_count() or 1)",
    ): "the worker count (used only if cpu_count() is None) only changes speed",
    (
        "consent_ledger/verify.py",
        "verify_ledger",
        "1 -> 0",
        "tree, size = _check_entries(url, size, workers or os.cpu_count() or 1)",
    ): "the worker count (used only if cpu_count() is None) only changes speed",
    (
        "consent_ledger/verify.py",
        "_check_entries",
        "strict=True -> False",
        "chunks = list(pool.map(_check_chunk, [url] * len(ranges), *zip(*ranges, strict=True)))",
    ): "every range is a pair, so the inputs to zip always have equal lengths",
    (
        "consent_ledger/verify.py",
        "_Tree.__init__",
        "1 -> 2",
        "top = _levels([levels[-1][i : i + _H] for i in range(0, len(levels[-1]), _H)])",
    ): "extra empty slices only add hashes after the real ones, where no subtree is read",
    (
        "consent_ledger/verify.py",
        "_Tree.__init__",
        "1 -> 0",
        "top = _levels([levels[-1][i : i + _H] for i in range(0, len(levels[-1]), _H)])",
    ): "extra empty slices only add hashes after the real ones, where no subtree is read",
    (
        "consent_ledger/encoding.py",
        "_plain_reference",
        "statement replaced by `pass`",
        "if tv is str or v is None or tv is bool:",
    ): "a fast path for scalars: the recursive call below gives the same answer",
    (
        "consent_ledger/encoding.py",
        "_plain_reference",
        "`or` -> `and`",
        "if tv is str or v is None or tv is bool:",
    ): "a fast path for scalars: the recursive call below gives the same answer",
    (
        "consent_ledger/encoding.py",
        "_plain_reference",
        "statement replaced by `pass`",
        "continue",
    ): "a fast path for scalars: the recursive call below gives the same answer",
    (
        "consent_ledger/encoding.py",
        "_plain_reference",
        "statement replaced by `pass`",
        "if tv is int:",
    ): "a fast path for scalars: the recursive call below gives the same answer",
    (
        "consent_ledger/encoding.py",
        "check_value",
        "statement replaced by `pass`",
        "if _plain(value):",
    ): "a fast path: _explain finds nothing wrong in a plain value either",
    (
        "consent_ledger/encoding.py",
        "check_value",
        "statement replaced by `pass`",
        "return",
    ): "a fast path: _explain finds nothing wrong in a plain value either",
    (
        "consent_ledger/encoding.py",
        "_header_problem",
        "statement replaced by `pass`",
        "return None",
    ): "a function that falls off its end returns None too",
    (
        "consent_ledger/encoding.py",
        "_decode",
        "0 -> -1",
        'raise EncodingError(f"not a ledger entry: no field {exc.args[0]!r}") from exc',
    ): "a KeyError has one argument: args[-1] is args[0]",
    (
        "policies/engine.py",
        "<module>",
        "0 -> -1",
        "_RANK = {code: 0 for code in FORBID_CODES} | {",
    ): "only the order of the ranks matters, and it is unchanged",
    (
        "policies/engine.py",
        "<module>",
        "1 -> 2",
        "ReasonCode.NOT_APPLICABLE: 1,",
    ): "without a permit no category reaches the consent (rank 2)",
    (
        "policies/engine.py",
        "<module>",
        "3 -> 4",
        "ReasonCode.PROOF_REQUIRED: 3,",
    ): "only the order of the ranks matters, and it is unchanged",
    (
        "policies/engine.py",
        "decide",
        "0 -> -1",
        "cell = cells.get(categories[0])",
    ): "a request for one category: its first is its last",
    (
        "policies/engine.py",
        "decide",
        "0 -> -1",
        "raise _unknown_category(policy, categories[0])",
    ): "a request for one category: its first is its last",
    (
        "policies/engine.py",
        "_decide_one",
        "statement replaced by `pass`",
        "if cell.static is not None:",
    ): "a prebuilt answer: the checks below reach the same decision",
    (
        "policies/engine.py",
        "_decide_one",
        "statement replaced by `pass`",
        "return cell.static",
    ): "a prebuilt answer: the checks below reach the same decision",
    (
        "policies/engine.py",
        "consent_summary",
        "maxsize=4096 -> 4097",
        "@lru_cache(maxsize=4096)",
    ): "the cache size only changes speed",
    (
        "policies/engine.py",
        "consent_summary",
        "maxsize=4096 -> 4095",
        "@lru_cache(maxsize=4096)",
    ): "the cache size only changes speed",
    (
        "policies/engine.py",
        "_decide_many",
        "0 -> -1",
        "details: tuple[CategoryDecision, ...] = tuple(d.details[0] for d in each)",
    ): "each one-category decision has exactly one detail",
    (
        "policies/engine.py",
        "_decide_many",
        "0 -> -1",
        'text = f"{first.details[0].category} is refused: {text}"',
    ): "each one-category decision has exactly one detail",
    (
        "policies/engine.py",
        "_decide_many",
        "0 -> 1",
        "lead = picked[0]",
    ): "all cells of a request share department, purpose and permit",
    (
        "policies/engine.py",
        "_decide_many",
        "0 -> -1",
        "lead = picked[0]",
    ): "all cells of a request share department, purpose and permit",
}


# -- mutants ------------------------------------------------------------------------------

_FLIP_COMPARE: dict[type[ast.cmpop], type[ast.cmpop]] = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
}
_SYMBOL: dict[type[ast.AST], str] = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.And: "and",
    ast.Or: "or",
}
_DELETABLE = (
    ast.Assign,
    ast.AugAssign,
    ast.AnnAssign,
    ast.Expr,
    ast.Return,
    ast.Raise,
    ast.If,
    ast.For,
    ast.While,
    ast.With,
    ast.Try,
    ast.Assert,
    ast.Delete,
    ast.Continue,
    ast.Break,
)
# Fields holding type annotations: never mutated.
_ANNOTATION_FIELDS = frozenset({"annotation", "returns", "type_comment"})


@dataclass
class Site:
    """One possible mutation of a freshly parsed tree."""

    line: int
    col: int
    qualname: str
    description: str
    apply: Callable[[], None] = field(repr=False)


def _is_docstring(stmt: ast.stmt) -> bool:
    return (
        isinstance(stmt, ast.Expr)
        and isinstance(stmt.value, ast.Constant)
        and isinstance(stmt.value.value, str)
    )


def _is_all(stmt: ast.stmt) -> bool:
    targets = stmt.targets if isinstance(stmt, ast.Assign) else []
    return any(isinstance(t, ast.Name) and t.id == "__all__" for t in targets)


def _is_type_checking(stmt: ast.stmt) -> bool:
    return isinstance(stmt, ast.If) and "TYPE_CHECKING" in ast.unparse(stmt.test)


class _Collector:
    """Finds every mutation site of a tree, in a fixed order (so mutant k is reproducible)."""

    def __init__(self) -> None:
        self.sites: list[Site] = []
        self.qual: list[str] = []
        self.keyword: str | None = None  # set while visiting a keyword argument's value

    def _add(self, node: ast.AST, description: str, apply: Callable[[], None]) -> None:
        self.sites.append(
            Site(
                getattr(node, "lineno", 0),
                getattr(node, "col_offset", 0),
                ".".join(self.qual) or "<module>",
                description,
                apply,
            )
        )

    def body(self, stmts: list[ast.stmt], deletable: bool) -> None:
        for i, stmt in enumerate(stmts):
            if i == 0 and _is_docstring(stmt):
                continue
            if isinstance(stmt, ast.Import | ast.ImportFrom) or _is_all(stmt):
                continue
            if _is_type_checking(stmt):
                continue
            if deletable and isinstance(stmt, _DELETABLE):
                self._add(stmt, "statement replaced by `pass`", _replacer(stmts, i))
            self.stmt(stmt, deletable)

    def stmt(self, stmt: ast.stmt, deletable: bool) -> None:
        if isinstance(stmt, ast.FunctionDef | ast.AsyncFunctionDef):
            # Decorators and defaults are named after what they belong to.
            self.qual.append(stmt.name)
            for dec in stmt.decorator_list:
                self.expr(dec)
            for default in [*stmt.args.defaults, *stmt.args.kw_defaults]:
                if default is not None:
                    self.expr(default)
            self.body(stmt.body, deletable=True)
            self.qual.pop()
            return
        if isinstance(stmt, ast.ClassDef):
            self.qual.append(stmt.name)
            for dec in stmt.decorator_list:
                self.expr(dec)
            self.body(stmt.body, deletable=False)
            self.qual.pop()
            return
        if isinstance(stmt, ast.AnnAssign):
            # Dataclass fields and annotated names: only the value can be mutated.
            if stmt.value is not None:
                self.expr(stmt.value)
            return
        for name, value in ast.iter_fields(stmt):
            if name in _ANNOTATION_FIELDS:
                continue
            if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                self.body(value, deletable)
            elif isinstance(value, list):
                for item in value:
                    self._node(item, deletable)
            else:
                self._node(value, deletable)

    def _node(self, node: Any, deletable: bool) -> None:
        if isinstance(node, ast.expr):
            self.expr(node)
        elif isinstance(node, ast.excepthandler | ast.match_case):
            for _name, value in ast.iter_fields(node):
                if isinstance(value, list) and value and isinstance(value[0], ast.stmt):
                    self.body(value, deletable)
                elif isinstance(value, ast.expr):
                    self.expr(value)
        elif isinstance(node, ast.withitem):
            self.expr(node.context_expr)
        elif isinstance(node, ast.comprehension):
            self.expr(node.iter)
            for cond in node.ifs:
                self.expr(cond)
        elif isinstance(node, ast.keyword):
            self.keyword = node.arg
            self.expr(node.value)
        elif isinstance(node, ast.arguments):
            pass  # lambda parameters: annotations and defaults of no interest here

    def expr(self, node: ast.expr) -> None:
        # `frozen=True` and `slots=True` on one line must be told apart by name.
        named = "" if self.keyword is None else f"{self.keyword}="
        self.keyword = None
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                new = _FLIP_COMPARE[type(op)]
                self._add(
                    node,
                    f"`{_SYMBOL[type(op)]}` -> `{_SYMBOL[new]}`",
                    _set_item(node.ops, i, new()),
                )
        elif isinstance(node, ast.BoolOp):
            new_op: ast.boolop = ast.Or() if isinstance(node.op, ast.And) else ast.And()
            self._add(
                node,
                f"`{_SYMBOL[type(node.op)]}` -> `{_SYMBOL[type(new_op)]}`",
                _set_attr(node, "op", new_op),
            )
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            self._add(node, "`not` removed", _drop_not(node))
        elif isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, bool):
                self._add(
                    node, f"{named}{value} -> {not value}", _set_attr(node, "value", not value)
                )
            elif isinstance(value, int):
                for moved in (value + 1, value - 1):
                    self._add(node, f"{named}{value} -> {moved}", _set_attr(node, "value", moved))
            return
        for name, value in ast.iter_fields(node):
            if name in _ANNOTATION_FIELDS:
                continue
            items = value if isinstance(value, list) else [value]
            for item in items:
                self._node(item, deletable=False)


def _replacer(stmts: list[ast.stmt], i: int) -> Callable[[], None]:
    def apply() -> None:
        stmts[i] = ast.copy_location(ast.Pass(), stmts[i])

    return apply


def _set_item(items: list[Any], i: int, value: Any) -> Callable[[], None]:
    def apply() -> None:
        items[i] = value

    return apply


def _set_attr(node: ast.AST, name: str, value: Any) -> Callable[[], None]:
    def apply() -> None:
        setattr(node, name, value)

    return apply


def _drop_not(node: ast.UnaryOp) -> Callable[[], None]:
    def apply() -> None:
        # `not x` -> `not not x`: the truth value of `x` itself, without touching the parent.
        node.operand = ast.copy_location(ast.UnaryOp(ast.Not(), node.operand), node.operand)

    return apply


def sites(source: str) -> tuple[ast.Module, list[Site]]:
    """A fresh parse of ``source`` and every mutation site in it."""
    tree = ast.parse(source)
    collector = _Collector()
    collector.body(tree.body, deletable=False)
    return tree, collector.sites


def mutant_code(path: Path, k: int) -> CodeType:
    tree, found = sites(path.read_text(encoding="utf-8"))
    found[k].apply()
    ast.fix_missing_locations(tree)
    return compile(tree, str(path), "exec")


def module_name(module: str) -> str:
    return module.removesuffix(".py").replace("/", ".")


_PROJECT = frozenset(
    {
        "api",
        "consent_ledger",
        "custos_client",
        "custos_errors",
        "federated",
        "policies",
        "privacy",
        "scripts",
        "tests",
        "__main__",
        "__mp_main__",
    }
)


# -- the child process: load one mutant, run the tests ------------------------------------


class _MutantLoader(importlib.abc.Loader):
    def __init__(self, code: CodeType) -> None:
        self.code = code

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType | None:
        return None

    def exec_module(self, module: ModuleType) -> None:
        exec(self.code, module.__dict__)  # noqa: S102 - the mutated module's own code


class _MutantFinder(importlib.abc.MetaPathFinder):
    def __init__(self, name: str, path: Path, code: CodeType) -> None:
        self.name, self.path, self.loader = name, path, _MutantLoader(code)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname != self.name:
            return None
        return importlib.util.spec_from_file_location(fullname, self.path, loader=self.loader)


def _quiet_hypothesis() -> None:
    from hypothesis import settings

    settings.register_profile("mutate", database=None, derandomize=True, print_blob=False)
    settings.load_profile("mutate")


_AT_IMPORT = "<import>"  # lines run while modules load: every test depends on them


def _run_child(module: str, k: int, tests: list[str], lines_file: str | None) -> int:
    import pytest

    path = ROOT / module
    _quiet_hypothesis()
    if k >= 0:
        sys.meta_path.insert(0, _MutantFinder(module_name(module), path, mutant_code(path, k)))
    if lines_file is None:
        return int(pytest.main([*PYTEST_ARGS, *tests]))
    # The baseline: which tests run each line of the module (so that a mutant runs only
    # those), and in which order they ran.
    covered: dict[int, set[str]] = {}
    order: list[str] = []
    current = [_AT_IMPORT]
    target = str(path)

    class _Who:
        @pytest.hookimpl(wrapper=True)
        def pytest_runtest_protocol(self, item: pytest.Item) -> Any:
            current[0] = item.nodeid
            order.append(item.nodeid)
            try:
                return (yield)
            finally:
                current[0] = _AT_IMPORT

    def local(frame: FrameType, event: str, arg: object) -> Any:
        if event == "line":
            covered.setdefault(frame.f_lineno, set()).add(current[0])
        return local

    def on_call(frame: FrameType, event: str, arg: object) -> Any:
        if frame.f_code.co_filename == target:
            covered.setdefault(frame.f_lineno, set()).add(current[0])
            return local
        return None

    import threading

    threading.settrace(on_call)
    sys.settrace(on_call)
    try:
        status = int(pytest.main([*PYTEST_ARGS, *tests], plugins=[_Who()]))
    finally:
        sys.settrace(None)
        threading.settrace(None)
    rank = {nodeid: n for n, nodeid in enumerate(order)}
    by_line = {line: sorted(ids, key=lambda i: rank.get(i, -1)) for line, ids in covered.items()}
    # What the run imported from outside the project: the parent imports it once, and each
    # forked mutant run starts with it loaded (pytest's plugins alone take seconds).
    outside = sorted(m for m in sys.modules if m.partition(".")[0] not in _PROJECT)
    Path(lines_file).write_text(
        json.dumps({"lines": by_line, "modules": outside}), encoding="utf-8"
    )
    return status


# -- the parent: run every mutant ---------------------------------------------------------


@dataclass
class Outcome:
    site: Site
    verdict: str  # killed, timeout, survived, uncovered, equivalent
    reason: str = ""


def _baseline(module: str, tests: Sequence[str], lines_file: str) -> tuple[str, float]:
    """The unmutated tests, traced, in a process of their own."""
    argv = [sys.executable, str(Path(__file__).resolve()), "--child", module, "-1"]
    argv += ["--lines", lines_file, "--", *tests]
    started = time.monotonic()
    code = subprocess.run(argv, cwd=ROOT, capture_output=True, check=False).returncode
    return ("survived" if code == 0 else "killed"), time.monotonic() - started


def _preload(names: Sequence[str]) -> None:
    for name in names:
        if name in sys.modules:
            continue
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - a module that cannot be preloaded loads later
            continue


def _forked(module: str, k: int, tests: Sequence[str], timeout: float) -> tuple[str, float]:
    """One mutant, in a forked copy of this process (which has never imported the project)."""
    started = time.monotonic()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        status = 3
        try:
            os.setpgid(0, 0)  # its own process group, so a timeout kills its workers too
            null = os.open(os.devnull, os.O_WRONLY)
            os.dup2(null, 1)
            os.dup2(null, 2)
            status = _run_child(module, k, list(tests), None)
        finally:
            os._exit(status)
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            code = os.waitstatus_to_exitcode(status)
            return ("survived" if code == 0 else "killed"), time.monotonic() - started
        if time.monotonic() - started > timeout:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            return "timeout", time.monotonic() - started
        time.sleep(0.02)


def _line_text(source_lines: list[str], line: int) -> str:
    return source_lines[line - 1].strip() if 0 < line <= len(source_lines) else ""


def mutate_module(module: str, only_lines: set[int] | None, verbose: bool) -> list[Outcome]:
    path = ROOT / module
    source = path.read_text(encoding="utf-8")
    lines = source.splitlines()
    _, found = sites(source)
    tests = list(MODULE_TESTS[module])
    handle, lines_file = tempfile.mkstemp(prefix="mutate-", suffix=".lines")
    os.close(handle)
    try:
        verdict, baseline = _baseline(module, tests, lines_file)
        if verdict != "survived":
            raise SystemExit(f"{module}: the unmutated tests fail; fix them first")
        found_lines = json.loads(Path(lines_file).read_text(encoding="utf-8"))
    finally:
        Path(lines_file).unlink(missing_ok=True)
    covered: dict[int, list[str]] = {int(k): v for k, v in found_lines["lines"].items()}
    _preload(found_lines["modules"])
    # Untraced runs are faster than the traced baseline; 3x it leaves room for a loaded box.
    # MUTATE_TIMEOUT overrides it: a mutant that loops (merkle's split point) is as
    # detected after 30 s as after 130 s.
    timeout = float(os.environ.get("MUTATE_TIMEOUT", "0")) or max(20.0, 3 * baseline + 10)
    print(f"{module}: {len(found)} mutants, tests {' '.join(tests)}", flush=True)
    print(f"  baseline (traced) {baseline:.1f} s; timeout per mutant {timeout:.0f} s", flush=True)
    outcomes: list[Outcome] = []
    for k, site in enumerate(found):
        if only_lines is not None and site.line not in only_lines:
            continue
        key = (module, site.qualname, site.description, _line_text(lines, site.line))
        if key in EQUIVALENT:
            outcomes.append(Outcome(site, "equivalent", EQUIVALENT[key]))
            continue
        if site.line not in covered:
            outcomes.append(Outcome(site, "uncovered"))
            continue
        # Only the tests that ran this line can notice it changed.
        runs = covered[site.line]
        chosen = tests if _AT_IMPORT in runs else runs
        verdict, elapsed = _forked(module, k, chosen, timeout)
        outcomes.append(Outcome(site, verdict))
        if verbose:
            print(
                f"  [{k + 1}/{len(found)}] {verdict:8} {elapsed:5.1f}s "
                f"line {site.line}: {site.description}",
                flush=True,
            )
    _report(module, lines, outcomes)
    keys = {(module, s.qualname, s.description, _line_text(lines, s.line)) for s in found}
    for key in EQUIVALENT:
        if key[0] == module and key not in keys:
            print(f"  stale EQUIVALENT entry, matches no mutant: {key}")
    return outcomes


def score(outcomes: Sequence[Outcome]) -> tuple[int, int, float]:
    counted = [o for o in outcomes if o.verdict != "equivalent"]
    detected = sum(o.verdict in ("killed", "timeout") for o in counted)
    return detected, len(counted), (100.0 * detected / len(counted)) if counted else 100.0


def _report(module: str, lines: list[str], outcomes: Sequence[Outcome]) -> None:
    count = {v: sum(o.verdict == v for o in outcomes) for v in _VERDICTS}
    detected, total, pct = score(outcomes)
    print(
        f"{module}: killed {count['killed']}, timed out {count['timeout']}, survived "
        f"{count['survived']} (+{count['uncovered']} not covered), equivalent "
        f"{count['equivalent']}: score {detected}/{total} = {pct:.1f}%"
    )
    for o in outcomes:
        if o.verdict in ("survived", "uncovered"):
            tag = " (not covered)" if o.verdict == "uncovered" else ""
            print(
                f"  survived{tag}: {module}:{o.site.line}:{o.site.col} in {o.site.qualname}: "
                f"{o.site.description} | {_line_text(lines, o.site.line)}"
            )


_VERDICTS = ("killed", "timeout", "survived", "uncovered", "equivalent")


def _list(module: str) -> Iterator[str]:
    source = (ROOT / module).read_text(encoding="utf-8")
    lines = source.splitlines()
    for k, site in enumerate(sites(source)[1]):
        yield f"{k:4} {module}:{site.line} {site.qualname}: {site.description} | " + _line_text(
            lines, site.line
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["--child"]:
        module, k = args[1], int(args[2])
        lines_file = None
        rest = args[3:]
        if rest[:1] == ["--lines"]:
            lines_file, rest = rest[1], rest[2:]
        return _run_child(module, k, rest[1:], lines_file)
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        epilog='Mutants run with pytest -x -q -p no:randomly -m "not postgres" (SQLite only).',
    )
    parser.add_argument("modules", nargs="*", help=f"default: all of {', '.join(MODULE_TESTS)}")
    parser.add_argument("--list", action="store_true", help="list the mutants, run nothing")
    parser.add_argument("--line", type=int, action="append", help="only mutants on this line")
    parser.add_argument("--quiet", action="store_true", help="no line per mutant")
    parser.add_argument("--fail-under", type=float, default=0.0, help="minimum score, in %%")
    opts = parser.parse_args(args)
    os.chdir(ROOT)
    modules = opts.modules or list(MODULE_TESTS)
    for module in modules:
        if module not in MODULE_TESTS:
            parser.error(f"{module}: no tests mapped; known: {', '.join(MODULE_TESTS)}")
    if opts.list:
        for module in modules:
            print("\n".join(_list(module)))
        return 0
    only = set(opts.line) if opts.line else None
    results = {m: mutate_module(m, only, not opts.quiet) for m in modules}
    print("\nmodule                          killed/total  score")
    failed = False
    for module, outcomes in results.items():
        detected, total, pct = score(outcomes)
        failed |= pct < opts.fail_under
        print(f"{module:32}{detected:>6}/{total:<6}{pct:6.1f}%")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
