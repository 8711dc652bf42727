"""The curve backend: every G1 operation the proofs need, behind one small interface.

Two implementations compute the same group and produce the same bytes: ``py_ecc`` (pure
Python: py_ecc's hash-to-curve and encodings, with this package's integer arithmetic,
fixed-base tables and multi-scalar multiplication) and ``arkworks`` (the compiled
``py_arkworks_bls12381``). ``current()`` picks the one named by ``CUSTOS_ZK_BACKEND``
("arkworks" or "py_ecc"), by default arkworks when it imports; ``use(name)`` switches for
a block (tests, benchmarks).

Points are opaque backend objects; only ``decode`` turns bytes into a point, and it
checks the encoding, the curve equation, the prime-order subgroup and that the point is
not the identity. Scalars are Python ints, reduced modulo the group order by the backend.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from typing import Any, TypeAlias

from privacy.zk.errors import BackendUnavailable

__all__ = ["BACKENDS", "Backend", "Fixed", "Point", "available", "current", "get", "use"]

# A backend's own point object (a Jacobian int triple, or an arkworks G1Point).
Point: TypeAlias = Any
# A backend's precomputation for a fixed base point.
Fixed: TypeAlias = Any

BACKENDS = ("arkworks", "py_ecc")


class Backend(ABC):
    name: str

    @abstractmethod
    def decode(self, data: bytes) -> Point:
        """A point from its 48-byte compressed encoding; raises InvalidEnvelope unless it
        is canonical, on the curve, in the prime-order subgroup and not the identity."""

    @abstractmethod
    def encode(self, p: Point) -> bytes:
        """The 48-byte compressed encoding (ZCash / IETF pairing-friendly-curves format)."""

    def encode_many(self, points: Sequence[Point]) -> list[bytes]:
        return [self.encode(p) for p in points]

    @abstractmethod
    def hash_to_g1(self, message: bytes, dst: bytes) -> Point:
        """RFC 9380 BLS12381G1_XMD:SHA-256_SSWU_RO_ under the given tag."""

    @abstractmethod
    def generator(self) -> Point: ...

    @abstractmethod
    def identity(self) -> Point: ...

    @abstractmethod
    def is_identity(self, p: Point) -> bool: ...

    @abstractmethod
    def add(self, p: Point, o: Point) -> Point: ...

    @abstractmethod
    def neg(self, p: Point) -> Point: ...

    def sub(self, p: Point, o: Point) -> Point:
        return self.add(p, self.neg(o))

    @abstractmethod
    def eq(self, p: Point, o: Point) -> bool: ...

    @abstractmethod
    def mul(self, p: Point, k: int) -> Point: ...

    @abstractmethod
    def msm(self, points: Sequence[Point], scalars: Sequence[int]) -> Point:
        """Σ kᵢ·Pᵢ."""

    @abstractmethod
    def fixed(self, p: Point) -> Fixed:
        """Precomputation for a base that is multiplied often (G, H); cached by the caller."""

    @abstractmethod
    def mul_fixed(self, f: Fixed, k: int) -> Point: ...

    def remember(self, points: Sequence[Point]) -> None:  # noqa: B027 - optional hook
        """Hint that these points recur in ``msm`` (the Bulletproofs vector generators), so
        a backend may keep their precomputation. The default keeps nothing."""

    def pow2_sum(self, points: Sequence[Point]) -> Point:
        """Σ 2^i·Pᵢ by Horner's rule (one doubling and one addition per point), the
        recombination of bit commitments."""
        acc = self.identity()
        for p in reversed(points):
            acc = self.add(self.add(acc, acc), p)
        return acc


@cache
def get(name: str) -> Backend:
    """The backend of that name, built once."""
    if name == "py_ecc":
        from privacy.zk._py_ecc_backend import PyEccBackend

        return PyEccBackend()
    if name == "arkworks":
        try:
            from privacy.zk._arkworks_backend import ArkworksBackend
        except ImportError as exc:
            raise BackendUnavailable("the arkworks backend is not installed") from exc
        return ArkworksBackend()
    raise BackendUnavailable(f"unknown zk backend {name!r} (expected one of {BACKENDS})")


def available() -> tuple[str, ...]:
    """The backends that load here."""
    names = []
    for name in BACKENDS:
        try:
            get(name)
        except BackendUnavailable:
            continue
        names.append(name)
    return tuple(names)


_override: ContextVar[str | None] = ContextVar("custos_zk_backend", default=None)


def current() -> Backend:
    name = _override.get() or os.environ.get("CUSTOS_ZK_BACKEND")
    if name:
        return get(name)
    try:
        return get("arkworks")
    except BackendUnavailable:
        return get("py_ecc")


@contextmanager
def use(name: str) -> Iterator[Backend]:
    """Run a block on the named backend."""
    backend = get(name)
    token = _override.set(name)
    try:
        yield backend
    finally:
        _override.reset(token)
