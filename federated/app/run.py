"""``custos fl run``: federated training on Flower's Simulation Engine, with the report.

Run in the federated environment (``.venv-fl/bin/python -m federated.app.run``; ``custos fl
run`` in the API's environment starts it so). One run:

1. opens the Custos database and reads each department's partition through the policy
   engine (``federated.loader``), as that department's node; a department with no
   consenting client is skipped with a message, and no data at all is an error;
2. writes each partition to a private temporary folder, where only that department's
   virtual node reads it;
3. trains ``federated`` (and ``federated+dp`` with ``--dp``) in one simulation, every mode a
   run of its own on the ledger (``fl_run_started``, one ``fl_round`` per round, ``fl_model``),
   with a progress line per round;
4. fits the comparison rows (``centralized``, ``alone:<department>``) to convergence on
   the same data (``federated.baselines``);
5. saves each federated model with its card, prints the table, and writes the JSON
   (``--json``) and the plot of macro-F1 per round (``--out``).

Exit status: 0 done; 1 a domain error (no training data, an unknown department, a bad
setting), with a one-line message; 2 bad usage.
"""

from __future__ import annotations

import os
import tempfile

# Before Flower is imported: no update check, no telemetry, Flower's state in a temp folder.
os.environ.setdefault("FLWR_DISABLE_UPDATE_CHECK", "1")
os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
# Ray warns that it will stop overriding accelerator variables for num_gpus=0; opt in now.
os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
if "FLWR_HOME" not in os.environ:
    os.environ["FLWR_HOME"] = tempfile.mkdtemp(prefix="custos-flwr-")

import argparse
import json
import logging
import resource
import shutil
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from flwr.app import Context
from flwr.server import Grid
from flwr.serverapp import ServerApp
from flwr.simulation import run_simulation

from consent_ledger.logs import configure_logging
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import ledger_settings
from custos_errors import CustosError
from federated.app.client_app import make_client_app, make_secagg_client_app
from federated.app.plot import plot_rounds
from federated.app.server_app import SECAGG, ServerPlan, train_on
from federated.baselines import global_test, train_baseline
from federated.coordinator import Coordinator, RoundResult
from federated.errors import InvalidTrainingSettings, NoTrainingData
from federated.loader import Partition, load_department
from federated.modelcard import CONSENT_FILTER, save_model, write_card
from federated.node import FAULTS, check_faults, dp_plan
from federated.records import TrainingRecord
from federated.report import ModeResult, as_json, table
from federated.settings import DEPARTMENTS, STRATEGIES, DpSettings, RunSettings
from policies.holder import PolicyHolder
from policies.loader import DEFAULT_POLICY_PATH

__all__ = ["main", "parse_args", "simulate"]

# A stalled node would hold the simulation for the round's whole timeout: it is a drill for
# the deployment engine, where the test kills the node's process.
_SIMULATION_FAULTS = tuple(f for f in FAULTS if f != "stall")


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="custos fl run", description=__doc__.split("\n")[0])
    p.add_argument("--db", help="database URL or SQLite path (default $CUSTOS_DATABASE_URL)")
    p.add_argument("--data-dir", type=Path, help="key files (default $CUSTOS_DATA_DIR)")
    p.add_argument("--rounds", type=int, required=True, help="federated rounds (>= 1)")
    p.add_argument("--dp", action="store_true", help="also train federated+dp (DP-SGD)")
    p.add_argument("--secagg", action="store_true", help="aggregate under SecAgg+")
    p.add_argument("--json", type=Path, help="write the report as JSON to this file")
    p.add_argument("--out", type=Path, default=Path("fl-out"), help="models, cards, plot")
    p.add_argument("--strategy", default="fedavg", choices=STRATEGIES)
    p.add_argument("--proximal-mu", type=float, default=0.1, help="FedProx's mu")
    p.add_argument("--epsilon", type=float, default=8.0, help="DP epsilon per department")
    p.add_argument("--delta", type=float, default=1e-5, help="DP delta per department")
    p.add_argument("--clip", type=float, default=3.0, help="DP-SGD per-record clipping norm")
    p.add_argument("--departments", default=",".join(DEPARTMENTS), help="comma-separated")
    p.add_argument("--min-departments", type=int, default=2, help="to aggregate a round")
    p.add_argument("--local-epochs", type=int, default=RunSettings.local_epochs)
    p.add_argument(
        "--learning-rate",
        type=float,
        default=RunSettings.learning_rate,
        help="local SGD's rate in round 1, decayed along a cosine over the rounds",
    )
    p.add_argument("--batch-size", type=int, default=RunSettings.batch_size)
    p.add_argument(
        "--server-momentum",
        type=float,
        default=RunSettings.server_momentum,
        help="FedAvgM's server momentum (0: plain averaging)",
    )
    p.add_argument("--seed", type=int, default=7)
    p.add_argument(
        "--inject-fault",
        action="append",
        default=[],
        metavar="DEPT:ROUND:KIND",
        help="fault drill (repeatable): that node's update in that round is "
        + "/".join(_SIMULATION_FAULTS),
    )
    return p.parse_args(argv)


def _settings(args: argparse.Namespace) -> RunSettings:
    dp = DpSettings(args.epsilon, args.delta, args.clip) if args.dp else None
    return RunSettings(
        rounds=args.rounds,
        strategy=args.strategy,
        proximal_mu=args.proximal_mu,
        local_epochs=args.local_epochs,
        learning_rate=args.learning_rate,
        batch_size=args.batch_size,
        server_momentum=args.server_momentum,
        min_departments=args.min_departments,
        secagg=args.secagg,
        dp=dp,
        seed=args.seed,
    ).check()


def _departments(spec: str) -> list[str]:
    names = [d.strip() for d in spec.split(",") if d.strip()]
    for d in names:
        if d not in DEPARTMENTS:
            raise InvalidTrainingSettings(
                f"unknown department {d!r}; the departments with a book are "
                f"{', '.join(DEPARTMENTS)}",
                field="departments",
            )
    if not names:
        raise InvalidTrainingSettings("name at least one department", field="departments")
    return names


def _say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _progress(mode: str, rounds: int) -> Any:
    def show(r: RoundResult) -> None:
        done = round(20 * r.round / rounds)
        bar = "#" * done + "-" * (20 - done)
        note = "" if r.aggregated else "  (not aggregated: too few usable updates)"
        if r.rejected:
            note += "  rejected: " + ", ".join(f"{d} ({why})" for d, why in r.rejected.items())
        _say(
            f"{mode:<13} round {r.round:>3}/{rounds} [{bar}] macro-F1 {r.macro_f1:.4f}"
            f"  {r.seconds:5.2f} s{note}"
        )

    return show


def load_partitions(custos: Custos, departments: Sequence[str]) -> list[Partition]:
    """Each department's partition; those without training data are skipped, with why."""
    kept = []
    for dept in departments:
        part = load_department(custos, dept)
        if len(part.y_train) == 0:
            why = ", ".join(f"{k}: {v}" for k, v in sorted(part.skipped.items())) or "empty book"
            _say(
                f"skipping department {dept}: none of its {part.in_book} clients' consent "
                f"covers model training on their risk profile ({why})"
            )
            continue
        _say(
            f"department {dept}: {part.clients} of {part.in_book} clients train "
            f"({len(part.y_train)} train, {len(part.y_test)} held out)"
        )
        kept.append(part)
    if not kept:
        raise NoTrainingData(
            "no department has a client whose consent covers model training; "
            "seed the database (custos demo seed) or check the consents",
            field="db",
        )
    return kept


def _server(plans: Sequence[ServerPlan]) -> ServerApp:
    server = ServerApp()

    @server.main()
    def main(grid: Grid, context: Context) -> None:
        for plan in plans:
            plan.final = train_on(grid, context, plan)

    return server


def simulate(plans: Sequence[ServerPlan], partitions: Sequence[Partition], work: Path) -> None:
    files = {}
    for n, part in enumerate(partitions):
        path = work / f"{part.department}.npz"
        part.save(path)
        files[n] = (part.department, str(path))
    client = make_secagg_client_app(files) if plans[0].settings.secagg else make_client_app(files)
    run_simulation(
        server_app=_server(plans),
        client_app=client,
        num_supernodes=len(partitions),
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": 2, "num_gpus": 0, "include_dashboard": False},
        },
    )


def _card(
    mode: str,
    plan: ServerPlan,
    partitions: Sequence[Partition],
    started: int,
    model_file: str,
    sha: str,
) -> dict[str, Any]:
    s = plan.settings
    rounds = plan.coordinator.rounds
    dp = None
    if s.dp is not None:
        dp = {
            "unit": "one client record, per department, over the whole run",
            "accountant": "RDP of the Poisson-subsampled Gaussian, integer orders 2..256, "
            "converted by Balle et al. 2020 (federated/dp.py)",
            "epsilon_target": s.dp.epsilon,
            "delta": s.dp.delta,
            "clipping_norm": s.dp.clip,
            "per_department": {
                p.department: {
                    "noise_multiplier": plan_.noise_multiplier,
                    "sample_rate": plan_.sample_rate,
                    "epsilon_spent": rounds[-1].epsilon_spent.get(p.department) if rounds else 0,
                }
                for p in partitions
                if (plan_ := dp_plan(p, s)) is not None
            },
        }
    last = rounds[-1] if rounds else None
    return {
        "model": model_file,
        "sha256": sha,
        "task": "risk preference C1..C5 (multinomial logistic regression)",
        "mode": mode,
        "engine": "simulation",
        "strategy": s.strategy,
        "rounds": s.rounds,
        "secagg": SECAGG if s.secagg else None,
        "data": {p.department: p.summary() for p in partitions},
        "consent_filter": CONSENT_FILTER,
        "dp": dp,
        "metrics": None
        if last is None
        else {
            "macro_f1": last.macro_f1,
            "accuracy": last.accuracy,
            "per_department": last.per_department,
        },
        "ledger": {
            "run_id": plan.coordinator.run_id,
            "fl_run_started": started,
            "fl_round": [r.ledger_index for r in rounds],
        },
    }


def _finish(
    mode: str,
    plan: ServerPlan,
    started: int,
    partitions: Sequence[Partition],
    record: TrainingRecord,
    out: Path,
) -> ModeResult:
    """Save a trained mode's model and card, record ``fl_model``; its report row."""
    assert plan.final is not None
    rounds = plan.coordinator.rounds
    last = rounds[-1]
    name = mode.replace("+", "-")
    sha = save_model(out / f"{name}.npz", plan.final)
    index = record.model(
        plan.coordinator.run_id, sha, {"macro_f1": last.macro_f1, "accuracy": last.accuracy}
    )
    card = _card(mode, plan, partitions, started, f"{name}.npz", sha)
    card["ledger"]["fl_model"] = index
    write_card(out / f"{name}.card.json", card)
    return ModeResult(
        mode,
        last.macro_f1,
        last.accuracy,
        tuple(r.macro_f1 for r in rounds),
        sum(len(p.y_train) for p in partitions),
        {
            "run_id": plan.coordinator.run_id,
            "sha256": sha,
            "secagg": plan.settings.secagg,
            "round_seconds": [r.seconds for r in rounds],
            "round_payload_bytes": [r.payload_bytes for r in rounds],
            "epsilon_spent": last.epsilon_spent or None,
            "per_department": last.per_department,
            "rejected": {r.round: r.rejected for r in rounds if r.rejected},
        },
    )


def run(args: argparse.Namespace) -> dict[str, Any]:
    settings = _settings(args)
    departments = _departments(args.departments)
    fault = check_faults(args.inject_fault, departments, _SIMULATION_FAULTS)
    custos = open_custos(ledger_settings(database_url=args.db, data_dir=args.data_dir))
    try:
        t0 = time.perf_counter()
        partitions = load_partitions(custos, departments)
        load_seconds = time.perf_counter() - t0
        if len(partitions) < settings.min_departments:
            _say(
                f"only {len(partitions)} department(s) have training data; each round "
                f"aggregates what they send (--min-departments lowered to {len(partitions)})"
            )
            settings = replace(settings, min_departments=len(partitions))
        policy = PolicyHolder(DEFAULT_POLICY_PATH, custos.catalogue, custos.ledger).current
        record = TrainingRecord(custos.ledger)
        modes = [("federated", settings.without_dp())]
        if settings.dp is not None:
            modes.append(("federated+dp", settings))
        plans, started = [], []
        for mode, s in modes:
            run_id = uuid.uuid4().hex
            started.append(
                record.run_started(
                    run_id,
                    mode,
                    "simulation",
                    s,
                    policy.version,
                    [p.department for p in partitions],
                    SECAGG if s.secagg else None,
                )
            )
            coordinator = Coordinator(run_id, s, record, _progress(mode, s.rounds))
            plans.append(ServerPlan(s, coordinator, len(partitions), fault))
        work = Path(tempfile.mkdtemp(prefix="custos-fl-partitions-"))
        try:
            t1 = time.perf_counter()
            simulate(plans, partitions, work)
            sim_seconds = time.perf_counter() - t1
        finally:
            shutil.rmtree(work, ignore_errors=True)
        test = global_test(partitions)
        args.out.mkdir(parents=True, exist_ok=True)
        trained = [
            _finish(mode, plan, index, partitions, record, args.out)
            for (mode, _), plan, index in zip(modes, plans, started, strict=True)
        ]
        baselines = [
            train_baseline(mode, parts, test)
            for mode, parts in [
                ("centralized", partitions),
                *((f"alone:{p.department}", [p]) for p in partitions),
            ]
        ]
        as_rows = [
            ModeResult(
                b.mode,
                b.macro_f1,
                b.accuracy,
                (),
                b.examples,
                {"converged_loss": b.loss, "newton_iterations": b.iterations},
            )
            for b in baselines
        ]
        rows = [as_rows[0], *trained, *as_rows[1:]]
        print(table(rows, len(test[1])))
        plot = args.out / "macro_f1_per_round.png"
        plot_rounds(
            rows,
            plot,
            f"{settings.strategy}, {settings.rounds} rounds"
            + (", SecAgg+" if settings.secagg else ""),
        )
        report = as_json(
            rows,
            strategy=settings.strategy,
            rounds=settings.rounds,
            secagg=settings.secagg,
            dp=None if settings.dp is None else asdict(settings.dp),
            test_size=len(test[1]),
            departments={p.department: p.summary() for p in partitions},
            plot=str(plot),
            seconds={"load": load_seconds, "simulation": sim_seconds},
            peak_rss_mib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        )
        if args.json is not None:
            args.json.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return report
    finally:
        custos.close()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    # JSON log lines on stderr (stdout carries the table), Flower's chatter kept to warnings.
    configure_logging()
    logging.getLogger("flwr").setLevel(logging.WARNING)
    try:
        run(args)
    except CustosError as exc:
        _say(f"error: {exc.message}")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
