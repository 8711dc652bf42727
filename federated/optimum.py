"""The model trained to convergence: the minimiser of the loss every node's SGD descends.

Pure (numpy only). The comparison rows (``federated.baselines``) are the upper bound the
federated model is measured against, so they must not share its limits (a fixed number of
noisy SGD steps): they minimise exactly the objective of ``federated.model.train``, the mean
softmax cross-entropy plus ``l2 / 2 * ||W||^2`` (bias row included), by Newton's method with
a backtracking line search. The model has only (features + 1) * classes parameters (140),
so the Hessian is small and a handful of iterations reach the optimum to machine precision;
the L2 term keeps it positive definite (softmax has one redundant class otherwise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from federated.model import Labels, Matrix, Params, _softmax, _with_bias, init_params

__all__ = ["Optimum", "fit_to_convergence", "objective"]

_MAX_ITERATIONS = 50
# Stop when a Newton step no longer lowers the loss by more than this (it is then within
# rounding of the minimum: Newton's decrement shrinks quadratically near it).
_TOLERANCE = 1e-12


@dataclass(frozen=True)
class Optimum:
    params: Params
    loss: float
    iterations: int


def objective(w: Params, x: Matrix, y: Labels, l2: float) -> float:
    """The regularised mean cross-entropy ``federated.model.train`` minimises."""
    p = _softmax(_with_bias(x) @ w)
    picked = np.maximum(p[np.arange(len(y)), y], 1e-300)
    return float(-np.log(picked).mean() + l2 / 2 * (w * w).sum())


def _newton_step(w: Params, xb: Matrix, y: Labels, l2: float) -> tuple[Params, Params]:
    """The gradient and the Newton direction H^-1 g, both shaped like ``w``."""
    n, (d, k) = len(y), w.shape
    p = _softmax(xb @ w)
    r = p.copy()
    r[np.arange(n), y] -= 1.0
    grad: Params = xb.T @ r / n + l2 * w
    # Block (a, b) of the Hessian is X^T diag(p_a (1[a = b] - p_b)) X / n.
    hess = np.empty((d, k, d, k))
    for a in range(k):
        for b in range(a, k):
            c = p[:, a] * (float(a == b) - p[:, b])
            block = (xb * c[:, None]).T @ xb / n
            hess[:, a, :, b] = block
            hess[:, b, :, a] = block.T
    flat = hess.reshape(d * k, d * k) + l2 * np.eye(d * k)
    direction: Params = np.linalg.solve(flat, grad.reshape(-1)).reshape(d, k).astype(np.float64)
    return grad, direction


def fit_to_convergence(x: Matrix, y: Labels, classes: int, l2: float) -> Optimum:
    if l2 <= 0:
        raise ValueError("Newton's method here needs l2 > 0 (softmax is over-parameterised)")
    xb = _with_bias(x)
    w = init_params(x.shape[1], classes)
    loss = objective(w, x, y, l2)
    for iteration in range(1, _MAX_ITERATIONS + 1):
        grad, direction = _newton_step(w, xb, y, l2)
        slope = float((grad * direction).sum())
        t = 1.0
        # Armijo backtracking: from zero the full step can overshoot on separable classes.
        while True:
            candidate = w - t * direction
            new_loss = objective(candidate, x, y, l2)
            if new_loss <= loss - 1e-4 * t * slope or t < 1e-10:
                break
            t /= 2
        improved = loss - new_loss
        if improved < 0:
            break
        w, loss = candidate, new_loss
        if improved < _TOLERANCE:
            return Optimum(w, loss, iteration)
    return Optimum(w, loss, iteration)
