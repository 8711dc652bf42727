"""`custos serve --workers N`: N processes, each on its own SO_REUSEPORT socket, sharing one
ledger; they stop together on SIGTERM, and a taken port is a clear error."""

from __future__ import annotations

import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.support.server import free_port, wait_until_healthy

CUSTOS = str(Path(sys.executable).with_name("custos"))


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.add(int(entry.name))
    return found


@pytest.mark.slow
def test_workers_share_the_ledger_and_stop_together(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'w.db'}"
    common = ["--db", db, "--data-dir", str(tmp_path / "keys")]
    subprocess.run([CUSTOS, "demo", "seed", "--clients", "5", *common], check=True)
    created = subprocess.run(
        [CUSTOS, "apps", "create", "--department", "advisory", "--name", "w", *common],
        check=True,
        capture_output=True,
        text=True,
    )
    key = created.stdout.strip().rsplit(" ", 1)[-1]
    port = free_port()
    server = subprocess.Popen([CUSTOS, "serve", *common, "--port", str(port), "--workers", "2"])
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(base, server)
        workers = _children(server.pid)
        assert len(workers) >= 2  # the two servers (spawn may add its resource tracker)
        with sqlite3.connect(tmp_path / "w.db") as conn:
            clients = [
                r[0] for r in conn.execute("SELECT id FROM clients WHERE erased_at IS NULL LIMIT 4")
            ]
        indices = []
        for n in range(20):
            # A fresh connection each time: the kernel spreads them over both workers.
            with httpx.Client(base_url=base, timeout=30) as http:
                answer = http.post(
                    "/v1/decisions",
                    json={
                        "client_id": clients[n % len(clients)],
                        "purpose": "investment_advice",
                        "categories": ["user.name"],
                    },
                    headers={"Authorization": f"Bearer {key}"},
                )
            assert answer.status_code == 200
            indices.append(answer.json()["ledger_index"])
        assert len(set(indices)) == 20
    finally:
        server.send_signal(signal.SIGTERM)
        code = server.wait(timeout=30)
    assert code == 0
    deadline = time.monotonic() + 60  # orphans are reaped by init a moment after the parent
    while any(Path(f"/proc/{pid}").exists() for pid in workers):
        assert time.monotonic() < deadline, "a worker outlived the server"
        time.sleep(0.1)
    # Both processes appended to one chain: it verifies end to end, against this test's keys
    # (a `make run` in the checkout leaves its own in ./.custos, the default data directory).
    verified = subprocess.run(
        [CUSTOS, "ledger", "verify", *common], capture_output=True, text=True, check=False
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_taken_port_is_a_clear_error(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        common = ["--db", f"sqlite:///{tmp_path / 'p.db'}", "--data-dir", str(tmp_path / "k")]
        done = subprocess.run(
            [CUSTOS, "serve", *common, "--port", str(port), "--workers", "2"],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
