"""The ``custos`` command line.

Exit codes: 0 success; 1 the ledger failed verification or a domain rule refused the
request; 2 bad usage, unreadable input, or a database that is not Custos'. Commands import
what they need lazily: ``custos ledger verify`` loads only the verifier and the pure format
modules, never the service.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

__all__ = ["app", "main"]

# No pretty tracebacks: they print local variables, which may hold keys.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="Custos consent service.",
)
ledger_app = typer.Typer(no_args_is_help=True, help="Inspect, prove and verify the ledger.")
demo_app = typer.Typer(no_args_is_help=True, help="Demo data.")
app.add_typer(ledger_app, name="ledger")
app.add_typer(demo_app, name="demo")

EXIT_FAILED = 1
EXIT_USAGE = 2

DbOption = Annotated[
    str | None,
    typer.Option("--db", help="Database URL (default: $CUSTOS_DATABASE_URL or ./custos.db)."),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Directory of key files (default: $CUSTOS_DATA_DIR or ./.custos)."
    ),
]


def _die(message: str, code: int) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def _opening_errors() -> Iterator[None]:
    """Opening a database: not Custos' or a bad URL is usage (2), a domain refusal is 1."""
    from consent_ledger.errors import NotACustosDatabase
    from custos_errors import CustosError

    try:
        yield
    except NotACustosDatabase as exc:
        _die(exc.message, EXIT_USAGE)
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    except ValueError as exc:
        _die(str(exc), EXIT_USAGE)


def _open(db: str | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from consent_ledger.runtime import open_custos
    from consent_ledger.settings import ledger_settings

    with _opening_errors():
        return open_custos(ledger_settings(database_url=db, data_dir=data_dir))


@ledger_app.command("verify")
def ledger_verify(
    db: DbOption = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="An older signed checkpoint; prove the log is consistent with it."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Verifier key (name+hash+base64) to trust; default: this installation's."
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute every hash, the chain, the Merkle root and checkpoint signatures."""
    from consent_ledger.note import NoteError, NoteSigner
    from consent_ledger.settings import ledger_settings
    from consent_ledger.verify import (
        NotVerifiable,
        VerificationFailed,
        stored_verifier_key,
        verify_ledger,
    )

    settings = ledger_settings(database_url=db, data_dir=data_dir)
    older = None
    if checkpoint is not None:
        try:
            older = checkpoint.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            _die(f"cannot read checkpoint file {checkpoint}: {exc}", EXIT_USAGE)
    try:
        if key is None and settings.signing_key_path.is_file():
            try:
                key = NoteSigner.from_private_key_string(
                    settings.signing_key_path.read_text(encoding="ascii").strip()
                ).verifier_key()
            except NoteError as exc:
                _die(f"{settings.signing_key_path}: {exc}", EXIT_USAGE)
        if key is None:
            key = stored_verifier_key(settings.database_url)
            if key is None:
                _die("no verifier key: pass --key", EXIT_USAGE)
            typer.echo(
                "warning: trusting the verifier key stored in the database; pass --key to "
                "check against a key you obtained independently",
                err=True,
            )
        report = verify_ledger(settings.database_url, key, older)
    except NotVerifiable as exc:
        _die(str(exc), EXIT_USAGE)
    except VerificationFailed as exc:
        typer.echo(f"FAILED: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"ok: {report.size} entries, root {report.root.hex()}")
    if report.unsigned_tail:
        typer.echo(
            f"note: the last {report.unsigned_tail} entries are not yet under a signed checkpoint",
            err=True,
        )


@ledger_app.command("checkpoint")
def ledger_checkpoint(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Print the latest signed checkpoint (C2SP signed note), signing one if the log grew."""
    custos = _open(db, data_dir)
    try:
        sys.stdout.write(custos.ledger.checkpoint())
    finally:
        custos.close()


@ledger_app.command("public-key")
def ledger_public_key(db: DbOption = None, data_dir: DataDirOption = None) -> None:
    """Print the checkpoint verifier key in signed-note form."""
    custos = _open(db, data_dir)
    try:
        typer.echo(custos.ledger.signer.verifier_key())
    finally:
        custos.close()


@ledger_app.command("prove")
def ledger_prove(
    index: Annotated[int | None, typer.Option(help="Inclusion proof for this entry.")] = None,
    old_size: Annotated[
        int | None, typer.Option(help="Consistency proof from this older tree size.")
    ] = None,
    tree_size: Annotated[
        int | None, typer.Option(help="Prove against this size (default: latest checkpoint).")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print an RFC 9162 inclusion or consistency proof as JSON."""
    import orjson

    from custos_errors import CustosError

    if (index is None) == (old_size is None):
        _die("give exactly one of --index or --old-size", EXIT_USAGE)
    custos = _open(db, data_dir)
    try:
        if index is not None:
            result = custos.ledger.inclusion_proof(index, tree_size).as_json()
        else:
            assert old_size is not None
            result = custos.ledger.consistency_proof(old_size, tree_size).as_json()
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        custos.close()
    typer.echo(orjson.dumps(result).decode())


@ledger_app.command("export")
def ledger_export(
    format: Annotated[str, typer.Option("--format", help="Only jsonl.")] = "jsonl",
    start: Annotated[int, typer.Option(help="First index.")] = 0,
    end: Annotated[int | None, typer.Option(help="Stop before this index.")] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """One JSON line per entry: index, decoded fields and ``leaf`` (base64 canonical bytes)."""
    from consent_ledger.export import export_lines
    from custos_errors import CustosError

    if format != "jsonl":
        _die(f"unsupported format {format!r}; only jsonl", EXIT_USAGE)
    custos = _open(db, data_dir)
    try:
        out = sys.stdout.buffer
        for line in export_lines(custos.ledger.entries(start, end)):
            out.write(line)
        out.flush()
    except CustosError as exc:  # an entry whose body is not its type's shape
        _die(exc.message, EXIT_FAILED)
    finally:
        custos.close()


@demo_app.command("seed")
def demo_seed(
    clients: Annotated[int, typer.Option(min=1, max=1_000_000, help="How many clients.")] = 200,
    seed: Annotated[
        int, typer.Option(help="Random seed; the same seed gives the same ledger.")
    ] = 7,
    as_of: Annotated[
        str | None, typer.Option(help="End of the simulated year (YYYY-MM-DD; default today).")
    ] = None,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Fill an empty database with a synthetic, reproducible client population."""
    end = None
    if as_of is not None:
        try:
            end = datetime.strptime(as_of, "%Y-%m-%d").replace(tzinfo=UTC)
        except ValueError:
            _die(f"--as-of {as_of!r} is not a date like 2026-11-23", EXIT_USAGE)
    custos = _open(db, data_dir)
    try:
        if custos.ledger.size():
            _die(
                f"{custos.db.display_url} already holds a ledger; seed an empty database",
                EXIT_FAILED,
            )
        _seed(custos, clients, seed, end)
    finally:
        custos.close()


def _seed(custos, clients: int, seed: int, end: datetime | None) -> None:  # type: ignore[no-untyped-def]
    from consent_ledger.ledger import utc_now
    from policies.seed import SimulatedClock, seed_population

    clock = SimulatedClock(datetime.now(UTC))
    custos.ledger.clock = clock
    try:
        summary = seed_population(custos, clock, clients=clients, seed=seed, as_of=end)
    finally:
        custos.ledger.clock = utc_now
    custos.ledger.checkpoint()
    typer.echo(
        f"seeded {len(summary.clients)} clients, {custos.ledger.size()} ledger entries, "
        f"{len(summary.erased)} erased"
    )


def main() -> None:
    from consent_ledger.logs import configure_logging

    configure_logging()
    try:
        app()
    except Exception as exc:  # noqa: BLE001 - the last line of defence: a message, no stack trace
        typer.echo(f"error: unexpected {type(exc).__name__}; see the logs", err=True)
        raise SystemExit(EXIT_FAILED) from None


# -- service and accounts (these load the API package) -------------------------------------

apps_app = typer.Typer(no_args_is_help=True, help="Service accounts of the firm's apps.")
auditors_app = typer.Typer(no_args_is_help=True, help="Auditor accounts (read-only).")
keys_app = typer.Typer(no_args_is_help=True, help="Key management.")
app.add_typer(apps_app, name="apps")
app.add_typer(auditors_app, name="auditors")
app.add_typer(keys_app, name="keys")


def _services(db: str | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from api.settings import api_settings
    from api.state import build_services
    from consent_ledger.settings import ledger_settings

    with _opening_errors():
        return build_services(
            api_settings(ledger=ledger_settings(database_url=db, data_dir=data_dir))
        )


def _with_services(db: str | None, data_dir: Path | None, call: Any) -> Any:
    """Run one call on freshly opened services and close them; a domain refusal exits 1."""
    from custos_errors import CustosError

    services = _services(db, data_dir)
    try:
        return call(services)
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        services.close()


@apps_app.command("create")
def apps_create(
    department: Annotated[str, typer.Option(help="The one department the key acts for.")],
    name: Annotated[str, typer.Option(help="A name for the app.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an app account; its key is printed once and stored only hashed."""
    issued = _with_services(
        db, data_dir, lambda s: s.accounts.create_app(department, name, s.clock())
    )
    typer.echo(f"app {issued.account_id} ({department}): {issued.key}")


@auditors_app.command("create")
def auditors_create(
    name: Annotated[str, typer.Option(help="The auditor's name.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an auditor account (read-only trail and proofs); the key is printed once."""
    issued = _with_services(db, data_dir, lambda s: s.accounts.create_auditor(name, s.clock()))
    typer.echo(f"auditor {issued.account_id}: {issued.key}")


@keys_app.command("rotate")
def keys_rotate(
    account: Annotated[
        str | None, typer.Option(help="Rotate this account's API key (prints the new key).")
    ] = None,
    master: Annotated[
        bool, typer.Option("--master", help="Re-wrap every client data key under a new master key.")
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rotate an account's key, or the vault's master key; each rotation is a ledger entry."""
    if (account is None) == (not master):
        _die("give exactly one of --account or --master", EXIT_USAGE)

    def rotate(services: Any) -> str:
        if account is None:
            count = services.custos.rotate_master_key()
            return f"master key rotated; {count} client keys re-wrapped"
        issued = services.accounts.rotate(account, services.clock())
        return f"account {account} revoked; new account {issued.account_id}: {issued.key}"

    typer.echo(_with_services(db, data_dir, rotate))


@app.command("serve")
def serve(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    workers: Annotated[
        int,
        typer.Option(
            min=1, max=64, help="Server processes, each listening on its own SO_REUSEPORT socket."
        ),
    ] = 1,
) -> None:
    """Run the API (and portal) with uvicorn."""
    import os

    import uvicorn

    from api.app import create_app
    from api.server import PortInUse, serve_workers

    services = _services(db, data_dir)  # opens and migrates once, and fails early on bad input
    if workers == 1:
        uvicorn.run(
            create_app(services.settings, services=services),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
        return
    services.close()
    # Worker processes build their own app from the environment.
    if db is not None:
        os.environ["CUSTOS_DATABASE_URL"] = db
    if data_dir is not None:
        os.environ["CUSTOS_DATA_DIR"] = str(data_dir)
    try:
        code = serve_workers(workers, host, port)
    except PortInUse as exc:
        _die(str(exc), EXIT_FAILED)
    raise typer.Exit(code)


@demo_app.command("serve")
def demo_serve(
    db: DbOption = None,
    data_dir: DataDirOption = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port.")] = 8000,
    clients: Annotated[int, typer.Option(min=1, help="Clients to seed if empty.")] = 200,
) -> None:
    """Seed the database with demo data if it is empty, print the URLs and demo
    credentials, and serve. This is what `make run` calls."""
    import uvicorn

    from api.app import create_app
    from api.demo import ensure_demo

    custos = _open(db, data_dir)
    try:
        if not custos.ledger.size():
            # Before the API opens: its first act is a policy_loaded entry stamped now, and
            # the seeded history must come before it on the ledger.
            _seed(custos, clients, 7, None)
    finally:
        custos.close()
    services = _services(db, data_dir)
    creds = ensure_demo(services)
    base = f"http://{host}:{port}"
    typer.echo(
        f"\nCustos is starting on {base}\n"
        f"  portal:   {base}/portal\n"
        f"  API docs: {base}/docs   (OpenAPI: {base}/openapi.json)\n"
        f"  demo app key (advisory):   {creds['apps']['advisory']}\n"
        f"  demo app key (risk):       {creds['apps']['risk']}\n"
        f"  demo auditor key:          {creds['auditor']}\n"
        f"  demo portal sign-in:       {creds['clients'][0]['username']} / "
        f"{creds['clients'][0]['password']}  (more in {creds['path']})\n"
    )
    uvicorn.run(
        create_app(services.settings, services=services),
        host=host,
        port=port,
        log_config=None,
        access_log=False,
    )
