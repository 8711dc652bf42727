"""What one department's node does in a round, apart from Flower: train from the global
parameters on its own partition (optionally under DP-SGD, with its own accountant), and
count its held-out predictions.

Pure: the partition, the parameters and a numpy generator in; arrays and counts out. The
Flower client apps (``federated/app``) are thin wrappers around these two functions, so the
simulation and the deployment engine train identically.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from federated.dp import DpPlan
from federated.errors import InvalidTrainingSettings
from federated.features import CLASSES
from federated.loader import Partition
from federated.model import DpSgd, Params, TrainSettings, confusion, predict, train
from federated.settings import RunSettings
from federated.updates import check_update

__all__ = ["FAULTS", "FitOutcome", "check_faults", "dp_plan", "evaluate", "fit", "spoil"]

# Fault drills (``custos fl run --inject-fault department:round:kind``, ``fault`` in the
# deployment engine's run config): what a broken or malicious node might do, so that the
# server's defences can be exercised end to end. ``stall`` is a node that stops answering
# (it hangs until its process is killed): on the deployment engine the SuperLink declares
# it gone when its heartbeats stop, so a test can kill it knowing it will not have replied.
FAULTS = ("crash", "nan", "shape", "stall")


@dataclass(frozen=True)
class FitOutcome:
    params: Params
    examples: int
    steps: int
    epsilon_spent: float | None
    noise_multiplier: float | None


def check_faults(specs: Sequence[str], departments: Sequence[str], kinds: Sequence[str]) -> str:
    """The drills as the nodes read them (comma-separated), each ``department:round:kind``
    with a kind out of ``kinds``; a malformed one is a settings error."""
    for spec in specs:
        parts = spec.split(":")
        if (
            len(parts) != 3
            or parts[0] not in departments
            or not parts[1].isdigit()
            or parts[2] not in kinds
        ):
            raise InvalidTrainingSettings(
                f"a fault drill is department:round:{'|'.join(kinds)}, not {spec!r}",
                field="inject_fault",
            )
    return ",".join(specs)


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
    server_round: int,
    steps_so_far: int,
    rng: np.random.Generator,
) -> FitOutcome:
    """Round ``server_round``'s local training, at that round's learning rate;
    ``steps_so_far`` are the DP-SGD steps of earlier rounds, which the accountant adds to
    this round's."""
    expected = (partition.x_train.shape[1] + 1, len(CLASSES))
    problem = check_update(global_params, expected)
    if problem is not None:
        raise ValueError(f"the global parameters are unusable: {problem}")
    plan = dp_plan(partition, settings)
    dp = None if plan is None else DpSgd(plan.sample_rate, plan.clip, plan.noise_multiplier)
    how = TrainSettings(
        epochs=settings.local_epochs,
        learning_rate=settings.learning_rate_in(server_round),
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
