"""``custos zk``: attest clients' attributes, prove a request, verify a proof offline, rotate
the desk key. Registered in api/cli.py with one ``add_typer`` line, at the end of that
module: the options and helpers here are api.cli's own, imported from it.

``verify`` imports only privacy/zk's offline verifier (no database, no server module), so
an auditor can run it on a copy of an envelope and the published parameters.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from api.cli import (
    EXIT_FAILED,
    EXIT_USAGE,
    DataDirOption,
    DbOption,
    _die,
    _services,
    _typer,
)

__all__ = ["zk_app"]

zk_app = _typer("Zero-knowledge attribute proofs: attestation, proving, offline verification.")


def _read_json(path: Path, what: str) -> Any:
    """The file's JSON, refused past the envelope cap before parsing: a hostile file must
    not make the verifier read or parse without end (privacy/zk/caps.py)."""
    from privacy.zk.caps import MAX_ENVELOPE_BYTES

    try:
        with path.open("rb") as f:
            data = f.read(MAX_ENVELOPE_BYTES + 1)
    except OSError as exc:
        _die(f"cannot read {what} {path}: {exc.strerror or exc}", EXIT_USAGE)
    if len(data) > MAX_ENVELOPE_BYTES:
        _die(f"{what} {path} is over {MAX_ENVELOPE_BYTES} bytes", EXIT_USAGE)
    try:
        return json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        _die(f"cannot read {what} {path}: not UTF-8 text", EXIT_USAGE)
    except (ValueError, RecursionError):
        _die(f"{what} {path} is not JSON (or is nested too deeply)", EXIT_USAGE)


@zk_app.command("attest")
def attest(
    client: Annotated[str | None, typer.Option(help="Attest this client's attributes.")] = None,
    all_clients: Annotated[bool, typer.Option("--all", help="Attest every client.")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Commit to and sign each provable attribute (policies/attributes.yaml) the client's
    vault holds; each attestation is a ledger entry (no value)."""
    from custos_errors import CustosError

    if (client is None) == (not all_clients):
        _die("give exactly one of --client or --all", EXIT_USAGE)
    services = _services(db, data_dir)
    try:
        desk = services.zk.desk
        if client is not None:
            issued = desk.attest(client)
            names = ", ".join(a.attribute for a in issued) or "none"
            typer.echo(f"attested {len(issued)} attributes of {client}: {names}")
        else:
            typer.echo(f"attested {desk.attest_all()} attributes")
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        services.close()


@zk_app.command("rotate-key")
def rotate_key(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """A new desk signing key: the old one is retired (its attestations stop verifying) and
    every current commitment is re-attested under the new one; a key_rotated entry."""
    from custos_errors import CustosError

    services = _services(db, data_dir)
    try:
        key_id = services.zk.desk.rotate()
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        services.close()
    typer.echo(f"desk key rotated; new key {key_id}")


@zk_app.command("prove")
def prove(
    request: Annotated[
        Path, typer.Option(help="The proof_request (or the whole decision answer) as JSON.")
    ],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Prove a stored proof request on the client's behalf: prints the envelope JSON (exit
    0), or says the predicate does not hold or what the consent lacks (exit 1)."""
    from custos_errors import CustosError
    from privacy.zk.errors import PredicateFalse

    raw = _read_json(request, "request file")
    if isinstance(raw, dict) and isinstance(raw.get("proof_request"), dict):
        raw = raw["proof_request"]
    if not isinstance(raw, dict) or not isinstance(raw.get("request_id"), str):
        _die(f"{request} holds no proof_request with a request_id", EXIT_USAGE)
    services = _services(db, data_dir)
    try:
        stored = services.zk.lookup(raw["request_id"])
        if (raw.get("nonce"), raw.get("client_id")) != (stored.nonce, stored.client_id):
            _die("the request file does not match the stored request", EXIT_FAILED)
        envelope = services.zk.prove(raw["request_id"])
    except PredicateFalse:
        typer.echo("the predicate does not hold", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        services.close()
    typer.echo(json.dumps(envelope, sort_keys=True))


@zk_app.command("verify")
def verify(
    envelope: Annotated[Path, typer.Option(help="The proof envelope (JSON).")],
    parameters: Annotated[Path, typer.Option(help="GET /v1/zk/parameters, saved as JSON.")],
) -> None:
    """Verify a proof offline against the published parameters (no database, no server):
    'ok: …' (exit 0), 'FAILED: reason' (exit 1), bad input (exit 2)."""
    from privacy.zk.flow_errors import AttestationInvalid
    from privacy.zk.offline import parse_parameters, verify_offline

    env = _read_json(envelope, "envelope")
    params_doc = _read_json(parameters, "parameters")
    if not isinstance(env, dict):
        _die(f"{envelope} is not a proof envelope (a JSON object)", EXIT_USAGE)
    try:
        params = parse_parameters(params_doc)
    except AttestationInvalid as exc:
        _die(exc.message, EXIT_USAGE)
    verdict = verify_offline(env, params)
    if not verdict.valid:
        typer.echo(f"FAILED: {verdict.reason}")
        raise typer.Exit(EXIT_FAILED)
    ctx = verdict.context
    typer.echo(
        f"ok: proof for request {ctx.get('request_id')} of client {ctx.get('client')} to "
        f"{ctx.get('department')} ({ctx.get('purpose')}); attestations check out"
    )
