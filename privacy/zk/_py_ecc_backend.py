"""The pure-Python backend: py_ecc for hashing to the curve and for the point encoding,
privacy.zk._curve for the arithmetic (py_ecc's field objects are several times slower)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from py_ecc.bls.hash_to_curve import hash_to_G1
from py_ecc.bls.point_compression import compress_G1, decompress_G1
from py_ecc.fields import optimized_bls12_381_FQ as FQ
from py_ecc.optimized_bls12_381.optimized_curve import normalize
from py_ecc.typing import Optimized_Point3D

from privacy.zk import _curve as c
from privacy.zk.backend import Backend
from privacy.zk.errors import InvalidEnvelope

__all__ = ["PyEccBackend"]

POINT_BYTES = 48


def _from_py_ecc(p: Optimized_Point3D[FQ]) -> c.Jacobian:
    if p[2] == FQ.zero():
        return c.INF
    x, y = normalize(p)
    return x.n, y.n, 1


def _to_py_ecc(p: c.Jacobian) -> Optimized_Point3D[FQ]:
    if c.is_inf(p):
        return FQ.one(), FQ.one(), FQ.zero()
    x, y = c.to_affine(p)
    return FQ(x), FQ(y), FQ.one()


class PyEccBackend(Backend):
    name = "py_ecc"

    def __init__(self) -> None:
        self._combs: dict[c.Jacobian, c.FixedTable] = {}
        self._odd: dict[c.Jacobian, c.OddTable] = {}

    def decode(self, data: bytes) -> c.Jacobian:
        if len(data) != POINT_BYTES:
            raise InvalidEnvelope(f"a point is {POINT_BYTES} bytes, not {len(data)}")
        try:
            # Checks the compression flag, x < q and that x³ + 4 is a square (on curve).
            p = _from_py_ecc(decompress_G1(int.from_bytes(data, "big")))  # type: ignore[arg-type]
        except ValueError as exc:
            raise InvalidEnvelope("a point is not a canonical encoding of a curve point") from exc
        if c.is_inf(p):
            raise InvalidEnvelope("a point is the identity")
        if not c.on_curve(p[0], p[1]):  # decompress_G1 already ensures it; cheap to restate
            raise InvalidEnvelope("a point is not on the curve")
        if not c.in_subgroup(p):
            raise InvalidEnvelope("a point is not in the prime-order subgroup")
        return p

    def encode(self, p: c.Jacobian) -> bytes:
        return int(compress_G1(_to_py_ecc(p))).to_bytes(POINT_BYTES, "big")

    def encode_many(self, points: Sequence[c.Jacobian]) -> list[bytes]:
        # One inversion for the lot instead of one per point.
        finite = [p for p in points if not c.is_inf(p)]
        affine = iter(c.to_affine_many(finite))
        out = []
        for p in points:
            q = p if c.is_inf(p) else (*next(affine), 1)
            out.append(self.encode(q))
        return out

    def hash_to_g1(self, message: bytes, dst: bytes) -> c.Jacobian:
        return _from_py_ecc(hash_to_G1(message, dst, hashlib.sha256))  # type: ignore[arg-type]

    def generator(self) -> c.Jacobian:
        return c.GENERATOR

    def identity(self) -> c.Jacobian:
        return c.INF

    def is_identity(self, p: c.Jacobian) -> bool:
        return c.is_inf(p)

    def add(self, p: c.Jacobian, o: c.Jacobian) -> c.Jacobian:
        return c.add(p, o)

    def neg(self, p: c.Jacobian) -> c.Jacobian:
        return c.neg(p)

    def eq(self, p: c.Jacobian, o: c.Jacobian) -> bool:
        return c.eq(p, o)

    def mul(self, p: c.Jacobian, k: int) -> c.Jacobian:
        return c.mul(p, k)

    def msm(self, points: Sequence[c.Jacobian], scalars: Sequence[int]) -> c.Jacobian:
        # Bases with a comb table (G, H) cost ~32 additions and no doubling on their own;
        # the rest share one Straus run.
        acc = c.INF
        rest_p, rest_k = [], []
        for p, k in zip(points, scalars, strict=True):
            table = self._combs.get(p)
            if table is None:
                rest_p.append(p)
                rest_k.append(k)
            else:
                acc = c.add(acc, c.fixed_mul(table, k))
        return c.add(acc, c.msm(rest_p, rest_k, self._odd))

    def fixed(self, p: c.Jacobian) -> c.FixedTable:
        table = self._combs.get(p)
        if table is None:
            table = self._combs[p] = c.fixed_table(p)
        return table

    def remember(self, points: Sequence[c.Jacobian]) -> None:
        fresh = [p for p in points if p not in self._odd and not c.is_inf(p)]
        self._odd.update(zip(fresh, c.odd_tables(fresh), strict=True))

    def mul_fixed(self, f: c.FixedTable, k: int) -> c.Jacobian:
        return c.fixed_mul(f, k)
