"""The comparison rows of a run: a model trained on the union of the departments' training
data (``centralized``, the upper bound federated learning is measured against) and one
per department trained on its data alone (``alone:<department>``).

Pure. They exist only in the simulation, where one machine plays every department: pooling
rows is exactly what the federated model avoids, so the deployment engine has no such rows.
Each is trained with the same SGD and learning rate as the nodes, one "round" being the
nodes' local epochs, and scored after every round on the same global test set (the union
of the departments' held-out clients), so the curves are comparable round by round.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from federated.features import CLASSES
from federated.loader import Partition
from federated.model import (
    Labels,
    Matrix,
    Params,
    TrainSettings,
    accuracy,
    confusion,
    init_params,
    macro_f1,
    predict,
    train,
)
from federated.settings import RunSettings

__all__ = ["Baseline", "global_test", "train_baseline"]


@dataclass(frozen=True)
class Baseline:
    mode: str
    params: Params
    curve: tuple[float, ...]  # macro-F1 on the global test set after each round
    macro_f1: float
    accuracy: float
    examples: int


def global_test(partitions: Sequence[Partition]) -> tuple[Matrix, Labels]:
    x = np.vstack([p.x_test for p in partitions])
    y = np.concatenate([p.y_test for p in partitions])
    return x, y


def scores(params: Params, x: Matrix, y: Labels) -> tuple[float, float]:
    counts = confusion(y, predict(params, x), len(CLASSES))
    return macro_f1(counts), accuracy(counts)


def train_baseline(
    mode: str,
    partitions: Sequence[Partition],
    test: tuple[Matrix, Labels],
    settings: RunSettings,
) -> Baseline:
    x = np.vstack([p.x_train for p in partitions])
    y = np.concatenate([p.y_train for p in partitions])
    rng = np.random.default_rng([settings.seed, len(mode)])
    how = TrainSettings(
        epochs=settings.local_epochs,
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
    )
    w = init_params(x.shape[1], len(CLASSES))
    curve = []
    for _ in range(settings.rounds):
        w, _ = train(w, x, y, how, rng)
        curve.append(scores(w, *test)[0])
    f1, acc = scores(w, *test)
    return Baseline(mode, w, tuple(curve), f1, acc, len(y))
