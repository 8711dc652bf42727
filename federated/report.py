"""The run's report: one row per mode with macro-F1 and accuracy on the global test set, as
a table for the terminal and as JSON.

Pure. Rows come in a fixed order: ``centralized``, ``federated``, ``federated+dp`` (when
trained), then ``alone:<department>`` per department.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = ["ModeResult", "as_json", "table"]


@dataclass(frozen=True)
class ModeResult:
    mode: str
    macro_f1: float
    accuracy: float
    curve: tuple[float, ...]
    examples: int
    extra: dict[str, Any] = field(default_factory=dict)


def table(rows: Sequence[ModeResult], test_size: int) -> str:
    width = max(len("mode"), *(len(r.mode) for r in rows))
    lines = [
        f"global test set: {test_size} held-out clients",
        f"{'mode':<{width}}  macro_f1  accuracy  train_examples",
    ]
    for r in rows:
        lines.append(f"{r.mode:<{width}}  {r.macro_f1:8.4f}  {r.accuracy:8.4f}  {r.examples:14d}")
    return "\n".join(lines)


def as_json(rows: Sequence[ModeResult], **context: Any) -> dict[str, Any]:
    return {
        **context,
        "modes": [
            {k: (list(v) if k == "curve" else v) for k, v in asdict(r).items()} for r in rows
        ],
    }
