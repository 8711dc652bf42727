"""The deployment engine's ServerApp body: what ``custos fl run`` does around the
simulation, for a run submitted to a SuperLink with ``flwr run federated/app``.

The SuperLink's ServerApp process opens the Custos installation named in the run config
(``db-url``, ``data-dir``; empty: ``CUSTOS_DATABASE_URL`` and ``CUSTOS_DATA_DIR``) to write
the run's ledger entries; the rows stay on the
SuperNodes, each of which read its own department's partition through the policy engine
before it started (``federated.app.supernode``). The model and its card go to ``out``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping
from dataclasses import asdict
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.server import Grid

from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from federated.app.server_app import SECAGG, ServerPlan
from federated.coordinator import Coordinator, RoundResult
from federated.model import Params
from federated.modelcard import CONSENT_FILTER, save_model, write_card
from federated.node import FAULTS, check_faults
from federated.records import TrainingRecord
from federated.settings import DpSettings, RunSettings
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH

__all__ = ["run_deployment", "settings_from_run_config"]

log = logging.getLogger("custos.fl")


def settings_from_run_config(config: Mapping[str, Any]) -> RunSettings:
    dp = None
    if bool(config["dp"]):
        dp = DpSettings(float(config["epsilon"]), float(config["delta"]), float(config["clip"]))
    return RunSettings(
        rounds=int(config["rounds"]),
        strategy=str(config["strategy"]),
        proximal_mu=float(config["proximal-mu"]),
        local_epochs=int(config["local-epochs"]),
        learning_rate=float(config["learning-rate"]),
        batch_size=int(config["batch-size"]),
        server_momentum=float(config["server-momentum"]),
        min_departments=int(config["min-departments"]),
        secagg=bool(config["secagg"]),
        dp=dp,
        seed=int(config["seed"]),
    ).check()


def _log_round(r: RoundResult) -> None:
    log.warning(
        "round %d: macro-F1 %.4f, accuracy %.4f, departments %s, rejected %s",
        r.round,
        r.macro_f1,
        r.accuracy,
        sorted(r.examples),
        r.rejected,
    )


def run_deployment(
    grid: Grid, context: Context, train_on: Callable[[Grid, Context, ServerPlan], Params]
) -> None:
    config = context.run_config
    settings = settings_from_run_config(config)
    departments = [d for d in str(config["departments"]).split(",") if d]
    fault = check_faults([f for f in str(config["fault"]).split(",") if f], departments, FAULTS)
    out = Path(str(config["out"]))
    # Empty means: from the ServerApp's environment (CUSTOS_DATABASE_URL, CUSTOS_DATA_DIR).
    db_url, data_dir = str(config["db-url"]), str(config["data-dir"])
    custos = open_custos(
        ledger_settings(database_url=db_url or None, data_dir=Path(data_dir) if data_dir else None)
    )
    try:
        policy = PolicyHolder(DEFAULT_POLICY_PATH, custos.catalogue, custos.ledger).current
        record = TrainingRecord(custos.ledger)
        mode = "federated" if settings.dp is None else "federated+dp"
        run_id = uuid.uuid4().hex
        started = record.run_started(
            run_id,
            mode,
            "deployment",
            settings,
            policy.version,
            departments,
            SECAGG if settings.secagg else None,
        )
        coordinator = Coordinator(run_id, settings, record, _log_round)
        plan = ServerPlan(settings, coordinator, len(departments), fault)
        params = train_on(grid, context, plan)
        name = mode.replace("+", "-")
        sha = save_model(out / f"{name}.npz", params)
        rounds = coordinator.rounds
        metrics = {}
        if rounds:
            metrics = {"macro_f1": rounds[-1].macro_f1, "accuracy": rounds[-1].accuracy}
        model_index = record.model(run_id, sha, metrics)
        write_card(
            out / f"{name}.card.json",
            {
                "model": f"{name}.npz",
                "sha256": sha,
                "mode": mode,
                "engine": "deployment",
                "strategy": settings.strategy,
                "rounds": settings.rounds,
                "secagg": SECAGG if settings.secagg else None,
                "consent_filter": CONSENT_FILTER,
                "departments": departments,
                "examples": rounds[-1].examples if rounds else {},
                "dp": None if settings.dp is None else asdict(settings.dp),
                "metrics": metrics,
                "ledger": {
                    "run_id": run_id,
                    "fl_run_started": started,
                    "fl_round": [r.ledger_index for r in rounds],
                    "fl_model": model_index,
                },
            },
        )
    finally:
        custos.close()
