"""``custos zk``: attest, prove and verify as real processes on a real database."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from api.settings import api_settings
from api.state import build_services
from consent_ledger.settings import ledger_settings
from policies.service import DecisionAsk
from privacy.zk.parameters import parameters
from tests.zk.flow_world import AUM, POOR_AUM, RICH_AUM, STAGE, _client

# Generous: a loaded 2-core machine starts Python and opens the database slowly.
TIMEOUT = 180
# The installed console script, as an operator runs it.
CUSTOS = str(Path(sys.executable).parent / "custos")


@dataclass
class Install:
    db: str
    keys: Path
    rich: str
    poor: str
    requests: dict[str, Path]  # client → its proof_request file
    parameters: Path

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [CUSTOS, "zk", *args],
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            check=False,
        )

    def with_db(self, *args: str) -> subprocess.CompletedProcess[str]:
        return self.run(*args, "--db", self.db, "--data-dir", str(self.keys))


@pytest.fixture
def install(tmp_path: Path) -> Iterator[Install]:
    """On the real clock: the processes below see the requests as fresh."""
    db, keys = f"sqlite:///{tmp_path / 'c.db'}", tmp_path / "keys"
    services = build_services(api_settings(ledger=ledger_settings(database_url=db, data_dir=keys)))
    try:
        rich, poor = _client(services, RICH_AUM), _client(services, POOR_AUM)
        app = services.accounts.authenticate(
            services.accounts.create_app("advisory", "crm", services.clock()).key
        )
        files = {}
        for client in (rich, poor):
            ask = DecisionAsk(client, "investment_advice", (AUM,), "row", STAGE)
            (recorded,) = services.decisions.decide(app, [ask])
            assert recorded.proof_request is not None
            files[client] = tmp_path / f"{client}.json"
            files[client].write_text(
                json.dumps({"proof_request": recorded.proof_request.to_json()})
            )
    finally:
        services.close()
    yield Install(db, keys, rich, poor, files, tmp_path / "parameters.json")


def _write_parameters(install: Install) -> None:
    services = build_services(
        api_settings(ledger=ledger_settings(database_url=install.db, data_dir=install.keys))
    )
    try:
        doc = parameters(services.zk.parameters_keys(), services.zk.attributes)
    finally:
        services.close()
    install.parameters.write_text(json.dumps(doc))


def test_attest_prove_and_verify_offline(install: Install, tmp_path: Path) -> None:
    one = install.with_db("attest", "--client", install.rich)
    assert one.returncode == 0, one.stderr
    assert one.stdout.startswith(f"attested 3 attributes of {install.rich}")
    every = install.with_db("attest", "--all")
    assert every.returncode == 0 and every.stdout.strip() == "attested 6 attributes"
    proved = install.with_db("prove", "--request", str(install.requests[install.rich]))
    assert proved.returncode == 0, proved.stderr
    envelope = json.loads(proved.stdout)
    assert envelope["format"] == "custos-zk-proof" and str(RICH_AUM) not in proved.stdout
    _write_parameters(install)
    path = tmp_path / "envelope.json"
    path.write_text(proved.stdout)
    ok = install.run("verify", "--envelope", str(path), "--parameters", str(install.parameters))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert ok.stdout.startswith("ok: proof for request ")
    envelope["context"]["purpose"] = "marketing"
    path.write_text(json.dumps(envelope))
    bad = install.run("verify", "--envelope", str(path), "--parameters", str(install.parameters))
    assert bad.returncode == 1 and bad.stdout.startswith("FAILED: invalid_proof")


def test_prove_says_when_the_predicate_does_not_hold(install: Install) -> None:
    assert install.with_db("attest", "--all").returncode == 0
    out = install.with_db("prove", "--request", str(install.requests[install.poor]))
    assert out.returncode == 1 and "the predicate does not hold" in out.stderr
    assert out.stdout == "" and str(POOR_AUM) not in out.stderr


def test_prove_names_the_missing_consent(install: Install) -> None:
    assert install.with_db("attest", "--all").returncode == 0
    services = build_services(
        api_settings(ledger=ledger_settings(database_url=install.db, data_dir=install.keys))
    )
    try:
        services.custos.registry.set_purposes(install.rich, ["kyc", "suitability"])
    finally:
        services.close()
    out = install.with_db("prove", "--request", str(install.requests[install.rich]))
    assert out.returncode == 1 and "consent" in out.stderr and "investment_advice" in out.stderr


def test_bad_input_is_a_usage_error(install: Install, tmp_path: Path) -> None:
    both = install.with_db("attest", "--client", install.rich, "--all")
    assert both.returncode == 2 and "exactly one" in both.stderr
    junk = tmp_path / "junk.json"
    junk.write_text("{not json")
    out = install.with_db("prove", "--request", str(junk))
    assert out.returncode == 2 and "not JSON" in out.stderr
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"request_id": "pr_" + "0" * 24, "nonce": "x"}))
    out = install.with_db("prove", "--request", str(other))
    assert out.returncode == 1 and "no proof request" in out.stderr
    _write_parameters(install)
    out = install.run("verify", "--envelope", str(junk), "--parameters", str(install.parameters))
    assert out.returncode == 2


def test_the_desk_key_rotates_like_the_other_keys(install: Install) -> None:
    """custos keys rotate --zk-desk (and custos zk rotate-key) retire the desk key and
    re-attest every commitment under a new one."""
    assert install.with_db("attest", "--all").returncode == 0
    out = subprocess.run(
        [
            CUSTOS,
            "keys",
            "rotate",
            "--zk-desk",
            "--db",
            install.db,
            "--data-dir",
            str(install.keys),
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert out.returncode == 0 and out.stdout.startswith("desk key rotated; new key "), out.stderr
    again = install.with_db("rotate-key")
    assert again.returncode == 0 and again.stdout.startswith("desk key rotated; new key ")
    _write_parameters(install)
    keys = json.loads(install.parameters.read_text())["desk_keys"]
    assert [k["valid_until"] is None for k in keys] == [False, False, True]
    both = subprocess.run(
        [CUSTOS, "keys", "rotate", "--zk-desk", "--master", "--db", install.db],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert both.returncode == 2 and "exactly one" in both.stderr
