"""Batch verification: many group equations Σ kᵢ·Pᵢ = O checked in one multi-scalar
multiplication.

Each equation Eⱼ = Σ kᵢ·Pᵢ is multiplied by its own weight ρⱼ, drawn fresh from
``secrets`` for every verification (uniform in [1, 2^128)), and the batch holds iff
Σ ρⱼ·Eⱼ = O. Every point of an envelope is in the prime-order subgroup G1 (the decoder
checks it), so every Eⱼ is in G1; if some Eⱼ ≠ O then, whatever the other equations and
weights, at most one value of ρⱼ modulo the prime r cancels it, so a false equation slips
through with probability at most 2^-128. The weights are drawn after the whole proof is
fixed, so the prover cannot aim at them. (The subgroup check matters: a point with a
component of order 3 would make the weighted sum vanish with probability 1/3.)

Equal point objects across equations (the Bulletproofs generators, G, H, shared by every
range proof of an envelope) are merged into one term, so a second range proof adds no
generator work.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from privacy.zk._curve import ORDER
from privacy.zk.backend import Backend, Point

__all__ = ["WEIGHT_BITS", "Batch", "random_weight"]

WEIGHT_BITS = 128


def random_weight() -> int:
    """A fresh batch weight, uniform in [1, 2^128)."""
    return 1 + secrets.randbelow((1 << WEIGHT_BITS) - 1)


class Batch:
    def __init__(self, b: Backend) -> None:
        self._b = b
        self._points: list[Point] = []
        self._scalars: list[int] = []
        self._index: dict[int, int] = {}  # id(point) -> term; the list keeps ids unique
        self.equations = 0

    def add(self, points: Sequence[Point], scalars: Sequence[int]) -> None:
        """Add the equation Σ scalarsᵢ·pointsᵢ = O under a fresh weight."""
        if len(points) != len(scalars):
            raise ValueError("an equation has one scalar per point")
        rho = random_weight()
        self.equations += 1
        for p, k in zip(points, scalars, strict=True):
            at = self._index.get(id(p))
            if at is None:
                self._index[id(p)] = len(self._points)
                self._points.append(p)
                self._scalars.append(rho * k % ORDER)
            else:
                self._scalars[at] = (self._scalars[at] + rho * k) % ORDER

    def holds(self) -> bool:
        """Whether every equation added holds (up to the 2^-128 error above)."""
        return self._b.is_identity(self._b.msm(self._points, self._scalars))
