"""Server momentum (FedAvgM, Hsu, Qi and Brown 2019): the server treats the change the
departments' weighted average makes to the global model as a gradient step and
accumulates it with momentum ``beta``.

Pure. Both aggregation paths (the message-API strategy and SecAgg+, where the server only
ever holds the weighted sum; ``federated/app/server_app.py``) step through one
``ServerMomentum``, so they move the model identically. With ``beta = 0`` the step is
plain FedAvg: the new model is the average.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from federated.model import Params

__all__ = ["ServerMomentum"]


@dataclass
class ServerMomentum:
    beta: float
    _velocity: Params | None = field(default=None, repr=False)

    def step(self, current: Params, average: Params) -> Params:
        """The next global model from the one sent out (``current``) and the average of
        the departments' replies to it."""
        change = current - average
        self._velocity = change if self._velocity is None else self.beta * self._velocity + change
        out: Params = np.asarray(current - self._velocity, dtype=np.float64)
        return out
