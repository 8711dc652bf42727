"""Decisions over HTTP: a real `custos serve` process on loopback, an async load generator.

Run: .venv/bin/python bench/decisions_http.py [--seconds 20] [--concurrency 16] [--workers 1]
Prints decisions/s and p50/p99 latency (each decision is on the ledger before its answer),
single decisions and batches of 20, beside a baseline measured in the same run against the
same server: GET /healthz, a FastAPI route that touches no database.
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


async def _load(
    base: str, key: str, clients: list[str], seconds: float, concurrency: int, path: str
) -> tuple[int, list[float], int]:
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


def _wrk(
    base: str,
    path: str,
    key: str,
    clients: list[str],
    seconds: float,
    concurrency: int,
    workdir: Path,
) -> tuple[float, float, float, int]:
    args = ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:.0f}s", "--latency"]
    if path != "/healthz":
        script = workdir / "decide.lua"
        quoted = ",".join(f'"{c}"' for c in clients[:200])
        items = BATCH_ITEMS if path.endswith(":batch") else 0
        script.write_text(_LUA % (quoted, ",".join(f'"{c}"' for c in CATEGORIES), items, key))
        args += ["-s", str(script)]
    out = subprocess.run([*args, base + path], capture_output=True, text=True, check=True).stdout
    lines = out.splitlines()
    rps = float(next(x.split()[1] for x in lines if x.startswith("Requests/sec")))
    errors = sum(int(x.split()[-1]) for x in lines if "Non-2xx" in x)
    return rps, _wrk_ms(out, "50%"), _wrk_ms(out, "99%"), errors


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="uvicorn server processes")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db, key, clients = _prepare(workdir)
        port = 18000 + os.getpid() % 1000
        env = dict(os.environ)
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
            env=env,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(200):
                try:
                    if httpx.get(base + "/healthz").status_code == 200:
                        break
                except httpx.TransportError:
                    time.sleep(0.05)
            results = {}
            use_wrk = shutil.which("wrk") is not None
            workloads = [
                ("GET /healthz (a FastAPI route, no DB)", "/healthz"),
                ("POST /v1/decisions", "/v1/decisions"),
            ]
            if use_wrk:
                workloads.append(
                    (f"POST /v1/decisions:batch x{BATCH_ITEMS}", "/v1/decisions:batch")
                )
            for name, path in workloads:
                if use_wrk:
                    _wrk(base, path, key, clients, 2, args.concurrency, workdir)  # warm-up
                    results[name] = _wrk(
                        base, path, key, clients, args.seconds, args.concurrency, workdir
                    )
                    continue
                asyncio.run(_load(base, key, clients, 2, args.concurrency, path))  # warm-up
                n, lat, errors = asyncio.run(
                    _load(base, key, clients, args.seconds, args.concurrency, path)
                )
                results[name] = (n / args.seconds, _pct(lat, 0.5), _pct(lat, 0.99), errors)
            size = httpx.get(base + "/readyz").json()["ledger_size"]
        finally:
            server.terminate()
            server.wait(timeout=20)
    print(
        f"machine: {os.cpu_count()} cores; concurrency {args.concurrency}; "
        f"{args.seconds:.0f} s per run; server: {args.workers} uvicorn process(es) "
        f"(uvloop, httptools); load: {'wrk' if shutil.which('wrk') else 'httpx'}"
    )
    print(f"{'workload':36} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7}")
    for name, (rps, p50, p99, errors) in results.items():
        print(f"{name:36} {rps:9.0f} {p50:8.2f} {p99:8.2f} {errors:7d}")
    batch = f"POST /v1/decisions:batch x{BATCH_ITEMS}"
    if batch in results:
        print(
            f"batch endpoint: {results[batch][0] * BATCH_ITEMS:.0f} decisions/s "
            f"({BATCH_ITEMS} per request)"
        )
    floor = results["GET /healthz (a FastAPI route, no DB)"][0]
    rps, _, p99, _ = results["POST /v1/decisions"]
    # Decisions take the fast lane (api/fast_lane.py), so they can outrun a plain route.
    print(f"decisions/s relative to GET /healthz through FastAPI: {rps / floor:.2f}x")
    print(
        f"targets: >= 2000 decisions/s: {'PASS' if rps >= 2000 else 'MISS'}; "
        f"p99 <= 20 ms: {'PASS' if p99 <= 20 else 'MISS'}"
    )
    print(json.dumps({"ledger_entries_after_run": size}))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
