"""The server's check of one node's update before it is aggregated.

Pure. A reply whose parameters are not exactly one finite array of the model's shape is
rejected with a reason, and the round goes on with the others (if enough remain); the
reason goes into the round's ledger entry and the log, never the values.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

__all__ = ["check_update", "confusion_from_metrics", "confusion_metrics"]


def check_update(params: npt.NDArray[np.float64] | None, shape: Sequence[int]) -> str | None:
    """None if ``params`` is a finite array of ``shape``; otherwise why it is rejected."""
    if params is None:
        return "no parameters"
    if tuple(params.shape) != tuple(shape):
        return f"shape {tuple(params.shape)} instead of {tuple(shape)}"
    if not np.issubdtype(params.dtype, np.floating):
        return f"dtype {params.dtype} instead of float"
    if not np.isfinite(params).all():
        return "non-finite values"
    return None


def confusion_metrics(counts: npt.NDArray[np.int64]) -> dict[str, int]:
    """A confusion matrix as flat integer metrics (``cm_<true>_<predicted>``): what a node's
    evaluation reply carries, aggregate counts only."""
    k = counts.shape[0]
    return {f"cm_{i}_{j}": int(counts[i, j]) for i in range(k) for j in range(k)}


def confusion_from_metrics(metrics: dict[str, int | float], classes: int) -> npt.NDArray[np.int64]:
    out = np.zeros((classes, classes), dtype=np.int64)
    for i in range(classes):
        for j in range(classes):
            value = metrics.get(f"cm_{i}_{j}", 0)
            if value < 0 or value != int(value):
                raise ValueError("a confusion count is not a non-negative integer")
            out[i, j] = int(value)
    return out
