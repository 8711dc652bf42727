"""The server's bookkeeping of a run, apart from Flower: which updates to accept, what each
round achieved, and its ledger entry.

Both server strategies (the message-API FedAvg/FedProx and the SecAgg+ legacy strategy,
``federated/app/server_app.py``) hand their replies to a ``Coordinator``:

- ``accept`` checks each department's update (``federated.updates.check_update``),
  rejects the unusable ones with a reason (logged, and named in the round's entry), and
  says whether enough departments remain (``min_departments``) to aggregate; if not, the
  round keeps the previous model;
- ``close_round`` sums the departments' held-out confusion counts (their union is the
  global test set), computes macro-F1 and accuracy on it and per department, writes the
  ``fl_round`` entry and tells the progress callback.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt
import structlog

from federated.features import CLASSES, FEATURE_NAMES
from federated.model import accuracy, macro_f1
from federated.records import TrainingRecord
from federated.settings import RunSettings
from federated.updates import check_update

__all__ = ["Coordinator", "RoundResult", "TrainReply"]

log = structlog.get_logger(__name__)

SHAPE = (len(FEATURE_NAMES) + 1, len(CLASSES))


@dataclass(frozen=True)
class TrainReply:
    """What a department's training reply said (its parameters stay with the strategy)."""

    department: str
    params: npt.NDArray[np.float64] | None
    examples: int
    epsilon_spent: float | None = None
    noise_multiplier: float | None = None
    error: str | None = None


@dataclass
class RoundResult:
    round: int
    aggregated: bool
    examples: dict[str, int]
    rejected: dict[str, str]
    macro_f1: float
    accuracy: float
    per_department: dict[str, dict[str, float]]
    epsilon_spent: dict[str, float]
    seconds: float
    payload_bytes: int
    ledger_index: int | None = None


@dataclass
class Coordinator:
    run_id: str
    settings: RunSettings
    record: TrainingRecord | None = None
    on_round: Callable[[RoundResult], None] | None = None
    rounds: list[RoundResult] = field(default_factory=list)
    _started: float = field(default_factory=time.perf_counter)
    _examples: dict[str, int] = field(default_factory=dict)
    _rejected: dict[str, str] = field(default_factory=dict)
    _epsilon: dict[str, float] = field(default_factory=dict)
    _noise: dict[str, float] = field(default_factory=dict)
    _aggregated: bool = False
    _bytes: int = 0

    def start_round(self, payload_bytes: int) -> None:
        """Call as the round's training messages go out, with their payload size."""
        self._started = time.perf_counter()
        self._examples, self._rejected, self._noise = {}, {}, {}
        self._aggregated = False
        self._bytes = payload_bytes

    def accept(
        self, server_round: int, replies: Sequence[TrainReply], *, masked: bool = False
    ) -> list[int]:
        """Indexes of the replies to aggregate, or [] if too few departments remain. With
        ``masked`` (SecAgg+) every reply carries the same aggregate, the only parameters
        the server sees: it is checked, and its size counted once."""
        keep: list[int] = []
        for n, r in enumerate(replies):
            if r.params is not None and not (masked and n):
                self._bytes += int(r.params.nbytes)
            reason = r.error or check_update(r.params, SHAPE)
            if reason is None and r.examples <= 0:
                reason = "no training examples"
            if reason is not None:
                self._rejected[r.department] = reason
                log.warning(
                    "fl_update_rejected",
                    run_id=self.run_id,
                    round=server_round,
                    department=r.department,
                    reason=reason,
                )
                continue
            keep.append(n)
            self._examples[r.department] = r.examples
            if r.epsilon_spent is not None:
                self._epsilon[r.department] = r.epsilon_spent
            if r.noise_multiplier is not None:
                self._noise[r.department] = r.noise_multiplier
        if len(keep) < self.settings.min_departments:
            log.warning(
                "fl_round_not_aggregated",
                run_id=self.run_id,
                round=server_round,
                usable=len(keep),
                min_departments=self.settings.min_departments,
            )
            self._examples = {}
            return []
        self._aggregated = True
        return keep

    def close_round(
        self, server_round: int, confusions: Mapping[str, npt.NDArray[np.int64]]
    ) -> RoundResult:
        total = np.zeros((len(CLASSES), len(CLASSES)), dtype=np.int64)
        per: dict[str, dict[str, float]] = {}
        for dept, counts in sorted(confusions.items()):
            total += counts
            per[dept] = {"macro_f1": macro_f1(counts), "accuracy": accuracy(counts)}
        result = RoundResult(
            server_round,
            self._aggregated,
            dict(self._examples),
            dict(self._rejected),
            macro_f1(total),
            accuracy(total),
            per,
            dict(self._epsilon),
            time.perf_counter() - self._started,
            self._bytes,
        )
        if self.record is not None:
            result.ledger_index = self.record.round(
                self.run_id,
                server_round,
                result.examples,
                result.rejected,
                self.settings,
                self._noise,
                self._epsilon,
            )
        self.rounds.append(result)
        if self.on_round is not None:
            self.on_round(result)
        return result
