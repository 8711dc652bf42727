"""The federated layer's domain errors (codes mapped in api/problems.py, listed in
api/README.md). The ``custos fl`` commands print their message and exit 1."""

from __future__ import annotations

from custos_errors import CustosError

__all__ = ["InvalidTrainingSettings", "NoTrainingData"]


class InvalidTrainingSettings(CustosError):
    """A training setting out of range: no rounds, ε ≤ 0, an unknown strategy."""

    code = "fl_invalid_settings"


class NoTrainingData(CustosError):
    """No department has a client whose consent covers model training on its record."""

    code = "fl_no_training_data"
