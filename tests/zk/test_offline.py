"""The offline verifier: an auditor's check of a recorded proof from the envelope and the
published parameters alone, importing nothing of the server."""

from __future__ import annotations

import ast
import copy
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from privacy.zk import bulletproofs
from privacy.zk.flow_errors import AttestationInvalid
from privacy.zk.offline import parse_parameters, verify_offline
from tests.zk.flow_world import Flow, flow

__all__ = ["flow"]

ROOT = Path(__file__).resolve().parents[2]
PROJECT = {"api", "policies", "consent_ledger", "federated", "privacy", "custos_errors", "tests"}


def _module_path(name: str) -> Path | None:
    base = ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _closure(start: str) -> set[str]:
    """Every project module ``start`` imports, directly or not (from the source, so an
    import inside a function counts too)."""
    seen: set[str] = set()
    todo = [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_path(name)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            todo += [n for n in names if n.split(".")[0] in PROJECT and _module_path(n)]
    return seen


def test_the_offline_verifier_imports_only_privacy_zk_and_custos_errors() -> None:
    closure = _closure("privacy.zk.offline")
    outside = {
        m for m in closure if not (m.startswith("privacy.zk") or m in ("privacy", "custos_errors"))
    }
    assert outside == set(), outside
    # And at run time: importing it loads no server package.
    probe = (
        "import sys, privacy.zk.offline; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'api', 'policies', 'consent_ledger', 'federated'}))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr


def _recorded(f: Flow) -> tuple[dict[str, Any], dict[str, Any]]:
    envelope = f.prove(f.proof_request(f.rich))
    assert f.verify(envelope)["valid"]
    params = f.http.get("/v1/zk/parameters").json()
    return json.loads(json.dumps(envelope)), params


def test_a_recorded_proof_verifies_offline(flow: Flow) -> None:
    envelope, params = _recorded(flow)
    verdict = verify_offline(envelope, parse_parameters(params))
    assert (verdict.valid, verdict.reason) == (True, "verified")
    assert verdict.context["client"] == flow.rich


def test_offline_a_rotated_key_still_vouches_for_what_it_signed_before(flow: Flow) -> None:
    """The server refuses attestations of a rotated-out key from then on; the auditor, who
    re-checks an old proof, accepts what the key signed while it was in force."""
    envelope, _ = _recorded(flow)
    flow.services.zk.desk.rotate()
    params = flow.http.get("/v1/zk/parameters").json()
    assert verify_offline(envelope, parse_parameters(params)).valid


def test_offline_an_unknown_key_or_a_tampered_envelope_fails(flow: Flow) -> None:
    envelope, params = _recorded(flow)
    no_keys = parse_parameters(params | {"desk_keys": []})
    assert verify_offline(envelope, no_keys).reason == "attestation_unknown_key"
    tampered = copy.deepcopy(envelope)
    tampered["context"]["department"] = "risk"
    verdict = verify_offline(tampered, parse_parameters(params))
    assert not verdict.valid and verdict.reason.startswith("invalid_proof")


def _bulletproofs_changed(params: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    edited = copy.deepcopy(params)
    edited["bulletproofs"][key] = value
    return edited


def test_the_parameters_serve_the_bulletproofs_generators(flow: Flow) -> None:
    served = flow.http.get("/v1/zk/parameters").json()["bulletproofs"]
    assert served == bulletproofs.public_parameters()
    assert served["dst"] == bulletproofs.DST.decode() and served["vector_length"] == 64
    assert len(served["g"]) == len(served["h"]) == 64 and served["tail"] == 4


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("dst", "CUSTOS-ZK-V01-OTHER-with-BLS12381G1_XMD:SHA-256_SSWU_RO_"),
        ("g_prefix", "custos/zk/bulletproofs/G"),
        ("derivation", "g[i] = whatever the server likes"),
        ("vector_length", 128),
        ("u", "A" * 64),
    ],
)
def test_parameters_with_other_bulletproofs_generators_are_refused(
    flow: Flow, key: str, value: Any
) -> None:
    params = _bulletproofs_changed(flow.http.get("/v1/zk/parameters").json(), key, value)
    with pytest.raises(AttestationInvalid, match="Bulletproofs generators") as refused:
        parse_parameters(params)
    assert refused.value.field == "parameters.bulletproofs"
    swapped = _bulletproofs_changed(params, "g", list(reversed(params["bulletproofs"]["g"])))
    with pytest.raises(AttestationInvalid, match="Bulletproofs generators"):
        parse_parameters(swapped)
    with pytest.raises(AttestationInvalid, match="Bulletproofs generators"):
        parse_parameters({k: v for k, v in params.items() if k != "bulletproofs"})


def test_offline_verification_fails_on_a_foreign_bulletproofs_tag(
    flow: Flow, tmp_path: Path
) -> None:
    envelope, params = _recorded(flow)
    paths = {name: tmp_path / f"{name}.json" for name in ("envelope", "good", "foreign")}
    paths["envelope"].write_text(json.dumps(envelope))
    paths["good"].write_text(json.dumps(params))
    foreign = _bulletproofs_changed(params, "dst", "CUSTOS-ZK-V02-BULLETPROOFS")
    paths["foreign"].write_text(json.dumps(foreign))
    runner = CliRunner()
    for name, code in (("good", 0), ("foreign", 2)):
        out = runner.invoke(
            cli,
            [
                "zk",
                "verify",
                "--envelope",
                str(paths["envelope"]),
                "--parameters",
                str(paths[name]),
            ],
        )
        assert out.exit_code == code, out.output
    assert "Bulletproofs generators" in out.output


@pytest.mark.parametrize(
    "change",
    [
        {"format": "other"},
        {"version": 2},
        {"generators": {"g": "AA", "h": "AA", "dst": "x", "h_message": "y"}},
        {"desk_keys": [{"key_id": "x"}]},
        {"protocol": None},
    ],
)
def test_bad_parameters_are_refused(flow: Flow, change: dict[str, Any]) -> None:
    params = flow.http.get("/v1/zk/parameters").json() | change
    with pytest.raises(AttestationInvalid):
        parse_parameters(params)
