"""The server's checks of updates, its round bookkeeping and the ledger entries it writes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from consent_ledger.encoding import decode_entry
from consent_ledger.entries import parse_body
from consent_ledger.runtime import Custos
from federated.coordinator import SHAPE, Coordinator, TrainReply
from federated.model import accuracy, macro_f1
from federated.records import TrainingRecord, decimal
from federated.settings import DpSettings, RunSettings
from federated.updates import check_update, confusion_from_metrics, confusion_metrics


def _ok(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=SHAPE)


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (None, "no parameters"),
        (np.zeros((SHAPE[0] - 1, SHAPE[1])), "shape"),
        (np.full(SHAPE, np.nan), "non-finite"),
        (np.full(SHAPE, np.inf), "non-finite"),
        (np.zeros(SHAPE, dtype=np.int64), "dtype"),
    ],
)
def test_unusable_updates_are_rejected(params: np.ndarray | None, reason: str) -> None:
    problem = check_update(params, SHAPE)
    assert problem is not None and reason in problem
    assert check_update(_ok(), SHAPE) is None


def test_a_bad_update_is_dropped_and_the_round_goes_on() -> None:
    c = Coordinator("run", RunSettings(rounds=3, min_departments=2))
    c.start_round(0)
    replies = [
        TrainReply("advisory", _ok(1), 10),
        TrainReply("research", np.full(SHAPE, np.nan), 5),
        TrainReply("risk", _ok(2), 7),
    ]
    assert c.accept(1, replies) == [0, 2]
    result = c.close_round(1, {})
    assert result.aggregated
    assert result.examples == {"advisory": 10, "risk": 7}
    assert result.rejected == {"research": "non-finite values"}


def test_too_few_usable_updates_keep_the_previous_model() -> None:
    c = Coordinator("run", RunSettings(rounds=3, min_departments=2))
    c.start_round(0)
    replies = [
        TrainReply("advisory", _ok(1), 10),
        TrainReply("risk", None, 0, error="node failed: killed"),
    ]
    assert c.accept(1, replies) == []
    result = c.close_round(1, {})
    assert not result.aggregated
    assert result.examples == {}
    assert result.rejected == {"risk": "node failed: killed"}


def test_the_global_score_is_the_score_of_the_summed_counts() -> None:
    rng = np.random.default_rng(4)
    counts = {d: rng.integers(0, 20, size=(5, 5)) for d in ("advisory", "research", "risk")}
    c = Coordinator("run", RunSettings(rounds=1))
    c.start_round(0)
    result = c.close_round(1, counts)
    total = np.sum(list(counts.values()), axis=0)
    assert result.macro_f1 == macro_f1(total)
    assert result.accuracy == accuracy(total)
    assert result.per_department["risk"]["macro_f1"] == macro_f1(counts["risk"])


def test_confusion_counts_travel_as_integer_metrics() -> None:
    counts = np.arange(25, dtype=np.int64).reshape(5, 5)
    assert (confusion_from_metrics(confusion_metrics(counts), 5) == counts).all()  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative integer"):
        confusion_from_metrics({"cm_0_0": -1}, 5)
    with pytest.raises(ValueError, match="non-negative integer"):
        confusion_from_metrics({"cm_0_0": 0.5}, 5)


def test_decimals_are_plain() -> None:
    assert [decimal(x) for x in (1e-5, 8.0, 0.0, 7.991234567, 0.5)] == [
        "0.00001",
        "8",
        "0",
        "7.99123",
        "0.5",
    ]


def test_the_entries_of_a_run(seeded: Custos, tmp_path: Path) -> None:
    """Run started, rounds, model: well-formed bodies (parse_body round-trips them) holding
    settings, counts, hashes and metrics."""
    settings = RunSettings(rounds=2, dp=DpSettings(epsilon=4.0))
    record = TrainingRecord(seeded.ledger)
    start = record.run_started(
        "r1", "federated+dp", "simulation", settings, "v1", ["advisory", "risk"], None
    )
    c = Coordinator("r1", settings, record)
    c.start_round(0)
    c.accept(1, [TrainReply("advisory", _ok(1), 10, 1.5, 0.9), TrainReply("risk", _ok(2), 4)])
    round_ = c.close_round(1, {}).ledger_index
    model = record.model("r1", "ab" * 32, {"macro_f1": 0.7, "accuracy": 0.75})
    entries = {e.index: decode_entry(e.leaf) for e in seeded.ledger.entries(start)}
    for index, entry in entries.items():
        parse_body(index, entry.type, entry.body)
    assert entries[start].type == "fl_run_started"
    assert entries[start].body["dp"]["epsilon"] == "4"
    assert round_ is not None
    body = entries[round_].body
    assert entries[round_].type == "fl_round"
    assert body["departments"] == ["advisory", "risk"]
    assert body["examples"] == {"advisory": 10, "risk": 4}
    assert body["epsilon_spent"] == {"advisory": "1.5"}
    assert body["noise_multiplier"] == {"advisory": "0.9"}
    assert body["clipping_norm"] == "3"
    assert entries[model].type == "fl_model"
    assert entries[model].body["metrics"] == {"accuracy": "0.75", "macro_f1": "0.7"}
