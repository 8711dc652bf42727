"""Work caps (privacy/zk/caps.py): a hostile envelope cannot make the verifier do unbounded
work. Over a cap — range bits, claims, set size, list lengths, file size — the envelope is
refused with a clear reason and not one curve operation has run."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from api.cli import app as cli
from consent_ledger.catalogue import load_catalogue
from policies.attributes import default_attributes
from privacy.zk import caps, pedersen, proofs
from privacy.zk.backend import Backend, use
from privacy.zk.envelope import MAX_CLAIMS
from privacy.zk.errors import InvalidEnvelope, InvalidStatement
from privacy.zk.parameters import parameters
from privacy.zk.predicates import MAX_ONE_OF, AtLeast, Between, OneOf, Predicate
from tests.zk.flow_world import Flow, flow

__all__ = ["flow"]

CONTEXT = {"nonce": "n", "department": "advisory"}
CURVE_OPS = ("decode", "msm", "mul", "mul_fixed", "add", "neg", "pow2_sum", "hash_to_g1")


@pytest.fixture(params=["py_ecc", "arkworks"])
def backend(request: pytest.FixtureRequest) -> Iterator[Backend]:
    with use(request.param) as b:
        yield b


@contextmanager
def no_curve_math(b: Backend) -> Iterator[list[str]]:
    """Records every curve operation of ``b`` in the block; the caller asserts none ran."""
    calls: list[str] = []
    with pytest.MonkeyPatch.context() as m:
        for name in CURVE_OPS:
            real = getattr(b, name)

            def counted(*args: Any, _name: str = name, _real: Any = real) -> Any:
                calls.append(_name)
                return _real(*args)

            m.setattr(b, name, counted)
        yield calls
    assert calls == [], calls


def _prove(scheme: str, parts: list[tuple[int, Predicate, int]]) -> dict[str, Any]:
    claims, witnesses = [], []
    for value, predicate, n in parts:
        r = pedersen.random_scalar()
        claims.append(proofs.Claim(pedersen.commit(value, r), predicate, n))
        witnesses.append(proofs.Witness(value, r))
    return proofs.prove(claims, witnesses, CONTEXT, scheme=scheme)


def _repeat_claim(envelope: dict[str, Any], times: int) -> dict[str, Any]:
    """The envelope with its one claim (and its proof) given ``times`` times: what a prover
    cannot make (the cap refuses it) but an attacker can write."""
    edited = copy.deepcopy(envelope)
    for part in (edited, edited["proof"]):
        part["claims"] = [copy.deepcopy(part["claims"][0]) for _ in range(times)]
    return edited


def test_the_caps_are_what_the_readme_says() -> None:
    assert caps.MAX_RANGE_BITS == 320 and MAX_CLAIMS == 8 and MAX_ONE_OF == 32
    assert caps.MAX_ENVELOPE_BYTES == 2 * 1024 * 1024


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_more_range_bits_than_the_cap_are_refused_before_any_curve_math(
    backend: Backend, scheme: str
) -> None:
    with use("arkworks"):
        one = _prove(scheme, [(200, Between(100, 300), 40)])  # 80 range bits
    over = _repeat_claim(one, 5)  # 400 > 320
    with no_curve_math(backend):
        verdict = proofs.verify(over)
    assert not verdict.valid
    assert verdict.reason == f"{proofs.OVER_CAP}: the claims ask for 400 range bits, at most 320"
    with no_curve_math(backend), pytest.raises(InvalidEnvelope, match="400 range bits"):
        proofs.read_statement(over)


def test_exactly_at_the_cap_verifies() -> None:
    with use("arkworks"):
        parts: list[tuple[int, Predicate, int]] = [(200, Between(100, 300), 40)] * 4
        envelope = _prove("bulletproofs-v1", parts)  # 4 · 2 · 40 = 320
        assert proofs.verify(envelope).valid


def test_the_prover_refuses_a_statement_over_the_cap(backend: Backend) -> None:
    parts: list[tuple[int, Predicate, int]] = [(200, Between(100, 300), 40)] * 5
    with pytest.raises(InvalidStatement, match="400 range bits"):
        _prove("bulletproofs-v1", parts)


def _malformed_before_any_curve_math(b: Backend, envelope: dict[str, Any], where: str) -> None:
    with no_curve_math(b):
        verdict = proofs.verify(envelope)
    assert not verdict.valid and verdict.reason.startswith(where), verdict.reason


def test_too_many_claims_or_a_too_large_set(backend: Backend) -> None:
    with use("arkworks"):
        one = _prove("bits-v1", [(3, AtLeast(1), 4)])
        member = _prove("bits-v1", [(3, OneOf((1, 2, 3)), 4)])
    _malformed_before_any_curve_math(
        backend, _repeat_claim(one, MAX_CLAIMS + 1), "malformed envelope"
    )
    big = copy.deepcopy(member)
    big["claims"][0]["predicate"]["values"] = list(range(MAX_ONE_OF + 1))
    _malformed_before_any_curve_math(backend, big, "malformed envelope")


def _lists(envelope: dict[str, Any]) -> Iterator[tuple[tuple[Any, ...], list[Any]]]:
    """Every list of the proof part, with its path."""

    def walk(node: Any, path: tuple[Any, ...]) -> Iterator[tuple[tuple[Any, ...], list[Any]]]:
        if isinstance(node, dict):
            for k, v in node.items():
                yield from walk(v, (*path, k))
        elif isinstance(node, list):
            yield path, node
            for i, v in enumerate(node):
                yield from walk(v, (*path, i))

    yield from walk(envelope["proof"]["claims"], ("proof", "claims"))


@pytest.mark.parametrize("scheme", proofs.SCHEMES)
def test_every_list_longer_or_shorter_than_the_bits_call_for_is_refused_first(
    backend: Backend, scheme: str
) -> None:
    """Claim 0 is honest, so a verifier that checked claim by claim would do its curve math
    before reaching the misshapen list of the last claim; the shape check comes first."""
    with use("arkworks"):
        envelope = _prove(
            scheme,
            [(9, AtLeast(5), 8), (2, OneOf((1, 2, 3)), 8), (200, Between(100, 300), 33)],
        )
        assert proofs.verify(envelope).valid
    # The list of the proof's claims, and every list of the one-of and the between claim.
    found = [(p, v) for p, v in _lists(envelope) if p[2:3] in ((), (1,), (2,))]
    assert len(found) >= (6 if scheme == "bits-v1" else 8)
    for path, items in found:
        for edit in (items + items[:1], items[:-1], items * 1000):
            edited = copy.deepcopy(envelope)
            node: Any = edited
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = edit
            _malformed_before_any_curve_math(backend, edited, "malformed proof")


def test_a_bulletproof_with_more_rounds_than_its_bits_is_refused(backend: Backend) -> None:
    """32 bits take 3 rounds; a proof with 40 bits' 4 rounds under a 32-bit claim is
    refused without decoding a point."""
    with use("arkworks"):
        wide = _prove("bulletproofs-v1", [(9, AtLeast(5), 40)])
        narrow = _prove("bulletproofs-v1", [(9, AtLeast(5), 32)])
    narrow["proof"]["claims"][0]["ranges"] = wide["proof"]["claims"][0]["ranges"]
    _malformed_before_any_curve_math(backend, narrow, "malformed proof")


def test_over_the_cap_through_the_api_is_a_rejection_on_the_ledger(flow: Flow) -> None:
    envelope = flow.prove(flow.proof_request(flow.rich))
    # Eight at_least claims of 40 bits are 320 range bits, at the cap; a between (two range
    # statements) in place of the first makes 360.
    over = _repeat_claim(envelope, MAX_CLAIMS)
    over["claims"][0]["predicate"] = {"type": "between", "low": 0, "high": 1}
    verdict = flow.verify(over)
    assert verdict["valid"] is False and verdict["proof_id"] is None
    assert verdict["reason"] == (
        f"invalid_proof: {proofs.OVER_CAP}: the claims ask for 360 range bits, at most 320"
    )
    ((_, kind, _, body),) = flow.entries(verdict["ledger_index"])
    assert (kind, body["reason"]) == ("proof_rejected", "invalid_proof")


def test_a_body_over_the_api_limit_is_refused_unread(flow: Flow) -> None:
    before = flow.size()
    body = json.dumps({"proof": {"context": {"x": "y" * (3 * 1024 * 1024)}}}).encode()
    r = flow.http.post(
        "/v1/proofs:verify",
        content=body,
        headers={**flow.auth(flow.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 413 and flow.size() == before


def _parameters_file(tmp_path: Path) -> Path:
    path = tmp_path / "parameters.json"
    path.write_text(json.dumps(parameters([], default_attributes(load_catalogue()))))
    return path


def test_offline_an_envelope_over_a_cap_fails(tmp_path: Path) -> None:
    with use("arkworks"):
        one = _prove("bits-v1", [(200, Between(100, 300), 40)])
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps(_repeat_claim(one, 5)))
    params = _parameters_file(tmp_path)
    out = CliRunner().invoke(
        cli, ["zk", "verify", "--envelope", str(path), "--parameters", str(params)]
    )
    assert out.exit_code == 1
    assert out.output.startswith(
        f"FAILED: invalid_proof: {proofs.OVER_CAP}: the claims ask for 400"
    )


def test_offline_a_file_over_the_size_cap_is_not_read(tmp_path: Path) -> None:
    path = tmp_path / "envelope.json"
    path.write_text(json.dumps({"context": {"x": "y" * caps.MAX_ENVELOPE_BYTES}}))
    params = _parameters_file(tmp_path)
    out = CliRunner().invoke(
        cli, ["zk", "verify", "--envelope", str(path), "--parameters", str(params)]
    )
    assert out.exit_code == 2
    assert f"is over {caps.MAX_ENVELOPE_BYTES} bytes" in out.output
