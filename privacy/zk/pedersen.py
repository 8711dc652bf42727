"""Pedersen commitments C = v·G + r·H on BLS12-381 G1.

G is the standard generator. H is RFC 9380 ``hash_to_G1(H_MESSAGE, DST)``
(BLS12381G1_XMD:SHA-256_SSWU_RO_): a random-oracle output, so nobody — the desk included —
knows log_G(H), which is what makes the commitment binding. Anyone can recompute H from the
two published byte strings; ``generators()`` returns them with the encodings.

Values are integers reduced modulo ORDER (a date of birth before 1970 commits as
ORDER - days); blindings come from ``secrets``.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from functools import cache

from privacy.zk import backend as _backend
from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Fixed, Point

__all__ = [
    "DST",
    "H_MESSAGE",
    "ORDER",
    "Bases",
    "Generators",
    "bases",
    "commit",
    "commit_point",
    "generators",
    "random_scalar",
]

DST = b"CUSTOS-ZK-V01-CS01-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"
H_MESSAGE = b"custos/zk/pedersen/H"


@dataclass(frozen=True, slots=True)
class Generators:
    """The public parameters of the commitment scheme, as 48-byte compressed points."""

    g: bytes
    h: bytes
    dst: bytes
    h_message: bytes


@dataclass(frozen=True, slots=True)
class Bases:
    """G and H as one backend's points, with its fixed-base precomputation."""

    g: Point
    h: Point
    g_fixed: Fixed
    h_fixed: Fixed


@cache
def _bases(name: str) -> Bases:
    b = _backend.get(name)
    g = b.generator()
    h = b.hash_to_g1(H_MESSAGE, DST)
    return Bases(g=g, h=h, g_fixed=b.fixed(g), h_fixed=b.fixed(h))


def bases(b: Backend | None = None) -> Bases:
    return _bases((b or _backend.current()).name)


@cache
def _generators(name: str) -> Generators:
    b = _backend.get(name)
    base = _bases(name)
    return Generators(g=b.encode(base.g), h=b.encode(base.h), dst=DST, h_message=H_MESSAGE)


def generators() -> Generators:
    return _generators(_backend.current().name)


def random_scalar() -> int:
    """Uniform in 1..ORDER-1, from the operating system's CSPRNG."""
    return 1 + secrets.randbelow(ORDER - 1)


def commit_point(value: int, blinding: int, b: Backend | None = None) -> Point:
    b = b or _backend.current()
    base = bases(b)
    return b.add(b.mul_fixed(base.g_fixed, value), b.mul_fixed(base.h_fixed, blinding))


def commit(value: int, blinding: int) -> bytes:
    """The 48-byte commitment to ``value`` under ``blinding``."""
    b = _backend.current()
    return b.encode(commit_point(value, blinding, b))
