"""Decisions over HTTP: a real `custos serve` on loopback under wrk (or an httpx loop).

Run: .venv/bin/python bench/decisions_http.py [--seconds 20] [--concurrency 8,16,32] [--workers 1]
Prints decisions/s and p50/p99 latency (each decision is on the ledger before its answer) for
single decisions at each connection count of the sweep, and for batches of 20, beside a
baseline measured in the same run against the same server: GET /healthz, a FastAPI route
that touches no database. The load generator shares the machine with the server.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
CUSTOS = str(ROOT / ".venv" / "bin" / "custos")
CATEGORIES = [
    "user.name",
    "user.contact.email",
    "user.financial.assets_under_management",
    "user.financial.risk_questionnaire",
    "user.demographic.dependents",
    "user.financial.tax_records",
]
PURPOSES = ["investment_advice", "suitability", "marketing", "risk_monitoring"]


def _prepare(workdir: Path) -> tuple[str, str, list[str]]:
    db = f"sqlite:///{workdir / 'bench.db'}"
    common = ["--db", db, "--data-dir", str(workdir / "keys")]
    subprocess.run(
        [CUSTOS, "demo", "seed", "--clients", "500", *common], check=True, capture_output=True
    )
    out = subprocess.run(
        [CUSTOS, "apps", "create", "--department", "advisory", "--name", "bench", *common],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    key = out.strip().rsplit(" ", 1)[-1]
    import sqlite3

    with sqlite3.connect(workdir / "bench.db") as conn:
        clients = [r[0] for r in conn.execute("SELECT id FROM clients WHERE erased_at IS NULL")]
    return db, key, clients


@dataclass(frozen=True)
class Workload:
    """One load on the server: where, with which app key and clients, what, how wide."""

    base: str
    key: str
    clients: list[str]
    workdir: Path  # where wrk's script goes
    path: str
    concurrency: int


async def _load(w: Workload, seconds: float) -> tuple[int, list[float], int]:
    base, key, clients, path, concurrency = w.base, w.key, w.clients, w.path, w.concurrency
    rng = random.Random(11)
    latencies: list[float] = []
    errors = 0
    stop = time.perf_counter() + seconds
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(
        base_url=base, limits=limits, timeout=30, headers={"Authorization": f"Bearer {key}"}
    ) as http:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < stop:
                t = time.perf_counter()
                if path == "/healthz":
                    r = await http.get(path)
                else:
                    r = await http.post(
                        path,
                        json={
                            "client_id": rng.choice(clients),
                            "purpose": rng.choice(PURPOSES),
                            "categories": [rng.choice(CATEGORIES)],
                        },
                    )
                latencies.append(time.perf_counter() - t)
                if r.status_code != 200:
                    errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return len(latencies), latencies, errors


_LUA = """
local clients = {%s}
local purposes = {"investment_advice", "suitability", "marketing", "risk_monitoring"}
local categories = {%s}
local items = %d
math.randomseed(11)
local function ask()
  return string.format('{"client_id":"%%s","purpose":"%%s","categories":["%%s"]}',
    clients[math.random(#clients)], purposes[math.random(#purposes)],
    categories[math.random(#categories)])
end
request = function()
  local body
  if items == 0 then
    body = ask()
  else
    local asks = {}
    for i = 1, items do asks[i] = ask() end
    body = '{"items":[' .. table.concat(asks, ",") .. ']}'
  end
  return wrk.format("POST", nil, {["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer %s"}, body)
end
"""
BATCH_ITEMS = 20
_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


def _wrk_ms(out: str, label: str) -> float:
    for line in out.splitlines():
        parts = line.split()
        if parts and parts[0] == label:
            for unit in ("us", "ms", "s"):
                if parts[1].endswith(unit):
                    return float(parts[1][: -len(unit)]) * _UNITS[unit]
    return float("nan")


def _wrk(w: Workload, seconds: float) -> tuple[float, float, float, int]:
    args = ["wrk", "-t1", f"-c{w.concurrency}", f"-d{seconds:.0f}s", "--latency"]
    if w.path != "/healthz":
        script = w.workdir / "decide.lua"
        quoted = ",".join(f'"{c}"' for c in w.clients[:200])
        items = BATCH_ITEMS if w.path.endswith(":batch") else 0
        script.write_text(_LUA % (quoted, ",".join(f'"{c}"' for c in CATEGORIES), items, w.key))
        args += ["-s", str(script)]
    command = [*args, w.base + w.path]
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    rps = float(next(x.split()[1] for x in lines if x.startswith("Requests/sec")))
    errors = sum(int(x.split()[-1]) for x in lines if "Non-2xx" in x)
    return rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def _measure(w: Workload, seconds: float) -> tuple[float, float, float, int]:
    """req/s, p50 ms, p99 ms and errors of one workload, after a 2-second warm-up."""
    if shutil.which("wrk") is not None:
        _wrk(w, 2)
        return _wrk(w, seconds)
    asyncio.run(_load(w, 2))
    n, lat, errors = asyncio.run(_load(w, seconds))
    return n / seconds, _pct(lat, 0.5), _pct(lat, 0.99), errors


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument(
        "--concurrency",
        default="8,16,32",
        help="connections for the single-decision workload, comma-separated (a sweep)",
    )
    parser.add_argument(
        "--base-concurrency", type=int, default=16, help="connections for /healthz and :batch"
    )
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    args = parser.parse_args()
    sweep = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db, key, clients = _prepare(workdir)
        port = 18000 + os.getpid() % 1000
        server = subprocess.Popen(
            [
                CUSTOS,
                "serve",
                "--db",
                db,
                "--data-dir",
                str(workdir / "keys"),
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(400):
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            load = partial(Workload, base, key, clients, workdir)
            results: dict[str, tuple[float, float, float, int]] = {}
            results["GET /healthz (a FastAPI route, no DB)"] = _measure(
                load("/healthz", args.base_concurrency), args.seconds
            )
            for c in sweep:
                results[f"POST /v1/decisions, {c} conns"] = _measure(
                    load("/v1/decisions", c), args.seconds
                )
            if shutil.which("wrk") is not None:
                results[f"POST /v1/decisions:batch x{BATCH_ITEMS}"] = _measure(
                    load("/v1/decisions:batch", args.base_concurrency), args.seconds
                )
            size = httpx.get(base + "/readyz").json()["ledger_size"]
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(
        f"machine: {os.cpu_count()} cores; {args.seconds:.0f} s per run; server: "
        f"{args.workers} process(es) (uvicorn, uvloop, httptools); "
        f"load: {'wrk' if shutil.which('wrk') else 'httpx'} on the same machine"
    )
    print(f"{'workload':40} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}  target")
    floor = results["GET /healthz (a FastAPI route, no DB)"][0]
    for name, (rps, p50, p99, errors) in results.items():
        verdict = ""
        if name.startswith("POST /v1/decisions,"):
            met = rps >= 2000 and p99 <= 20 and errors == 0
            verdict = "PASS" if met else "MISS"
        print(f"{name:40} {rps:9.0f} {p50:8.2f} {p99:8.2f} {errors:7d}  {verdict}")
    batch = f"POST /v1/decisions:batch x{BATCH_ITEMS}"
    if batch in results:
        print(f"batch endpoint: {results[batch][0] * BATCH_ITEMS:.0f} decisions/s")
    best = max(r[0] for n, r in results.items() if n.startswith("POST /v1/decisions,"))
    # Decisions take the fast lane (api/fast_lane.py), so they can outrun a plain route.
    print(f"best decisions/s relative to GET /healthz through FastAPI: {best / floor:.2f}x")
    print("target per decisions row: >= 2,000 decisions/s with p99 <= 20 ms, no errors")
    print(json.dumps({"ledger_entries_after_run": size}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
