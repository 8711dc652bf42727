"""The proof flow end to end over HTTP against a real `custos serve` on loopback:
decision (deny, proof_required, a proof request) → prove (the desk's prover, in this
process, on the same database) → POST /v1/proofs:verify → decision with the proof_id (allow).

Run: .venv/bin/python bench/zk_e2e.py [--quick]   (bench/zk.py calls ``run(quick)``)
Prints the median and 90th percentile of each step and of the whole round trip, and the
envelope's size. Prover, server and client share the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import socket
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
import structlog

ROOT = Path(__file__).resolve().parents[1]
CUSTOS = str(ROOT / ".venv" / "bin" / "custos")
AUM = "user.financial.assets_under_management"
STAGE = "qualified_investor_check"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _prepare(db: str, keys: Path, clients: int) -> tuple[str, list[str]]:
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.settings import ledger_settings

    services = build_services(api_settings(ledger=ledger_settings(database_url=db, data_dir=keys)))
    try:
        registry = services.custos.registry
        ids = []
        for n in range(clients):
            cid = registry.register_client()
            registry.collect(cid, {AUM: 3_000_000 + 1_000 * n}, by="compliance")
            registry.grant(cid, 2, ["kyc", "suitability", "investment_advice"])
            ids.append(cid)
        services.zk.desk.attest_all()
        key = services.accounts.create_app("advisory", "bench", services.clock()).key
    finally:
        services.close()
    return key, ids


def _wait_ready(base: str, server: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise SystemExit("custos serve exited before it was ready")
        try:
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.2)
    raise SystemExit("custos serve did not come up within 120 s")


def _summary(name: str, samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p90 = ms[min(len(ms) - 1, int(0.9 * len(ms)))]
    return f"  {name:<22} median {statistics.median(ms):7.1f} ms   p90 {p90:7.1f} ms"


def run(quick: bool) -> None:
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.settings import ledger_settings

    # The services opened here log every step at debug level; the timings are the output.
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    rounds = 5 if quick else 30
    with tempfile.TemporaryDirectory() as tmp:
        db, keys = f"sqlite:///{Path(tmp) / 'zk.db'}", Path(tmp) / "keys"
        key, clients = _prepare(db, keys, rounds)
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [CUSTOS, "serve", "--db", db, "--data-dir", str(keys), "--port", str(port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        prover = None
        try:
            _wait_ready(base, server)
            prover = build_services(
                api_settings(ledger=ledger_settings(database_url=db, data_dir=keys))
            )
            steps: dict[str, list[float]] = {
                k: [] for k in ("decision (deny)", "prove", "verify", "decision (allow)", "total")
            }
            size = 0
            headers = {"Authorization": f"Bearer {key}"}
            with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
                for client in clients:
                    ask = {
                        "client_id": client,
                        "purpose": "investment_advice",
                        "categories": [AUM],
                        "stage": STAGE,
                    }
                    t0 = time.perf_counter()
                    denied = http.post("/v1/decisions", json=ask).json()
                    t1 = time.perf_counter()
                    envelope = prover.zk.prove(denied["proof_request"]["request_id"])
                    t2 = time.perf_counter()
                    verdict = http.post("/v1/proofs:verify", json={"proof": envelope}).json()
                    t3 = time.perf_counter()
                    allowed = http.post(
                        "/v1/decisions", json=ask | {"proof_id": verdict["proof_id"]}
                    ).json()
                    t4 = time.perf_counter()
                    if not verdict["valid"] or allowed["outcome"] != "allow":
                        raise SystemExit(f"the flow failed: {verdict} / {allowed['reason']}")
                    size = len(json.dumps(envelope, separators=(",", ":")))
                    for name, dt in zip(
                        steps, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0), strict=True
                    ):
                        steps[name].append(dt)
        finally:
            if prover is not None:
                prover.close()
            server.terminate()
            server.wait(timeout=30)
    print(f"zk flow over HTTP, {rounds} rounds (AUM at least 3,000,000, 40 bits):")
    for name, samples in steps.items():
        print(_summary(name, samples))
    print(f"  envelope size          {size} bytes (JSON)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="5 rounds instead of 30")
    run(parser.parse_args().quick)


if __name__ == "__main__":
    main()
