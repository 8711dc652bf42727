"""Undo py_ecc's import-time change to the interpreter's recursion limit.

``import py_ecc`` raises ``sys.setrecursionlimit`` to 100,000 for the whole process. At that
depth a deeply nested JSON document (a request body or an envelope file of a few hundred
kilobytes of brackets) no longer stops with a RecursionError: the parser overflows the C
stack and the process dies with a segmentation fault (measured: 90,000 nested brackets).
privacy/zk/_curve.py, through which every backend loads py_ecc, puts the limit back to
Python's default as soon as py_ecc is loaded; the curve code recurses a few hundred frames
at most (scalar multiplication halves the scalar once per frame).
"""

from __future__ import annotations

import sys

__all__ = ["PYTHON_DEFAULT_LIMIT", "restore_recursion_limit"]

PYTHON_DEFAULT_LIMIT = 1000


def restore_recursion_limit() -> None:
    if sys.getrecursionlimit() > PYTHON_DEFAULT_LIMIT:
        sys.setrecursionlimit(PYTHON_DEFAULT_LIMIT)
