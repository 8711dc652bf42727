"""The settings of a federated training run, checked once before anything starts.

Pure. The same settings travel to every node in the round's configuration, so a node
trains exactly as the server asked (``to_config`` / ``from_config``); the DP settings are
the department's target, and each node calibrates its own noise to it (``federated.dp``).

The defaults are what came within a point of the converged centralized model on the
seeded population (``bench/fl.py``: 30,000 clients, 20 rounds): five local epochs per
round, the local learning rate decayed along a cosine over the run (a constant rate
leaves SGD's noise, and the departments' drift apart on their non-IID books, in the final
model), and server momentum 0.5 (FedAvgM, ``federated.momentum``), which keeps the
progress of earlier rounds while the local steps shrink. The DP-SGD accounting is
unaffected: the schedule is fixed before the run, whatever the data, and the momentum
only post-processes what the nodes release.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, replace
from typing import Any

from federated.errors import InvalidTrainingSettings

__all__ = ["DEPARTMENTS", "STRATEGIES", "DpSettings", "RunSettings"]

# The departments that hold a book (policies.population.BOOKS) and run a node.
DEPARTMENTS = ("advisory", "research", "risk")
STRATEGIES = ("fedavg", "fedprox")


@dataclass(frozen=True)
class DpSettings:
    """Record-level (ε, δ) per department for the whole run, and the clipping norm."""

    epsilon: float = 8.0
    delta: float = 1e-5
    clip: float = 3.0

    def check(self) -> None:
        if not self.epsilon > 0:
            raise InvalidTrainingSettings("--epsilon must be positive", field="epsilon")
        if not 0 < self.delta < 1:
            raise InvalidTrainingSettings("--delta must lie between 0 and 1", field="delta")
        if not self.clip > 0:
            raise InvalidTrainingSettings("--clip must be positive", field="clip")


@dataclass(frozen=True)
class RunSettings:
    rounds: int
    strategy: str = "fedavg"
    proximal_mu: float = 0.1
    local_epochs: int = 5
    learning_rate: float = 1.0
    batch_size: int = 128
    server_momentum: float = 0.5
    min_departments: int = 2
    secagg: bool = False
    dp: DpSettings | None = None
    seed: int = 7

    def check(self) -> RunSettings:
        if self.rounds < 1:
            raise InvalidTrainingSettings(
                f"--rounds must be at least 1, not {self.rounds}", field="rounds"
            )
        if self.strategy not in STRATEGIES:
            raise InvalidTrainingSettings(
                f"--strategy {self.strategy!r} is not one of {', '.join(STRATEGIES)}",
                field="strategy",
            )
        if self.local_epochs < 1 or self.batch_size < 1 or not self.learning_rate > 0:
            raise InvalidTrainingSettings(
                "local epochs, batch size and learning rate must be positive", field="training"
            )
        if self.proximal_mu < 0 or self.proximal_mu * self.learning_rate >= 1:
            # Each SGD step pulls towards the anchor by lr * mu; at 1 or more it overshoots.
            raise InvalidTrainingSettings(
                "--proximal-mu must be at least 0 and below 1 / learning rate",
                field="proximal_mu",
            )
        if not 0 <= self.server_momentum < 1:
            # At 1 or more the server's steps would never decay: the model diverges.
            raise InvalidTrainingSettings(
                "--server-momentum must be at least 0 and below 1", field="server_momentum"
            )
        if self.min_departments < 1:
            raise InvalidTrainingSettings(
                "--min-departments must be at least 1", field="min_departments"
            )
        if self.dp is not None:
            self.dp.check()
        return self

    @property
    def mu(self) -> float:
        """The FedProx proximal weight the nodes apply (0 under FedAvg)."""
        return self.proximal_mu if self.strategy == "fedprox" else 0.0

    def learning_rate_in(self, server_round: int) -> float:
        """The local learning rate of round ``server_round`` (1-based): ``learning_rate`` in
        round 1, decayed along a half cosine to near 0 after the last round."""
        return self.learning_rate * 0.5 * (1 + math.cos(math.pi * (server_round - 1) / self.rounds))

    def without_dp(self) -> RunSettings:
        return replace(self, dp=None)

    def to_config(self) -> dict[str, Any]:
        """Flat scalars, as a Flower ConfigRecord carries them."""
        flat = {k: v for k, v in asdict(self).items() if k != "dp"}
        if self.dp is not None:
            flat |= {f"dp_{k}": v for k, v in asdict(self.dp).items()}
        return flat

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> RunSettings:
        fields = {
            k: config[k]
            for k in (
                "rounds",
                "strategy",
                "proximal_mu",
                "local_epochs",
                "learning_rate",
                "batch_size",
                "server_momentum",
                "min_departments",
                "secagg",
                "seed",
            )
        }
        dp = None
        if "dp_epsilon" in config:
            dp = DpSettings(
                float(config["dp_epsilon"]), float(config["dp_delta"]), float(config["dp_clip"])
            )
        return cls(**fields, dp=dp)
