"""What one department's node does in a round, apart from Flower: train from the global
parameters on its own partition (optionally under DP-SGD, with its own accountant), and
count its held-out predictions.

Pure: the partition, the parameters and a numpy generator in; arrays and counts out. The
Flower client apps (``federated/app``) are thin wrappers around these two functions, so the
simulation and the deployment engine train identically.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from federated.dp import DpPlan
from federated.features import CLASSES
from federated.loader import Partition
from federated.model import DpSgd, Params, TrainSettings, confusion, predict, train
from federated.settings import RunSettings
from federated.updates import check_update

__all__ = ["FAULTS", "FitOutcome", "dp_plan", "evaluate", "fit", "spoil"]

# Fault drills (``custos fl run --inject-fault department:round:kind``): what a broken or
# malicious node might do, so that the server's defences can be exercised end to end.
FAULTS = ("crash", "nan", "shape")


@dataclass(frozen=True)
class FitOutcome:
    params: Params
    examples: int
    steps: int
    epsilon_spent: float | None
    noise_multiplier: float | None


def dp_plan(partition: Partition, settings: RunSettings) -> DpPlan | None:
    """The department's DP-SGD plan for the run, calibrated to its own number of records."""
    if settings.dp is None:
        return None
    return DpPlan.calibrated(
        len(partition.y_train),
        settings.batch_size,
        settings.dp.clip,
        settings.rounds,
        settings.local_epochs,
        settings.dp.epsilon,
        settings.dp.delta,
    )


def fit(
    partition: Partition,
    global_params: Params,
    settings: RunSettings,
    steps_so_far: int,
    rng: np.random.Generator,
) -> FitOutcome:
    """One round of local training; ``steps_so_far`` are the DP-SGD steps of earlier rounds,
    which the accountant adds to this round's."""
    expected = (partition.x_train.shape[1] + 1, len(CLASSES))
    problem = check_update(global_params, expected)
    if problem is not None:
        raise ValueError(f"the global parameters are unusable: {problem}")
    plan = dp_plan(partition, settings)
    dp = None if plan is None else DpSgd(plan.sample_rate, plan.clip, plan.noise_multiplier)
    how = TrainSettings(
        epochs=settings.local_epochs,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        proximal_mu=settings.mu,
    )
    params, steps = train(global_params, partition.x_train, partition.y_train, how, rng, dp)
    # A node never sends what the server would reject.
    problem = check_update(params, expected)
    if problem is not None:
        raise ValueError(f"local training produced an unusable update: {problem}")
    spent = None if plan is None else plan.spent(steps_so_far + steps)
    return FitOutcome(
        params,
        len(partition.y_train),
        steps,
        spent,
        None if plan is None else plan.noise_multiplier,
    )


def evaluate(partition: Partition, params: Params) -> npt.NDArray[np.int64]:
    """Counts[true, predicted] on the department's held-out clients."""
    return confusion(partition.y_test, predict(params, partition.x_test), len(CLASSES))


def spoil(params: Params, kind: str) -> Params:
    """The update a faulty node would send (``nan`` or ``shape``); ``crash`` is raised by the
    caller, as a node that dies mid-round."""
    if kind == "nan":
        return np.full_like(params, np.nan)
    if kind == "shape":
        return params[:-1]
    raise ValueError(f"unknown fault {kind!r}")
