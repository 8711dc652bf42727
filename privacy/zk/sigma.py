"""Sigma protocols over Pedersen commitments, in the compressed form.

Each protocol has a prover in two steps (``commit`` gives the first messages A, then
``respond`` answers the shared challenge e) and a verifier that recomputes the A from e
and the responses. The proof carries only scalars; the caller absorbs the A into the
transcript, and the proof is valid iff the challenge derived from the recomputed A equals
the e in the proof. That lets any number of statements share one challenge.

- Opening: knowledge of (v, r) with C = v·G + r·H.
  A = k₁G + k₂H; z₁ = k₁ + e·v, z₂ = k₂ + e·r; A = z₁G + z₂H - e·C.
- One-of-m (Cramer-Damgård-Schoenmakers OR) of discrete logs to base H: knowledge of w
  and j with Xⱼ = w·H. Every branch i has (eᵢ, zᵢ) with Aᵢ = zᵢH - eᵢXᵢ and Σ eᵢ = e;
  the prover simulates every branch but the true one. m = 1 is plain Schnorr: equality
  C - t·G = r·H proves v = t. The proof lists e₀..e_{m-2} (the last is e minus their sum)
  and z₀..z_{m-1}.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point
from privacy.zk.errors import InvalidEnvelope
from privacy.zk.pedersen import Bases

__all__ = [
    "OpeningProof",
    "OpeningProver",
    "OrProof",
    "OrProver",
    "opening_recompute",
    "or_recompute",
]


def _nonce() -> int:
    return secrets.randbelow(ORDER)


@dataclass(frozen=True, slots=True)
class OpeningProof:
    z_value: int
    z_blinding: int


class OpeningProver:
    def __init__(self, b: Backend, base: Bases, value: int, blinding: int) -> None:
        self._value, self._blinding = value, blinding
        self._k1, self._k2 = _nonce(), _nonce()
        self.first: list[Point] = [
            b.add(b.mul_fixed(base.g_fixed, self._k1), b.mul_fixed(base.h_fixed, self._k2))
        ]

    def respond(self, e: int) -> OpeningProof:
        return OpeningProof(
            (self._k1 + e * self._value) % ORDER, (self._k2 + e * self._blinding) % ORDER
        )


def opening_recompute(
    b: Backend, base: Bases, commitment: Point, proof: OpeningProof, e: int
) -> list[Point]:
    a = b.add(b.mul_fixed(base.g_fixed, proof.z_value), b.mul_fixed(base.h_fixed, proof.z_blinding))
    return [b.sub(a, b.mul(commitment, e))]


@dataclass(frozen=True, slots=True)
class OrProof:
    challenges: tuple[int, ...]  # m - 1 of them
    responses: tuple[int, ...]  # m of them


class OrProver:
    """Proves that Xᵢ = w·H for i = index without saying which i.

    The prover knows every branch's point as Xᵢ = w·H + δᵢ·G (δ_index = 0; for a
    commitment C = v·G + w·H and Xᵢ = C - tᵢ·G, δᵢ = v - tᵢ), so a simulated first
    message Aᵢ = zᵢH - eᵢXᵢ = (zᵢ - eᵢw)·H - eᵢδᵢ·G costs two fixed-base multiplications
    instead of a variable-base one. The points are the same as the verifier's."""

    def __init__(self, b: Backend, base: Bases, offsets: Sequence[int], index: int, w: int) -> None:
        if offsets[index] % ORDER:
            raise ValueError("the true branch has no G component")  # the caller checked
        self._index, self._w = index, w
        self._k = _nonce()
        self._e = [0 if i == index else _nonce() for i in range(len(offsets))]
        self._z = [0 if i == index else _nonce() for i in range(len(offsets))]
        self.first: list[Point] = [
            b.mul_fixed(base.h_fixed, self._k)
            if i == index
            else b.sub(
                b.mul_fixed(base.h_fixed, self._z[i] - self._e[i] * w),
                b.mul_fixed(base.g_fixed, self._e[i] * delta),
            )
            for i, delta in enumerate(offsets)
        ]

    def respond(self, e: int) -> OrProof:
        es, zs = list(self._e), list(self._z)
        es[self._index] = (e - sum(es)) % ORDER
        zs[self._index] = (self._k + es[self._index] * self._w) % ORDER
        return OrProof(tuple(es[:-1]), tuple(zs))


def or_recompute(
    b: Backend, base: Bases, xs: Sequence[Point], proof: OrProof, e: int
) -> list[Point]:
    if len(proof.challenges) != len(xs) - 1 or len(proof.responses) != len(xs):
        raise InvalidEnvelope(
            "an OR proof has one challenge fewer than branches, one response each"
        )
    es = [*proof.challenges, (e - sum(proof.challenges)) % ORDER]
    return [
        b.sub(b.mul_fixed(base.h_fixed, z), b.mul(x, ei))
        for x, z, ei in zip(xs, proof.responses, es, strict=True)
    ]
