"""The compiled backend: py_arkworks_bls12381 (arkworks' BLS12-381 through PyO3).

Its compressed G1 encoding is byte-for-byte py_ecc's and its hash_to_curve is RFC 9380's
BLS12381G1_XMD:SHA-256_SSWU_RO_, so both backends agree on every commitment and proof
(tests/zk/test_backends.py checks it)."""

from __future__ import annotations

from collections.abc import Sequence

from py_arkworks_bls12381 import G1Point, Scalar

from privacy.zk._curve import BETA, ORDER, W_KEPT, Q, glv_split, wnaf
from privacy.zk.backend import Backend
from privacy.zk.errors import InvalidEnvelope

__all__ = ["ArkworksBackend"]

POINT_BYTES = 48
_WINDOWS = (ORDER.bit_length() + 7) // 8
# A kept point's wNAF tables: odd multiples of P and of φ(P) = (βx, y) = λ·P, each with
# its negation, so a digit is one addition across the FFI.
_Tables = tuple[tuple[G1Point, ...], tuple[G1Point, ...], tuple[G1Point, ...], tuple[G1Point, ...]]


def _phi(p: G1Point) -> G1Point:
    xy = p.to_xy_bytes_be()
    x = int.from_bytes(xy[:POINT_BYTES], "big")
    return G1Point.from_xy_bytes_unchecked_be(
        (BETA * x % Q).to_bytes(POINT_BYTES, "big") + xy[POINT_BYTES:]
    )


def _odd_multiples(p: G1Point, w: int) -> tuple[G1Point, ...]:
    two = p + p
    out = [p]
    for _ in range((1 << (w - 2)) - 1):
        out.append(out[-1] + two)
    return tuple(out)


def _scalar(k: int) -> Scalar:
    # Scalar(int) silently mangles integers ≥ r instead of reducing them.
    return Scalar(k % ORDER)


class ArkworksBackend(Backend):
    name = "arkworks"

    def __init__(self) -> None:
        self._identity = G1Point.identity()
        self._generator = G1Point()
        # id(point) -> (point, tables); the point is held so its id stays its own.
        self._kept: dict[int, tuple[G1Point, _Tables]] = {}

    def decode(self, data: bytes) -> G1Point:
        if len(data) != POINT_BYTES:
            raise InvalidEnvelope(f"a point is {POINT_BYTES} bytes, not {len(data)}")
        try:
            # The checked decoder enforces the flags, x < q, the curve equation and
            # membership of the prime-order subgroup (tests/zk/test_backends.py holds it
            # to that, against py_ecc, on hostile and random encodings), so calling
            # is_in_subgroup() again would only double the cost of every point.
            p = G1Point.from_compressed_bytes(data)
        except ValueError as exc:
            raise InvalidEnvelope(
                "a point is not a canonical encoding of a curve point in G1"
            ) from exc
        if p == self._identity:
            raise InvalidEnvelope("a point is the identity")
        return p

    def encode(self, p: G1Point) -> bytes:
        return p.to_compressed_bytes()

    def hash_to_g1(self, message: bytes, dst: bytes) -> G1Point:
        return G1Point.hash_to_curve(message, dst)

    def generator(self) -> G1Point:
        return self._generator

    def identity(self) -> G1Point:
        return self._identity

    def is_identity(self, p: G1Point) -> bool:
        return bool(p == self._identity)

    def add(self, p: G1Point, o: G1Point) -> G1Point:
        return p + o

    def neg(self, p: G1Point) -> G1Point:
        return -p

    def sub(self, p: G1Point, o: G1Point) -> G1Point:
        return p - o

    def eq(self, p: G1Point, o: G1Point) -> bool:
        return bool(p == o)

    def mul(self, p: G1Point, k: int) -> G1Point:
        return p * _scalar(k)

    def msm(self, points: Sequence[G1Point], scalars: Sequence[int]) -> G1Point:
        if len(points) != len(scalars):
            raise ValueError("msm: as many scalars as points")
        # Points with kept tables (the Bulletproofs generators, G, H) go through Straus'
        # method here, one FFI addition (~0.6 µs) per wNAF digit: about a third of what
        # multiexp_unchecked costs per point at these sizes. The rest go to arkworks.
        kept: list[tuple[_Tables, int]] = []
        rest_p, rest_k = [], []
        for p, k in zip(points, scalars, strict=True):
            entry = self._kept.get(id(p))
            if entry is not None and entry[0] is p:
                kept.append((entry[1], k))
            else:
                rest_p.append(p)
                rest_k.append(_scalar(k))
        acc = self._straus(kept) if kept else self._identity
        if rest_p:
            acc = acc + G1Point.multiexp_unchecked(rest_p, rest_k)
        return acc

    def _straus(self, terms: Sequence[tuple[_Tables, int]]) -> G1Point:
        schedule: list[list[G1Point]] = [[] for _ in range(132)]
        for (pos, neg, phi_pos, phi_neg), k in terms:
            for part, up, down in zip(glv_split(k), (pos, phi_pos), (neg, phi_neg), strict=True):
                for at, d in wnaf(part, W_KEPT):
                    schedule[at].append(up[(d - 1) >> 1] if d > 0 else down[(-d - 1) >> 1])
        acc = self._identity
        top = max((i for i, row in enumerate(schedule) if row), default=-1)
        for i in range(top, -1, -1):
            acc = acc + acc
            for q in schedule[i]:
                acc = acc + q
        return acc

    def remember(self, points: Sequence[G1Point]) -> None:
        for p in points:
            if id(p) in self._kept or p == self._identity:
                continue
            pos = _odd_multiples(p, W_KEPT)
            phi_pos = _odd_multiples(_phi(p), W_KEPT)
            tables = (pos, tuple(-q for q in pos), phi_pos, tuple(-q for q in phi_pos))
            self._kept[id(p)] = (p, tables)

    def fixed(self, p: G1Point) -> tuple[tuple[G1Point, ...], ...]:
        self.remember([p])  # G and H also appear in multi-scalar multiplications
        # A comb table: row j holds d·2^(8j)·P for d = 1..255. A multiplication is then
        # ≤ 32 additions at ~0.6 µs each across the FFI, against ~140 µs for p * Scalar.
        rows = []
        base = p
        for _ in range(_WINDOWS):
            row = [base]
            for _ in range(254):
                row.append(row[-1] + base)
            rows.append(tuple(row))
            base = row[-1] + base
        return tuple(rows)

    def mul_fixed(self, f: tuple[tuple[G1Point, ...], ...], k: int) -> G1Point:
        k %= ORDER
        acc = self._identity
        for row in f:
            if d := k & 0xFF:
                acc = acc + row[d - 1]
            k >>= 8
        return acc
