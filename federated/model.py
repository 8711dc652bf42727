"""Multinomial logistic regression in numpy: the risk-preference model every node trains.

Pure: arrays in, arrays out; randomness only from the ``numpy.random.Generator`` passed in.
The parameters are one array ``W`` of shape (features + 1, classes), the last row the bias,
which is what the nodes exchange.

``train`` runs minibatch SGD on the softmax cross-entropy with an L2 penalty and, for
FedProx, the proximal term ``mu / 2 * ||W - W_global||^2``. With ``dp`` it is DP-SGD
(Abadi et al. 2016): each step samples every example independently with probability
``q`` (Poisson sampling, what the accountant in ``federated.dp`` assumes), clips each
example's gradient to L2 norm ``clip``, sums, adds Gaussian noise of standard deviation
``sigma * clip`` and divides by the expected batch size. The penalty and proximal terms do
not read the data, so they are added after the noise at no privacy cost.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = [
    "DpSgd",
    "Params",
    "TrainSettings",
    "accuracy",
    "confusion",
    "init_params",
    "macro_f1",
    "predict",
    "train",
]

Params = npt.NDArray[np.float64]
Matrix = npt.NDArray[np.float64]
Labels = npt.NDArray[np.int64]


@dataclass(frozen=True)
class TrainSettings:
    epochs: int = 1
    learning_rate: float = 0.5
    batch_size: int = 64
    l2: float = 1e-4
    proximal_mu: float = 0.0


@dataclass(frozen=True)
class DpSgd:
    """DP-SGD's per-step settings: sampling rate, clipping norm, noise multiplier."""

    sample_rate: float
    clip: float
    noise_multiplier: float


def init_params(features: int, classes: int) -> Params:
    return np.zeros((features + 1, classes), dtype=np.float64)


def _with_bias(x: Matrix) -> Matrix:
    return np.hstack([x, np.ones((x.shape[0], 1))])


def _softmax(z: Matrix) -> Matrix:
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    out: Matrix = e / e.sum(axis=1, keepdims=True)
    return out


def predict(w: Params, x: Matrix) -> Labels:
    scores = _with_bias(x) @ w
    out: Labels = np.argmax(scores, axis=1).astype(np.int64)
    return out


def _residuals(w: Params, xb: Matrix, y: Labels) -> Matrix:
    """softmax(xW) - onehot(y): the per-example gradient is the outer product x_i r_i."""
    r = _softmax(xb @ w)
    r[np.arange(len(y)), y] -= 1.0
    return r


def _plain_step(w: Params, xb: Matrix, y: Labels) -> Params:
    grad: Params = xb.T @ _residuals(w, xb, y) / max(len(y), 1)
    return grad


def _dp_step(
    w: Params, xb: Matrix, y: Labels, rng: np.random.Generator, dp: DpSgd, n: int
) -> Params:
    r = _residuals(w, xb, y)
    # ||x_i r_i^T||_F = ||x_i|| * ||r_i||: per-example norms without building the outer products.
    norms = np.linalg.norm(xb, axis=1) * np.linalg.norm(r, axis=1)
    scale = np.minimum(1.0, dp.clip / np.maximum(norms, 1e-12))
    summed = xb.T @ (r * scale[:, None])
    noise = rng.normal(0.0, dp.noise_multiplier * dp.clip, size=summed.shape)
    grad: Params = (summed + noise) / (dp.sample_rate * n)
    return grad


def train(
    w: Params,
    x: Matrix,
    y: Labels,
    settings: TrainSettings,
    rng: np.random.Generator,
    dp: DpSgd | None = None,
) -> tuple[Params, int]:
    """Train from ``w`` (also the FedProx anchor) for ``settings.epochs`` epochs; returns the
    new parameters and the number of SGD steps taken (what the DP accountant counts)."""
    anchor = w
    w = w.copy()
    xb_all = _with_bias(x)
    n = len(y)
    if n == 0:
        return w, 0
    steps = 0
    if dp is None:
        per_epoch = max(1, -(-n // settings.batch_size))
    else:
        per_epoch = max(1, round(1.0 / dp.sample_rate))
    for _ in range(settings.epochs):
        order = rng.permutation(n) if dp is None else None
        for b in range(per_epoch):
            if dp is None:
                assert order is not None
                idx = order[b * settings.batch_size : (b + 1) * settings.batch_size]
                grad = _plain_step(w, xb_all[idx], y[idx])
            else:
                idx = np.flatnonzero(rng.random(n) < dp.sample_rate)
                grad = _dp_step(w, xb_all[idx], y[idx], rng, dp, n)
            grad = grad + settings.l2 * w + settings.proximal_mu * (w - anchor)
            w = w - settings.learning_rate * grad
            steps += 1
    return w, steps


def confusion(y_true: Labels, y_pred: Labels, classes: int) -> npt.NDArray[np.int64]:
    """counts[true, predicted]."""
    out = np.zeros((classes, classes), dtype=np.int64)
    np.add.at(out, (y_true, y_pred), 1)
    return out


def macro_f1(counts: npt.NDArray[np.int64]) -> float:
    """The unweighted mean over classes of F1; a class with no true and no predicted example
    counts as 0 (as scikit-learn's ``zero_division=0``)."""
    tp = np.diag(counts).astype(np.float64)
    predicted = counts.sum(axis=0).astype(np.float64)
    actual = counts.sum(axis=1).astype(np.float64)
    denom = predicted + actual
    f1 = np.divide(2 * tp, denom, out=np.zeros_like(tp), where=denom > 0)
    return float(f1.mean())


def accuracy(counts: npt.NDArray[np.int64]) -> float:
    total = counts.sum()
    return float(np.trace(counts) / total) if total else 0.0
