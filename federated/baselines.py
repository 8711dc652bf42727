"""The comparison rows of a run: a model trained on the union of the departments' training
data (``centralized``, the upper bound federated learning is measured against) and one
per department trained on its data alone (``alone:<department>``).

Pure. They exist only in the simulation, where one machine plays every department: pooling
rows is exactly what the federated model avoids, so the deployment engine has no such rows.
Each is the same model with the same L2 penalty as the nodes' training, fitted to
convergence (``federated.optimum``), not the nodes' fixed budget of SGD steps: an upper
bound that SGD could still improve on would flatter the federated model. So they have no
per-round curve; the plot draws them as a level.
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
    macro_f1,
    predict,
)
from federated.optimum import fit_to_convergence

__all__ = ["Baseline", "global_test", "scores", "train_baseline"]


@dataclass(frozen=True)
class Baseline:
    mode: str
    params: Params
    loss: float  # the regularised training loss at the optimum
    iterations: int
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
    mode: str, partitions: Sequence[Partition], test: tuple[Matrix, Labels]
) -> Baseline:
    x = np.vstack([p.x_train for p in partitions])
    y = np.concatenate([p.y_train for p in partitions])
    # The nodes' penalty (federated.node trains with TrainSettings' default l2).
    best = fit_to_convergence(x, y, len(CLASSES), TrainSettings().l2)
    f1, acc = scores(best.params, *test)
    return Baseline(mode, best.params, best.loss, best.iterations, f1, acc, len(y))
