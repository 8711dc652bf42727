"""Typed reads of Flower records: a value of the expected kind, or a ValueError naming the
key. A node's reply is data from another party; nothing in it is trusted to have the type
the protocol says."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from flwr.app import ConfigRecord, MetricRecord, RecordDict

__all__ = ["number", "params", "text"]


def number(record: MetricRecord | ConfigRecord, key: str) -> float:
    value = record[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{key} is not a number")
    return float(value)


def text(record: ConfigRecord, key: str) -> str:
    value = record[key]
    if not isinstance(value, str):
        raise ValueError(f"{key} is not a string")
    return value


def params(content: RecordDict) -> npt.NDArray[np.float64] | None:
    """The model parameters of a message (its one array, ``w``), or None if it has none."""
    arrays = content.array_records.get("arrays")
    if arrays is None or list(arrays.keys()) != ["w"]:
        return None
    out: npt.NDArray[np.float64] = arrays["w"].numpy()
    return out
