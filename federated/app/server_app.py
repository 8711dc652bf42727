"""The Flower ServerApp: FedAvg or FedProx over the department nodes, optionally under
SecAgg+, with every update checked and every round on the ledger (``federated.coordinator``).

- Without ``--secagg``: the message API's ``flwr.serverapp.strategy.FedAvg`` /
  ``FedProx``, subclassed so that ``aggregate_train`` drops unusable replies (an error, NaN,
  a wrong shape) before Flower's weighted average, and aggregates only if at least
  ``min_departments`` remain; ``aggregate_evaluate`` sums the nodes' held-out confusion
  counts (the global test set is the union of the departments' held-out clients).
- With ``--secagg``: Flower's ``SecAggPlusWorkflow`` inside ``DefaultWorkflow``, which
  needs a legacy strategy (``flwr.server.strategy.FedAvg``; SecAgg+ has no message-API
  strategy in Flower 1.42) and a ``LegacyContext``. The server sees only the weighted sum,
  so it checks the aggregate (finite, right shape) instead of each update, and a node that
  drops out is recovered by the protocol's secret shares (threshold 2 of 3).

Either way the weighted average goes through server momentum (FedAvgM,
``federated.momentum``) before it becomes the next global model.

DP, where asked, happens inside each node (record-level DP-SGD, ``federated.model``), so
it composes with either aggregation: Flower's DP wrappers would clip and noise whole
updates, which protects a department, not a client, and do not combine with SecAgg+.

``app`` is the deployment engine's component: it reads ``db-url``, ``data-dir``,
``out`` and the training settings from the run config, and does what ``custos fl run``
does around the simulation (``federated.app.deploy``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.common import ndarrays_to_parameters, parameters_to_ndarrays
from flwr.server import Grid, LegacyContext, ServerConfig
from flwr.server.client_manager import ClientManager
from flwr.server.client_proxy import ClientProxy
from flwr.server.strategy import FedAvg as LegacyFedAvg
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from flwr.serverapp import ServerApp
from flwr.serverapp.strategy import FedAvg, FedProx

from federated.app.messages import number, params, text
from federated.coordinator import SHAPE, Coordinator, TrainReply
from federated.features import CLASSES
from federated.model import Params, init_params
from federated.momentum import ServerMomentum
from federated.settings import RunSettings
from federated.updates import confusion_from_metrics

__all__ = ["SECAGG", "ServerPlan", "app", "make_server_app"]

# SecAgg+ over three departments: each key split in three shares, two rebuild it, so one
# node may drop out. Parameters are clipped to ±16 before quantization (the model's weights
# stay well inside), and weights up to 1e5 examples per node keep the quantization fine.
SECAGG = {"num_shares": 3, "reconstruction_threshold": 2}
_CLIPPING_RANGE = 16.0
_MAX_WEIGHT = 100_000.0
# A node that does not answer within this is a dropout for the round.
_TIMEOUT = 300.0


@dataclass
class ServerPlan:
    """What one ServerApp run trains, and where its result goes."""

    settings: RunSettings
    coordinator: Coordinator
    # Nodes to wait for before the first round (the run's departments); later rounds go on
    # with at least ``settings.min_departments`` of them.
    expected_nodes: int
    fault: str = ""
    final: Params | None = None
    departments: dict[int, str] = field(default_factory=dict)

    def config(self) -> dict[str, Any]:
        return self.settings.to_config() | {
            "fault": self.fault,
            "run_id": self.coordinator.run_id,
        }


def _department(plan: ServerPlan, msg: Message, node: int) -> str:
    if msg.has_error():
        return plan.departments.get(node, f"node {node}")
    name = text(msg.content.config_records["node"], "department")
    plan.departments[node] = name
    return name


class _Checked(FedAvg):
    """The checks of the module docstring on Flower's message-API FedAvg (or FedProx)."""

    plan: ServerPlan
    momentum: ServerMomentum
    _sent: list[Message]
    _current: Params

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        # Round 1 waits for every department's node and asks them all; later rounds ask
        # whichever nodes are connected, so one that died does not stall the run (the
        # coordinator then decides whether enough updates came back).
        s = self.plan.settings
        wait_for = self.plan.expected_nodes if server_round == 1 else s.min_departments
        self.min_available_nodes = self.min_train_nodes = wait_for
        messages = list(super().configure_train(server_round, arrays, config, grid))
        self.plan.coordinator.start_round(len(messages) * arrays.count_bytes())
        self._sent = messages
        self._current = arrays["w"].numpy()
        return messages

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = list(replies)
        parsed = []
        # The node each reply answers for. Not its sender: for a node whose heartbeats
        # stopped (killed, cut off) the SuperLink itself replies with a NODE_UNAVAILABLE
        # error, from its own node id, to the message that node was sent (Grid.push_messages
        # gave each sent message its id).
        sent_to = {m.metadata.message_id: m.metadata.dst_node_id for m in self._sent}
        nodes = [
            sent_to.get(m.metadata.reply_to_message_id, m.metadata.src_node_id) for m in replies
        ]
        # A node that did not answer within the round's timeout is a dropout, named as such.
        for node in sorted(set(sent_to.values()) - set(nodes)):
            name = self.plan.departments.get(node, f"node {node}")
            parsed.append(TrainReply(name, None, 0, error="no reply within the round's timeout"))
        replies_start = len(parsed)
        for msg, node in zip(replies, nodes, strict=True):
            dept = _department(self.plan, msg, node)
            if msg.has_error():
                parsed.append(TrainReply(dept, None, 0, error=f"node failed: {msg.error.reason}"))
                continue
            try:
                metrics = msg.content.metric_records["metrics"]
                eps, noise = number(metrics, "epsilon"), number(metrics, "noise")
                examples = int(number(metrics, "num-examples"))
            except (KeyError, ValueError) as exc:
                parsed.append(TrainReply(dept, None, 0, error=f"malformed reply: {exc}"))
                continue
            parsed.append(
                TrainReply(
                    dept,
                    params(msg.content),
                    examples,
                    None if eps < 0 else eps,
                    None if noise < 0 else noise,
                )
            )
        keep = self.plan.coordinator.accept(server_round, parsed)
        if not keep:
            return None, None
        average, summary = super().aggregate_train(
            server_round, [replies[i - replies_start] for i in keep]
        )
        if average is None:
            return None, summary
        stepped = self.momentum.step(self._current, average["w"].numpy())
        return ArrayRecord({"w": Array(stepped)}), summary

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        confusions = {}
        for msg in replies:
            if msg.has_error():
                continue
            dept = _department(self.plan, msg, msg.metadata.src_node_id)
            metrics = dict(msg.content.metric_records["metrics"])
            confusions[dept] = confusion_from_metrics(
                {k: v for k, v in metrics.items() if isinstance(v, int | float)}, len(CLASSES)
            )
        result = self.plan.coordinator.close_round(server_round, confusions)
        return MetricRecord({"macro_f1": result.macro_f1, "accuracy": result.accuracy})


class _CheckedFedAvg(_Checked):
    pass


class _CheckedFedProx(_Checked, FedProx):
    pass


def _message_api(grid: Grid, plan: ServerPlan) -> Params:
    s = plan.settings
    strategy: _Checked
    if s.strategy == "fedprox":
        strategy = _CheckedFedProx(
            min_train_nodes=s.min_departments,
            min_evaluate_nodes=s.min_departments,
            min_available_nodes=plan.expected_nodes,
            proximal_mu=s.proximal_mu,
        )
    else:
        strategy = _CheckedFedAvg(
            min_train_nodes=s.min_departments,
            min_evaluate_nodes=s.min_departments,
            min_available_nodes=plan.expected_nodes,
        )
    strategy.plan = plan
    strategy.momentum = ServerMomentum(s.server_momentum)
    result = strategy.start(
        grid=grid,
        initial_arrays=ArrayRecord({"w": Array(init_params(*_dims()))}),
        num_rounds=s.rounds,
        timeout=_TIMEOUT,
        train_config=ConfigRecord(plan.config()),
        evaluate_config=ConfigRecord(plan.config()),
    )
    if "w" not in result.arrays:
        return init_params(*_dims())
    out: Params = result.arrays["w"].numpy()
    return out


def _dims() -> tuple[int, int]:
    return SHAPE[0] - 1, SHAPE[1]


class _SecAggStrategy(LegacyFedAvg):
    """Legacy FedAvg for SecAgg+: checks the (already summed) aggregate, records rounds."""

    def __init__(self, plan: ServerPlan) -> None:
        s = plan.settings

        def config(server_round: int) -> dict[str, Any]:
            return plan.config() | {"server-round": server_round}

        # SecAgg+ masks pairwise among the sampled nodes: every department is asked.
        super().__init__(
            min_fit_clients=plan.expected_nodes,
            min_evaluate_clients=s.min_departments,
            min_available_clients=plan.expected_nodes,
            on_fit_config_fn=config,
            on_evaluate_config_fn=config,
            initial_parameters=ndarrays_to_parameters([init_params(*_dims())]),
        )
        self.plan = plan
        self.momentum = ServerMomentum(s.server_momentum)
        self.latest = init_params(*_dims())

    def configure_fit(
        self, server_round: int, parameters: Any, client_manager: ClientManager
    ) -> list[tuple[ClientProxy, Any]]:
        chosen = super().configure_fit(server_round, parameters, client_manager)
        size = sum(len(t) for t in parameters.tensors)
        self.plan.coordinator.start_round(len(chosen) * size)
        return chosen

    def aggregate_fit(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, Any]],
        failures: list[Any],
    ) -> tuple[Any, dict[str, Any]]:
        if not results:
            self.plan.coordinator.accept(server_round, [])
            return None, {}
        (aggregate,) = parameters_to_ndarrays(results[0][1].parameters)
        replies = []
        for _, res in results:
            eps, noise = float(res.metrics["epsilon"]), float(res.metrics["noise"])
            replies.append(
                TrainReply(
                    str(res.metrics["department"]),
                    aggregate,
                    int(res.num_examples),
                    None if eps < 0 else eps,
                    None if noise < 0 else noise,
                )
            )
        keep = self.plan.coordinator.accept(server_round, replies, masked=True)
        if not keep:
            return None, {}
        self.latest = self.momentum.step(self.latest, aggregate)
        return ndarrays_to_parameters([self.latest]), {}

    def aggregate_evaluate(
        self,
        server_round: int,
        results: list[tuple[ClientProxy, Any]],
        failures: list[Any],
    ) -> tuple[float | None, dict[str, Any]]:
        confusions = {
            str(res.metrics["department"]): confusion_from_metrics(res.metrics, len(CLASSES))
            for _, res in results
        }
        result = self.plan.coordinator.close_round(server_round, confusions)
        return None, {"macro_f1": result.macro_f1, "accuracy": result.accuracy}


def _secagg(grid: Grid, context: Context, plan: ServerPlan) -> Params:
    strategy = _SecAggStrategy(plan)
    legacy = LegacyContext(
        context, config=ServerConfig(num_rounds=plan.settings.rounds), strategy=strategy
    )
    workflow = DefaultWorkflow(
        fit_workflow=SecAggPlusWorkflow(
            num_shares=SECAGG["num_shares"],
            reconstruction_threshold=SECAGG["reconstruction_threshold"],
            clipping_range=_CLIPPING_RANGE,
            max_weight=_MAX_WEIGHT,
            timeout=_TIMEOUT,
        )
    )
    workflow(grid, legacy)
    return strategy.latest


def train_on(grid: Grid, context: Context, plan: ServerPlan) -> Params:
    """Run the plan's rounds on ``grid``; the final parameters."""
    if plan.settings.secagg:
        return _secagg(grid, context, plan)
    return _message_api(grid, plan)


def make_server_app(plan: ServerPlan) -> ServerApp:
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        plan.final = train_on(grid, context, plan)

    return server


def _deployment_main(grid: Grid, context: Context) -> None:
    from federated.app.deploy import run_deployment

    run_deployment(grid, context, train_on)


app = ServerApp()
app.main()(_deployment_main)
