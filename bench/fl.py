"""Federated training benchmark: wall time per round and in total, payload bytes per round,
peak memory and final macro-F1 of federated, federated+DP and SecAgg+ runs beside the
centralized model and each department alone, all in one run.

Runs in the federated environment: ``.venv-fl/bin/python bench/fl.py [--quick]``.

The population (30,000 clients, 6,000 with ``--quick``) is drawn directly from
``policies.population`` in this process, not through ``custos demo seed``: seeding writes
every client's consent, collection and use to the ledger (about 9 ms a client here, so
~4.5 minutes for 30,000), which is not what this measures. The consent filter is applied as
the loader would apply it, from the same draws the seed makes: a client trains if its
consent names model training (one in two) at level 2 or more; the age, family and household
groups are present where the level covers them and the department's permit in
``policies/firm.yaml`` includes them (``federated.loader.permitted_groups``). No ledger
entries are written. Every simulation is a Flower Simulation Engine run of its own (Ray
starts in round 1 of each), so round 1 is reported apart from the later rounds.

``centralized`` and ``alone:<department>`` are fitted to convergence (``federated.optimum``),
and every row's regularised training loss on the union is reported beside its macro-F1, so
the gap to the optimum shows apart from the test set's noise. The table goes to stdout
after the JSON, and the plot of macro-F1 per round to ``--out`` (default ``fl-out/bench``).
"""

from __future__ import annotations

import os
import tempfile

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
import random
import resource
import shutil
import statistics
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from consent_ledger.catalogue import load_catalogue
from federated.app.plot import plot_rounds
from federated.app.run import simulate
from federated.app.server_app import ServerPlan
from federated.baselines import global_test, train_baseline
from federated.coordinator import Coordinator
from federated.features import FEATURE_NAMES, GROUPS, encode, label_index
from federated.loader import Partition, held_out, permitted_groups
from federated.model import TrainSettings
from federated.optimum import objective
from federated.report import ModeResult, table
from federated.settings import DEPARTMENTS, DpSettings, RunSettings
from policies.compiled import compile_policy
from policies.loader import DEFAULT_POLICY_PATH, load_policy
from policies.population import client_record, draw_book

AS_OF = date(2026, 12, 1)


def population(clients: int, seed: int) -> list[Partition]:
    catalogue = load_catalogue()
    policy = compile_policy(load_policy(DEFAULT_POLICY_PATH, catalogue), catalogue)
    allowed = {d: {g.name for g in permitted_groups(policy, d)} for d in DEPARTMENTS}
    rng = random.Random(seed)
    rows: dict[str, tuple[list[Any], list[Any], list[Any], list[Any]]] = {
        d: ([], [], [], []) for d in DEPARTMENTS
    }
    for n in range(clients):
        book = draw_book(rng)
        values = client_record(random.Random(rng.getrandbits(64)), book, AS_OF)
        level = rng.choices([1, 2, 3, 4], weights=[20, 40, 25, 15])[0]
        trains = rng.random() < 0.5
        if not trains or level < 2:
            continue
        groups = {
            g.name: {c: values[c] for c in g.categories}
            if g.level <= level and g.name in allowed[book]
            else None
            for g in GROUPS
        }
        x, y = encode(groups, AS_OF), label_index(values)
        split = 2 if held_out(f"c_{seed}_{n}") else 0
        rows[book][split].append(x)
        rows[book][split + 1].append(y)
    width = len(FEATURE_NAMES)
    return [
        Partition(
            d,
            np.asarray(r[0]).reshape(-1, width),
            np.asarray(r[1], dtype=np.int64),
            np.asarray(r[2]).reshape(-1, width),
            np.asarray(r[3], dtype=np.int64),
        )
        for d, r in rows.items()
    ]


def _union_loss(params: Any, parts: list[Partition]) -> float:
    x = np.vstack([p.x_train for p in parts])
    y = np.concatenate([p.y_train for p in parts])
    return round(objective(params, x, y, TrainSettings().l2), 5)


def _rounds_summary(plan: ServerPlan, parts: list[Partition]) -> dict[str, Any]:
    rounds = plan.coordinator.rounds
    later = [r.seconds for r in rounds[1:]]
    assert plan.final is not None
    return {
        "macro_f1": rounds[-1].macro_f1,
        "accuracy": rounds[-1].accuracy,
        "train_loss": _union_loss(plan.final, parts),
        "curve": [round(r.macro_f1, 4) for r in rounds],
        "round_1_seconds": rounds[0].seconds,
        "later_round_seconds_median": statistics.median(later) if later else None,
        "later_round_seconds_max": max(later) if later else None,
        "payload_bytes_per_round": rounds[-1].payload_bytes,
        "epsilon_spent": rounds[-1].epsilon_spent or None,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="6,000 clients, 5 rounds")
    p.add_argument("--clients", type=int)
    p.add_argument("--rounds", type=int)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--json", type=Path)
    p.add_argument("--out", type=Path, default=Path("fl-out/bench"), help="the plot")
    args = p.parse_args()
    clients = args.clients or (6_000 if args.quick else 30_000)
    rounds = args.rounds or (5 if args.quick else 20)
    logging.getLogger("flwr").setLevel(logging.WARNING)

    t0 = time.perf_counter()
    parts = population(clients, args.seed)
    gen_seconds = time.perf_counter() - t0
    test = global_test(parts)
    base = RunSettings(rounds=rounds, min_departments=2)
    dp = DpSettings(epsilon=8.0, delta=1e-5)
    with_dp = RunSettings(rounds=rounds, min_departments=2, dp=dp)
    plans = {
        "federated": ServerPlan(base, Coordinator("bench-federated", base), len(parts)),
        "federated+dp": ServerPlan(with_dp, Coordinator("bench-dp", with_dp), len(parts)),
    }
    secagg_settings = RunSettings(rounds=rounds, min_departments=2, secagg=True)
    secagg = {
        "federated+secagg": ServerPlan(
            secagg_settings, Coordinator("bench-secagg", secagg_settings), len(parts)
        )
    }
    timings: dict[str, float] = {}
    for name, group in (("message_api", plans), ("secagg", secagg)):
        work = Path(tempfile.mkdtemp(prefix="custos-fl-bench-"))
        try:
            t = time.perf_counter()
            simulate(list(group.values()), parts, work)
            timings[name] = time.perf_counter() - t
        finally:
            shutil.rmtree(work, ignore_errors=True)
    results: dict[str, Any] = {}
    levels: list[ModeResult] = []
    t = time.perf_counter()
    for mode, members in [("centralized", parts), *((f"alone:{p.department}", [p]) for p in parts)]:
        b = train_baseline(mode, members, test)
        results[mode] = {
            "macro_f1": b.macro_f1,
            "accuracy": b.accuracy,
            "train_loss": _union_loss(b.params, parts),
            "newton_iterations": b.iterations,
        }
        levels.append(ModeResult(mode, b.macro_f1, b.accuracy, (), b.examples))
    timings["baselines"] = time.perf_counter() - t
    central = results["centralized"]
    examples = sum(len(p.y_train) for p in parts)
    trained = []
    for name, plan in {**plans, **secagg}.items():
        results[name] = _rounds_summary(plan, parts)
        curve = tuple(r.macro_f1 for r in plan.coordinator.rounds)
        trained.append(ModeResult(name, curve[-1], results[name]["accuracy"], curve, examples))
    peak = max(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss,
    )
    report = {
        "population": clients,
        "training_clients": {p.department: len(p.y_train) for p in parts},
        "held_out_clients": len(test[1]),
        "rounds": rounds,
        "generate_seconds": round(gen_seconds, 2),
        "simulation_seconds": {k: round(v, 2) for k, v in timings.items()},
        "peak_rss_mib_largest_process": round(peak / 1024, 1),
        "results": results,
        "gaps_to_centralized_points": {
            k: round(100 * (central["macro_f1"] - v["macro_f1"]), 2)
            for k, v in results.items()
            if k.startswith("federated")
        },
    }
    text = json.dumps(report, indent=2)
    print(text)
    rows = [levels[0], *trained, *levels[1:]]
    print(table(rows, len(test[1])))
    plot = args.out / "macro_f1_per_round.png"
    plot_rounds(rows, plot, f"bench: {clients} clients, fedavg + momentum, {rounds} rounds")
    print(f"plot: {plot}")
    if args.json is not None:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
