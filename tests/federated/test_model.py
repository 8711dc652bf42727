"""The numpy model: DP-SGD's clipping, learning, and the metrics."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, f1_score  # type: ignore[import-untyped]

from federated.model import (
    DpSgd,
    TrainSettings,
    _residuals,
    _with_bias,
    accuracy,
    confusion,
    init_params,
    macro_f1,
    predict,
    train,
)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    w = rng.normal(size=(4, 3)) * 2
    y = np.argmax(x @ w + rng.gumbel(size=(n, 3)) * 0.3, axis=1).astype(np.int64)
    return x, y


def test_the_per_example_norm_shortcut_is_the_outer_products_norm() -> None:
    x, y = _data(50, 1)
    xb = _with_bias(x)
    w = np.random.default_rng(2).normal(size=(5, 3))
    r = _residuals(w, xb, y)
    explicit = np.array([np.linalg.norm(np.outer(xb[i], r[i])) for i in range(len(y))])
    shortcut = np.linalg.norm(xb, axis=1) * np.linalg.norm(r, axis=1)
    assert np.allclose(explicit, shortcut)


def test_dp_sgd_with_no_noise_and_a_huge_clip_is_plain_poisson_sgd() -> None:
    """With sigma = 0 and a clip no gradient reaches, a DP step is the mean gradient over the
    sampled batch scaled by its expected size: with q = 1, exactly full-batch gradient
    descent."""
    x, y = _data(200, 3)
    w0 = init_params(4, 3)
    how = TrainSettings(epochs=3, learning_rate=0.5, batch_size=200)
    dp = DpSgd(sample_rate=1.0, clip=1e9, noise_multiplier=0.0)
    got, steps = train(w0, x, y, how, np.random.default_rng(0), dp)
    plain, _ = train(w0, x, y, how, np.random.default_rng(0))
    assert steps == 3
    assert np.allclose(got, plain)


def test_training_learns_a_separable_rule() -> None:
    x, y = _data(3000, 4)
    w, _ = train(init_params(4, 3), x, y, TrainSettings(epochs=5), np.random.default_rng(1))
    counts = confusion(y, predict(w, x), 3)
    assert accuracy(counts) > 0.85


def test_the_proximal_term_keeps_the_model_near_the_anchor() -> None:
    x, y = _data(500, 5)
    anchor = np.random.default_rng(9).normal(size=(5, 3))
    free, _ = train(anchor, x, y, TrainSettings(epochs=3), np.random.default_rng(1))
    held, _ = train(
        anchor, x, y, TrainSettings(epochs=3, proximal_mu=0.5), np.random.default_rng(1)
    )
    assert np.linalg.norm(held - anchor) < np.linalg.norm(free - anchor)


@settings(deadline=None, max_examples=50)
@given(
    st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=1, max_size=200),
)
def test_metrics_agree_with_scikit_learn(pairs: list[tuple[int, int]]) -> None:
    y_true = np.array([a for a, _ in pairs], dtype=np.int64)
    y_pred = np.array([b for _, b in pairs], dtype=np.int64)
    counts = confusion(y_true, y_pred, 5)
    assert accuracy(counts) == accuracy_score(y_true, y_pred)
    expected = f1_score(y_true, y_pred, average="macro", labels=range(5), zero_division=0)
    assert abs(macro_f1(counts) - expected) < 1e-12
