"""The department node's Flower ClientApps: a thin shell around ``federated.node``.

Two apps, one behaviour:

- ``make_client_app`` (message API, ``flwr.clientapp.ClientApp`` with ``@train`` and
  ``@evaluate``) answers FedAvg and FedProx (``federated/app/server_app.py``);
- ``make_secagg_client_app`` wraps a ``NumPyClient`` with Flower's ``secaggplus_mod``, as
  SecAgg+ exists only in Flower's legacy namespaces: the node's parameters leave it only
  masked, and the server sees their weighted sum.

On the deployment engine ``app`` serves both, chosen by the run config's ``secagg``.
Either way the node reads its own partition file and nothing else. Where it is depends on
the engine: in the simulation the run hands each virtual node its department's file
(``partitions``, by Flower's ``partition-id``); on the deployment engine the SuperNode's
``--node-config`` names it (``department`` and ``partition``, written by
``python -m federated.app.node``, which reads the department's data through the policy
engine before the node starts).

DP-SGD noise is drawn from a generator seeded by the operating system, as in Opacus'
default mode (numpy's PCG64, not a cryptographic generator); runs without DP are seeded
and reproducible.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.client import Client, NumPyClient
from flwr.client.mod import secaggplus_mod
from flwr.clientapp import ClientApp

from federated.app.messages import number, params
from federated.loader import Partition
from federated.node import FitOutcome, evaluate, fit, spoil
from federated.settings import DEPARTMENTS, RunSettings
from federated.updates import confusion_metrics

__all__ = ["app", "make_client_app", "make_secagg_client_app"]


@cache
def _partition(department: str, path: str) -> Partition:
    return Partition.load(department, Path(path))


def _locate(context: Context, partitions: Mapping[int, tuple[str, str]] | None) -> Partition:
    if partitions is None:
        department = str(context.node_config["department"])
        path = str(context.node_config["partition"])
    else:
        department, path = partitions[int(str(context.node_config["partition-id"]))]
    return _partition(department, path)


def _rng(settings: RunSettings, department: str, server_round: int) -> np.random.Generator:
    if settings.dp is not None:
        return np.random.default_rng()
    return np.random.default_rng([settings.seed, server_round, DEPARTMENTS.index(department)])


def _fault(config: Mapping[str, Any], department: str, server_round: int) -> str | None:
    """The fault drill aimed at this node and round (``department:round:kind``, several
    separated by commas), if any."""
    for spec in filter(None, str(config.get("fault", "")).split(",")):
        dept, rnd, kind = spec.split(":")
        if dept == department and int(rnd) == server_round:
            if kind == "crash":
                raise RuntimeError(f"fault drill: the {department} node fails in round {rnd}")
            if kind == "stall":
                # Hangs until the node's process is killed; it never answers the round.
                threading.Event().wait()
            return kind
    return None


def _train_here(
    context: Context, partition: Partition, params: np.ndarray, config: Mapping[str, Any]
) -> tuple[FitOutcome, np.ndarray]:
    settings = RunSettings.from_config(config)
    server_round = int(config["server-round"])
    kind = _fault(config, partition.department, server_round)
    # DP-SGD steps taken so far in this run: the node's own accountant state.
    key = f"custos-dp-{config['run_id']}"
    state = context.state.config_records.setdefault(key, ConfigRecord({"steps": 0}))
    done = fit(
        partition,
        params,
        settings,
        server_round,
        int(number(state, "steps")),
        _rng(settings, partition.department, server_round),
    )
    state["steps"] = int(number(state, "steps")) + done.steps
    sent = done.params if kind is None else spoil(done.params, kind)
    return done, sent


def _global(msg: Message) -> npt.NDArray[np.float64]:
    got = params(msg.content)
    if got is None:
        raise ValueError("the server's message carries no model parameters")
    return got


def _fit_metrics(done: FitOutcome) -> dict[str, int | float | list[int] | list[float]]:
    return {
        "num-examples": done.examples,
        "steps": done.steps,
        "epsilon": -1.0 if done.epsilon_spent is None else done.epsilon_spent,
        "noise": -1.0 if done.noise_multiplier is None else done.noise_multiplier,
    }


def make_client_app(partitions: Mapping[int, tuple[str, str]] | None = None) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(msg: Message, context: Context) -> Message:
        partition = _locate(context, partitions)
        config = dict(msg.content.config_records["config"])
        done, sent = _train_here(context, partition, _global(msg), config)
        content = RecordDict(
            {
                "arrays": ArrayRecord({"w": Array(np.ascontiguousarray(sent))}),
                "metrics": MetricRecord(_fit_metrics(done)),
                "node": ConfigRecord({"department": partition.department}),
            }
        )
        return Message(content=content, reply_to=msg)

    @app.evaluate()
    def evaluate_(msg: Message, context: Context) -> Message:
        partition = _locate(context, partitions)
        counts = evaluate(partition, _global(msg))
        metrics: dict[str, int | float | list[int] | list[float]] = {
            "num-examples": len(partition.y_test)
        }
        metrics |= confusion_metrics(counts)
        content = RecordDict(
            {
                "metrics": MetricRecord(metrics),
                "node": ConfigRecord({"department": partition.department}),
            }
        )
        return Message(content=content, reply_to=msg)

    return app


class _SecAggNode(NumPyClient):
    def __init__(self, context: Context, partition: Partition) -> None:
        self.context = context
        self.partition = partition

    def fit(
        self, parameters: list[np.ndarray], config: dict[str, Any]
    ) -> tuple[list[np.ndarray], int, dict[str, Any]]:
        done, sent = _train_here(self.context, self.partition, parameters[0], config)
        metrics: dict[str, Any] = _fit_metrics(done)
        metrics["department"] = self.partition.department
        return [sent], done.examples, metrics

    def evaluate(
        self, parameters: list[np.ndarray], config: dict[str, Any]
    ) -> tuple[float, int, dict[str, Any]]:
        counts = evaluate(self.partition, parameters[0])
        metrics: dict[str, Any] = {"department": self.partition.department}
        metrics |= confusion_metrics(counts)
        return 0.0, len(self.partition.y_test), metrics


def make_secagg_client_app(partitions: Mapping[int, tuple[str, str]] | None = None) -> ClientApp:
    def client_fn(context: Context) -> Client:
        return _SecAggNode(context, _locate(context, partitions)).to_client()

    return ClientApp(client_fn=client_fn, mods=[secaggplus_mod])


class _ByRunConfig(ClientApp):
    """The deployment engine's component ([tool.flwr.app.components] in pyproject.toml).
    One app config serves both aggregations, so each message goes to the app the run asked
    for: the SecAgg+ one when the run config says ``secagg = true``, else the message-API
    one. (The simulation builds the one it needs.)"""

    def __init__(self) -> None:
        super().__init__()
        self._plain = make_client_app()
        self._secagg = make_secagg_client_app()

    def __call__(self, message: Message, context: Context) -> Message:
        chosen = self._secagg if bool(context.run_config.get("secagg", False)) else self._plain
        return chosen(message, context)


app = _ByRunConfig()
