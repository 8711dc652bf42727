"""Both engines end to end, as real processes: ``custos fl run`` (the Simulation Engine, in
.venv-fl) and a SuperLink with three SuperNodes on loopback (the Deployment Engine)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from consent_ledger.encoding import decode_entry
from consent_ledger.errors import ConsentNotFound
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from policies.books import clients_in_book
from tests.federated.conftest import seed_database

ROOT = Path(__file__).resolve().parents[2]
FL_BIN = ROOT / ".venv-fl" / "bin"
CUSTOS = str(Path(sys.executable).parent / "custos")
TIMEOUT = 600  # generous: two cores shared with other work

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fl-engines")
    seed_database(folder, 900, seed=8)
    return folder


@pytest.fixture
def db(template: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "db"
    shutil.copytree(template, folder)
    return folder


def _fl(db: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CUSTOS, "fl", "run", "--db", str(db / "custos.db"), "--data-dir", str(db / "keys"), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        cwd=cwd,
        check=False,
    )


def _entries(db: Path, start: int = 0) -> list[Any]:
    custos = open_custos(
        ledger_settings(database_url=f"sqlite:///{db / 'custos.db'}", data_dir=db / "keys")
    )
    try:
        return [decode_entry(e.leaf) for e in custos.ledger.entries(start)]
    finally:
        custos.close()


def _fl_entries(db: Path) -> list[Any]:
    return [e for e in _entries(db) if e.type.startswith("fl_")]


def test_a_run_reports_records_and_saves_the_models(db: Path, tmp_path: Path) -> None:
    """Under SecAgg+, which both modes then aggregate with (one simulation less than a
    separate run: the message-API path runs in the fault tests and the deployment test)."""
    out, report = tmp_path / "out", tmp_path / "report.json"
    args = ["--rounds", "2", "--dp", "--secagg", "--json", str(report), "--out", str(out)]
    done = _fl(db, *args, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    modes = [line.split()[0] for line in lines[2:]]
    assert modes == [
        "centralized",
        "federated",
        "federated+dp",
        "alone:advisory",
        "alone:research",
        "alone:risk",
    ]
    assert "round   2/2" in done.stderr
    data = json.loads(report.read_text())
    assert [m["mode"] for m in data["modes"]] == modes
    for m in data["modes"]:
        assert 0 <= m["macro_f1"] <= 1 and 0 <= m["accuracy"] <= 1
        # The federated rows have a round's score each; the comparison rows are converged.
        if m["mode"].startswith("federated"):
            assert len(m["curve"]) == 2
        else:
            assert m["curve"] == []
            assert m["extra"]["newton_iterations"] >= 1
    assert (out / "macro_f1_per_round.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    entries = _fl_entries(db)
    started = [e for e in entries if e.type == "fl_run_started"]
    assert [e.body["mode"] for e in started] == ["federated", "federated+dp"]
    assert {e.body["engine"] for e in started} == {"simulation"}
    secagg = {"num_shares": 3, "reconstruction_threshold": 2}
    assert all(e.body["secagg"] == secagg for e in started)
    assert started[1].body["dp"]["epsilon"] == "8"
    for run in started:
        run_id = run.body["run_id"]
        rounds = [e for e in entries if e.type == "fl_round" and e.body["run_id"] == run_id]
        assert [r.body["round"] for r in rounds] == [1, 2]
        assert all(r.body["departments"] == ["advisory", "research", "risk"] for r in rounds)
        (model,) = [e for e in entries if e.type == "fl_model" and e.body["run_id"] == run_id]
        name = run.body["mode"].replace("+", "-")
        sha = hashlib.sha256((out / f"{name}.npz").read_bytes()).hexdigest()
        assert model.body["sha256"] == sha
        card = json.loads((out / f"{name}.card.json").read_text())
        assert card["sha256"] == sha
        assert card["ledger"]["fl_run_started"] == run.index
        assert card["ledger"]["fl_round"] == [r.index for r in rounds]
        assert card["ledger"]["fl_model"] == model.index
    dp_rounds = [e for e in entries if e.type == "fl_round" and e.body["epsilon_spent"]]
    spent = [float(v) for v in dp_rounds[-1].body["epsilon_spent"].values()]
    assert all(0 < v <= 8 for v in spent)


def test_faulty_updates_are_rejected_and_a_failing_node_does_not_stop_training(
    db: Path, tmp_path: Path
) -> None:
    done = _fl(
        db,
        "--rounds",
        "2",
        "--inject-fault",
        "research:1:nan",
        "--inject-fault",
        "risk:2:crash",
        "--inject-fault",
        "advisory:2:shape",
        "--min-departments",
        "1",
        "--out",
        str(tmp_path / "out"),
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rounds = [e.body for e in _fl_entries(db) if e.type == "fl_round"]
    assert rounds[0]["departments"] == ["advisory", "risk"]
    assert rounds[0]["rejected"] == {"research": "non-finite values"}
    assert rounds[1]["departments"] == ["research"]
    assert "shape" in rounds[1]["rejected"]["advisory"]
    assert rounds[1]["rejected"]["risk"].startswith("node failed")
    assert "fl_update_rejected" in done.stdout + done.stderr


def test_a_department_without_consenting_clients_is_skipped(db: Path, tmp_path: Path) -> None:
    custos = open_custos(
        ledger_settings(database_url=f"sqlite:///{db / 'custos.db'}", data_dir=db / "keys")
    )
    try:
        for cid in clients_in_book(custos.db, "research"):
            consent = custos.registry.current(cid)
            if consent is not None and "model_training" in consent.purposes:
                # An expired consent cannot be revoked; it covers nothing anyway.
                with contextlib.suppress(ConsentNotFound):
                    custos.registry.revoke(cid, ["model_training"])
    finally:
        custos.close()
    done = _fl(db, "--rounds", "1", "--out", str(tmp_path / "out"), cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "skipping department research" in done.stderr
    started = [e for e in _fl_entries(db) if e.type == "fl_run_started"]
    assert started[0].body["departments"] == ["advisory", "risk"]
    assert "alone:research" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--rounds", "0"], "--rounds must be at least 1"),
        (["--rounds", "1", "--departments", "treasury"], "unknown department 'treasury'"),
        (["--rounds", "1", "--epsilon", "-1", "--dp"], "--epsilon must be positive"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(
    db: Path, tmp_path: Path, args: list[str], message: str
) -> None:
    size = len(_entries(db))
    done = _fl(db, *args, cwd=tmp_path)
    assert done.returncode == 1
    assert message in done.stderr
    assert len(_entries(db)) == size


def test_a_database_with_no_training_data_is_an_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    done = _fl(empty, "--rounds", "1", cwd=tmp_path)
    assert done.returncode == 1
    assert "no department has a client whose consent covers model training" in done.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _wait_for_port(port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"process exited early:\n{log.read_text()[-3000:]}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port}:\n{log.read_text()[-3000:]}")


@contextmanager
def _processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Every process started here runs in its own process group, which is stopped (TERM,
    then KILL) at the end whatever happened."""
    started: list[subprocess.Popen[bytes]] = []
    try:
        yield started
    finally:
        for proc in started:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in started:
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)


@dataclass
class _Cluster:
    """A SuperLink and one SuperNode per department on loopback, and how to reach them."""

    env: dict[str, str]
    nodes: dict[str, subprocess.Popen[bytes]]

    def submit(self, run_config: str) -> subprocess.Popen[str]:
        """``flwr run`` of the app on this SuperLink, streaming until the run ends."""
        return subprocess.Popen(
            [
                str(FL_BIN / "flwr"),
                "run",
                str(ROOT / "federated" / "app"),
                "custos",
                "--run-config",
                run_config,
                "--stream",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=self.env,
        )


@contextmanager
def _deployment(db: Path, tmp_path: Path) -> Iterator[_Cluster]:
    home = tmp_path / "flwr-home"
    home.mkdir()
    link = _free_port()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "custos"\n\n[superlink.custos]\n'
        f'address = "127.0.0.1:{link}"\ninsecure = true\n'
    )
    env = dict(os.environ) | {
        "FLWR_HOME": str(home),
        "FLWR_DISABLE_UPDATE_CHECK": "1",
        "FLWR_TELEMETRY_ENABLED": "0",
        "RAY_USAGE_STATS_ENABLED": "0",
    }
    common = ["--db", str(db / "custos.db"), "--data-dir", str(db / "keys")]
    with _processes() as started:
        log = tmp_path / "superlink.log"
        with log.open("wb") as f:
            started.append(
                subprocess.Popen(
                    [CUSTOS, "fl", "superlink", "--port", str(link)],
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            )
        _wait_for_port(link, started[0], log)
        nodes, ports = {}, {}
        # All three start at once (each first reads its partition through the policy engine).
        for dept in ("advisory", "research", "risk"):
            ports[dept] = _free_port()
            with (tmp_path / f"{dept}.log").open("wb") as f:
                nodes[dept] = subprocess.Popen(
                    [
                        CUSTOS,
                        "fl",
                        "supernode",
                        "--department",
                        dept,
                        *common,
                        "--superlink",
                        f"127.0.0.1:{link}",
                        "--port",
                        str(ports[dept]),
                        "--partition-dir",
                        str(tmp_path / f"part-{dept}"),
                    ],
                    stdout=f,
                    stderr=subprocess.STDOUT,
                    env=env,
                    start_new_session=True,
                )
            started.append(nodes[dept])
        for dept, proc in nodes.items():
            _wait_for_port(ports[dept], proc, tmp_path / f"{dept}.log")
        yield _Cluster(env, nodes)
    assert all(proc.poll() is not None for proc in started)


def _run_config(db: Path, out: Path, extra: str) -> str:
    db_url = f"sqlite:///{db / 'custos.db'}"
    return f"db-url='{db_url}' data-dir='{db / 'keys'}' out='{out}' {extra}"


def _finished(run: subprocess.Popen[str]) -> None:
    try:
        stdout, stderr = run.communicate(timeout=TIMEOUT)
    finally:
        if run.poll() is None:
            run.kill()
            run.wait()
    assert run.returncode == 0, stdout[-3000:] + stderr[-3000:]


def _recorded(db: Path, server_round: int, after: int) -> bool:
    """Whether the round's entry has landed after the first ``after`` entries of the
    federated runs: read-only, straight from the ledger table, while the ServerApp is
    writing to it."""
    with contextlib.closing(
        sqlite3.connect(f"file:{db / 'custos.db'}?mode=ro", uri=True, timeout=30)
    ) as conn:
        leaves = conn.execute("SELECT leaf FROM ledger_entries ORDER BY idx").fetchall()
    entries = [e for (leaf,) in leaves if (e := decode_entry(bytes(leaf))).type.startswith("fl_")]
    return any(e.type == "fl_round" and e.body["round"] == server_round for e in entries[after:])


def _wait_for_round(db: Path, server_round: int, run: subprocess.Popen[str], after: int) -> None:
    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        if _recorded(db, server_round, after):
            return
        if run.poll() is not None:
            raise AssertionError(f"the run ended before round {server_round} was recorded")
        time.sleep(0.5)
    raise AssertionError(f"round {server_round} was not recorded in time")


def test_deployment_engine_on_loopback(db: Path, tmp_path: Path) -> None:
    """Two runs on one SuperLink with three SuperNodes (each cluster start costs tens of
    seconds): a round under SecAgg+, then a DP run of 2 rounds with the risk node
    SIGKILLed in round 2.

    No timing luck in the kill: the node is killed only once round 1 is on the ledger (so
    round 1 had all three), and the ``stall`` drill makes it hang on round 2's training
    message instead of answering it, so whether the kill lands before or after that message
    arrives, the node never replies to round 2. The SuperLink declares it gone when its
    heartbeats stop (Flower's fixed 2 x 30 s), answers its message with an error, and the
    round aggregates the other two (min-departments=2)."""
    out = tmp_path / "out"
    with _deployment(db, tmp_path) as cluster:
        _finished(cluster.submit(_run_config(db, out / "secagg", "rounds=1 secagg=true")))
        extra = "rounds=2 dp=true min-departments=2 fault='risk:2:stall'"
        run = cluster.submit(_run_config(db, out / "dp", extra))
        try:
            _wait_for_round(db, 1, run, after=len(_fl_entries(db)))
            os.killpg(cluster.nodes["risk"].pid, signal.SIGKILL)
            cluster.nodes["risk"].wait(timeout=30)
        finally:
            _finished(run)
    entries = _fl_entries(db)
    assert [e.type for e in entries] == [
        *["fl_run_started", "fl_round", "fl_model"],
        *["fl_run_started", "fl_round", "fl_round", "fl_model"],
    ]
    secagg, masked_round = entries[0].body, entries[1].body
    assert secagg["engine"] == "deployment"
    assert secagg["secagg"] == {"num_shares": 3, "reconstruction_threshold": 2}
    assert masked_round["departments"] == ["advisory", "research", "risk"]
    sha = hashlib.sha256((out / "secagg" / "federated.npz").read_bytes()).hexdigest()
    assert entries[2].body["sha256"] == sha

    started, first, second, model = (e.body for e in entries[3:])
    assert started["engine"] == "deployment"
    assert started["mode"] == "federated+dp"
    assert started["secagg"] is None
    assert first["departments"] == ["advisory", "research", "risk"]
    assert first["rejected"] == {}
    spent = first["epsilon_spent"]
    assert set(spent) == {"advisory", "research", "risk"}
    assert all(0 < float(v) <= 8 for v in spent.values())
    assert second["departments"] == ["advisory", "research"]
    assert set(second["examples"]) == {"advisory", "research"}
    assert list(second["rejected"]) == ["risk"]
    assert second["rejected"]["risk"].startswith("node failed")
    sha = hashlib.sha256((out / "dp" / "federated-dp.npz").read_bytes()).hexdigest()
    assert model["sha256"] == sha
