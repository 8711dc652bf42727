"""The upper bound and the server's side of training: the converged fit of the comparison
rows, server momentum, the learning-rate schedule and the fault-drill specs."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

from federated.errors import InvalidTrainingSettings
from federated.model import TrainSettings, _with_bias, init_params, train
from federated.momentum import ServerMomentum
from federated.node import FAULTS, check_faults
from federated.optimum import fit_to_convergence, objective
from federated.settings import RunSettings


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 4))
    w = rng.normal(size=(4, 3)) * 2
    y = np.argmax(x @ w + rng.gumbel(size=(n, 3)), axis=1).astype(np.int64)
    return x, y


def test_the_converged_fit_is_scikit_learns_optimum_of_the_same_objective() -> None:
    """mean cross-entropy + l2/2 ||W||^2 with the bias penalised is scikit-learn's
    C * sum cross-entropy + 1/2 ||W||^2 without an intercept, on the bias-augmented rows,
    at C = 1 / (l2 n): the same minimiser."""
    x, y = _data(1500, 1)
    l2 = 1e-3
    best = fit_to_convergence(x, y, 3, l2)
    reference = LogisticRegression(C=1 / (l2 * len(y)), fit_intercept=False, tol=1e-12)
    reference.fit(_with_bias(x), y)
    assert np.allclose(best.params, reference.coef_.T, atol=1e-4)
    assert best.iterations < 30


def test_sgd_never_beats_the_converged_loss() -> None:
    x, y = _data(1500, 2)
    l2 = TrainSettings().l2
    best = fit_to_convergence(x, y, 3, l2)
    sgd, _ = train(init_params(4, 3), x, y, TrainSettings(epochs=20), np.random.default_rng(0))
    assert best.loss == pytest.approx(objective(best.params, x, y, l2))
    assert best.loss <= objective(sgd, x, y, l2)


def test_without_momentum_the_server_step_is_the_average() -> None:
    current, average = np.ones((2, 2)), np.full((2, 2), 0.25)
    assert np.array_equal(ServerMomentum(0.0).step(current, average), average)


def test_momentum_carries_the_previous_change_forward() -> None:
    server = ServerMomentum(0.5)
    first = server.step(np.ones(2), np.zeros(2))  # change 1: to 0
    assert np.allclose(first, 0.0)
    second = server.step(first, first - 1.0)  # change 1 again, plus half the last one
    assert np.allclose(second, -1.5)


def test_the_learning_rate_decays_along_a_cosine_over_the_run() -> None:
    s = RunSettings(rounds=4, learning_rate=2.0)
    rates = [s.learning_rate_in(r) for r in range(1, 5)]
    assert rates[0] == 2.0
    assert rates == sorted(rates, reverse=True)
    assert rates[-1] > 0
    assert s.learning_rate_in(3) == pytest.approx(1.0)  # half way: half the rate
    assert s.learning_rate_in(4) == pytest.approx(1.0 - np.cos(np.pi / 4))


@pytest.mark.parametrize("beta", [-0.1, 1.0])
def test_momentum_outside_zero_to_one_is_refused(beta: float) -> None:
    with pytest.raises(InvalidTrainingSettings, match="--server-momentum"):
        RunSettings(rounds=1, server_momentum=beta).check()


def test_the_settings_travel_whole_to_the_nodes() -> None:
    s = RunSettings(rounds=3, server_momentum=0.25, local_epochs=2)
    assert RunSettings.from_config(s.to_config()) == s


def test_fault_drills_are_checked() -> None:
    depts = ["advisory", "risk"]
    assert check_faults(["risk:2:stall", "advisory:1:nan"], depts, FAULTS) == (
        "risk:2:stall,advisory:1:nan"
    )
    for bad in ["research:1:nan", "risk:x:nan", "risk:1:melt", "risk:1"]:
        with pytest.raises(InvalidTrainingSettings, match="a fault drill is"):
            check_faults([bad], depts, FAULTS)
