"""Range proofs by bit decomposition (scheme ``bits-v1``): d ∈ [0, 2^n) for D = d·G + rho·H.

The prover commits to every bit, Cᵢ = bᵢ·G + rᵢ·H, with the rᵢ chosen so that
Σ 2^i·rᵢ = rho; the verifier checks Σ 2^i·Cᵢ = D (Horner: n doublings and additions) and,
for every i, a one-of-two proof that Cᵢ or Cᵢ - G is a multiple of H, i.e. that bᵢ ∈ {0,1}.
All OR proofs answer the one challenge of the whole envelope. Size: n points and 3n scalars.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point
from privacy.zk.errors import InvalidEnvelope
from privacy.zk.pedersen import Bases
from privacy.zk.sigma import OrProof, OrProver, or_recompute

__all__ = ["BitRangeProver", "bit_range_recompute"]


class BitRangeProver:
    def __init__(self, b: Backend, base: Bases, d: int, rho: int, n: int) -> None:
        if not 0 <= d < 1 << n:
            raise ValueError("d is outside [0, 2^n)")  # the caller checked the predicate
        blindings = [secrets.randbelow(ORDER) for _ in range(n - 1)]
        partial = sum(r << i for i, r in enumerate(blindings))
        blindings.append((rho - partial) * pow(1 << (n - 1), -1, ORDER) % ORDER)
        bits = [(d >> i) & 1 for i in range(n)]
        points = [
            b.add(b.mul_fixed(base.h_fixed, r), base.g) if bit else b.mul_fixed(base.h_fixed, r)
            for bit, r in zip(bits, blindings, strict=True)
        ]
        self.bit_points = points
        # Branch 0 is Cᵢ = rᵢH + bᵢG, branch 1 is Cᵢ - G = rᵢH + (bᵢ - 1)G.
        self._ors = [
            OrProver(b, base, [bit, bit - 1], bit, r)
            for bit, r in zip(bits, blindings, strict=True)
        ]
        self.first: list[Point] = [a for o in self._ors for a in o.first]

    def respond(self, e: int) -> tuple[OrProof, ...]:
        return tuple(o.respond(e) for o in self._ors)


def bit_range_recompute(
    b: Backend,
    base: Bases,
    target: Point,
    bit_points: Sequence[Point],
    ors: Sequence[OrProof],
    e: int,
) -> list[Point]:
    """The first messages the OR proofs imply; raises InvalidEnvelope when the bit
    commitments do not add up to the target."""
    if len(bit_points) != len(ors):
        raise InvalidEnvelope("a bit range proof has one OR proof per bit")
    if not b.eq(b.pow2_sum(bit_points), target):
        raise InvalidEnvelope("the bit commitments do not add up to the commitment")
    out: list[Point] = []
    for c, proof in zip(bit_points, ors, strict=True):
        out.extend(or_recompute(b, base, [c, b.sub(c, base.g)], proof, e))
    return out
