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
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer

from api.cli_fl import fl_app

if TYPE_CHECKING:  # for annotations only: commands import what they use lazily
    from consent_ledger.runtime import LedgerCopy
    from consent_ledger.settings import LedgerSettings
    from consent_ledger.verify import Report

__all__ = ["app", "main"]


def _typer(help: str, **settings: Any) -> typer.Typer:
    # rich_markup_mode=None: click's plain help. Typer's rich help prints a "<bool>" type
    # beside every flag (--help, --master), as if it took a value.
    return typer.Typer(no_args_is_help=True, rich_markup_mode=None, help=help, **settings)


# No pretty tracebacks: they print local variables, which may hold keys.
app = _typer("Custos consent service.", add_completion=False, pretty_exceptions_enable=False)
ledger_app = _typer("Inspect, prove and verify the ledger.")
demo_app = _typer("Demo data.")
app.add_typer(ledger_app, name="ledger")
app.add_typer(demo_app, name="demo")

EXIT_FAILED = 1
EXIT_USAGE = 2

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL, or the path of a SQLite file "
        "(default: $CUSTOS_DATABASE_URL or ./custos.db).",
    ),
]
DataDirOption = Annotated[
    Path | None,
    typer.Option(
        "--data-dir", help="Directory of key files (default: $CUSTOS_DATA_DIR or ./.custos)."
    ),
]

# Read-only commands need no key files; --data-dir is still accepted (and ignored), so
# scripts written when they opened the keys keep working.
IgnoredDataDirOption = Annotated[Path | None, typer.Option("--data-dir", hidden=True)]


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


def _settings(db: str | None, data_dir: Path | None) -> LedgerSettings:
    """The ledger settings of every command: the one place ``--db`` and ``--data-dir`` are
    read (a plain path is a SQLite file: ``consent_ledger.settings``)."""
    from pydantic import ValidationError

    from consent_ledger.settings import ledger_settings

    try:
        return ledger_settings(database_url=db, data_dir=data_dir)
    except ValidationError as exc:
        # Field names and reasons only: the input may be a URL with a password in it.
        why = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        _die(f"bad setting: {why}", EXIT_USAGE)


def _open(db: str | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from consent_ledger.runtime import open_custos

    settings = _settings(db, data_dir)
    with _opening_errors():
        return open_custos(settings)


def _open_readonly(db: str | None) -> LedgerCopy:
    """The database only, for commands that read the ledger: they run on an auditor's copy
    with no key files, and create none (``consent_ledger.runtime.open_ledger_readonly``)."""
    from consent_ledger.runtime import open_ledger_readonly

    settings = _settings(db, None)
    with _opening_errors():
        return open_ledger_readonly(settings)


def _read_text(path: Path, what: str) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        _die(f"cannot read {what} {path}: {getattr(exc, 'strerror', None) or exc}", EXIT_USAGE)


def _entries_note(count: int, where: str) -> str:
    last = "the last entry is" if count == 1 else f"the last {count} entries are"
    return f"note: {last} not {where}"


@ledger_app.command("verify")
def ledger_verify(
    db: DbOption = None,
    export: Annotated[
        Path | None,
        typer.Option(
            help="Verify this JSON Lines export (from 'custos ledger export') instead of a "
            "database: an auditor's copy needs no database access."
        ),
    ] = None,
    checkpoint: Annotated[
        Path | None,
        typer.Option(help="A signed checkpoint; prove the log is a consistent extension of it."),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            help="Verifier key (name+hash+base64) to trust; default for a database: this "
            "installation's."
        ),
    ] = None,
    data_dir: DataDirOption = None,
) -> None:
    """Recompute every hash, the chain, the Merkle root and checkpoint signatures, from a
    database or from an export."""
    from consent_ledger.verify import NotVerifiable, VerificationFailed

    if export is not None and db is not None:
        _die("give --db or --export, not both", EXIT_USAGE)
    older = None if checkpoint is None else _read_text(checkpoint, "checkpoint file")
    try:
        if export is not None:
            report = _verify_export(export, key, older)
        else:
            report = _verify_database(db, data_dir, key, older)
    except NotVerifiable as exc:
        _die(str(exc), EXIT_USAGE)
    except VerificationFailed as exc:
        typer.echo(f"FAILED: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"ok: {report.size} entries, root {report.root.hex()}")
    if export is not None and older is None:
        typer.echo(
            "note: no --checkpoint given, so nothing signed vouches for this export", err=True
        )
    elif report.unsigned_tail:
        where = "under the given checkpoint" if export else "yet under a signed checkpoint"
        typer.echo(_entries_note(report.unsigned_tail, where), err=True)


def _verify_database(
    db: str | None, data_dir: Path | None, key: str | None, older: str | None
) -> Report:
    from consent_ledger.note import NoteError, NoteSigner
    from consent_ledger.verify import NotVerifiable, stored_verifier_key, verify_ledger
    from consent_ledger.verify_export import checkpoint_shape_problem

    settings = _settings(db, data_dir)
    # A file that is no checkpoint at all is bad input (2); one that does not verify is a
    # failure (1), which verify_ledger reports.
    shape = None if older is None else checkpoint_shape_problem(older)
    if shape is not None:
        raise NotVerifiable(f"the given checkpoint is not a signed checkpoint: {shape}")
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
    return verify_ledger(settings.database_url, key, older)


def _verify_export(export: Path, key: str | None, older: str | None) -> Report:
    from consent_ledger.verify_export import verify_export

    if older is not None and key is None:
        _die("pass --key: the verifier key to check the checkpoint with", EXIT_USAGE)
    try:
        with export.open("rb") as lines:
            return verify_export(lines, key, older)
    except OSError as exc:
        _die(f"cannot read export file {export}: {exc.strerror or exc}", EXIT_USAGE)


@ledger_app.command("verify-proof")
def ledger_verify_proof(
    checkpoint: Annotated[Path, typer.Option(help="The signed checkpoint the proof is against.")],
    key: Annotated[str, typer.Option(help="Verifier key (name+hash+base64) to trust.")],
    inclusion: Annotated[
        Path | None,
        typer.Option(help="An inclusion proof (JSON, from 'custos ledger prove --index')."),
    ] = None,
    leaf_hash: Annotated[
        str | None, typer.Option(help="With --inclusion: the entry's leaf hash (hex).")
    ] = None,
    consistency: Annotated[
        Path | None,
        typer.Option(help="A consistency proof (JSON, from 'custos ledger prove --old-size')."),
    ] = None,
    old_checkpoint: Annotated[
        Path | None,
        typer.Option(help="With --consistency: the older signed checkpoint."),
    ] = None,
) -> None:
    """Check an inclusion or consistency proof against signed checkpoints, with no
    database: exit 0 verified, 1 failed, 2 bad input."""
    from consent_ledger.verify import NotVerifiable, VerificationFailed
    from consent_ledger.verify_export import verify_consistency_file, verify_inclusion_file

    inclusion_given = inclusion is not None or leaf_hash is not None
    consistency_given = consistency is not None or old_checkpoint is not None
    if inclusion_given == consistency_given:
        _die(
            "give --inclusion with --leaf-hash, or --consistency with --old-checkpoint",
            EXIT_USAGE,
        )
    note = _read_text(checkpoint, "checkpoint file")
    try:
        if inclusion_given:
            if inclusion is None or leaf_hash is None:
                _die("--inclusion and --leaf-hash go together", EXIT_USAGE)
            proof = _read_bytes(inclusion, "inclusion proof file")
            result = verify_inclusion_file(proof, leaf_hash, note, key)
            message = f"ok: entry {result.leaf_index} is in the log of {result.size} entries"
        else:
            if consistency is None or old_checkpoint is None:
                _die("--consistency and --old-checkpoint go together", EXIT_USAGE)
            proof = _read_bytes(consistency, "consistency proof file")
            old = _read_text(old_checkpoint, "old checkpoint file")
            result = verify_consistency_file(proof, old, note, key)
            message = f"ok: the log of {result.size} entries extends that of {result.old_size}"
    except NotVerifiable as exc:
        _die(str(exc), EXIT_USAGE)
    except VerificationFailed as exc:
        typer.echo(f"FAILED: {exc}")
        raise typer.Exit(EXIT_FAILED) from None
    typer.echo(f"{message}, root {result.root.hex()}")


def _read_bytes(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        _die(f"cannot read {what} {path}: {exc.strerror or exc}", EXIT_USAGE)


@ledger_app.command("checkpoint")
def ledger_checkpoint(
    sign: Annotated[
        bool,
        typer.Option(
            "--sign",
            help="First sign a checkpoint of the current tree if it has grown (needs the "
            "signing key; the server signs every two seconds while the log grows).",
        ),
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Print the latest stored signed checkpoint (C2SP signed note); reads only the
    database unless --sign."""
    if sign:
        custos = _open(db, data_dir)
        try:
            note = custos.ledger.checkpoint()
        finally:
            custos.close()
        sys.stdout.write(note)
        return
    copy = _open_readonly(db)
    try:
        latest = copy.ledger.latest_checkpoint()
    finally:
        copy.close()
    if latest is None:
        _die("the ledger has no signed checkpoint yet ('--sign' signs one)", EXIT_FAILED)
    sys.stdout.write(latest[1])


@ledger_app.command("public-key")
def ledger_public_key(db: DbOption = None, data_dir: IgnoredDataDirOption = None) -> None:
    """Print the checkpoint verifier key in signed-note form, as the database records it."""
    copy = _open_readonly(db)
    try:
        vkey = copy.verifier_key()
    finally:
        copy.close()
    if vkey is None:
        _die("the database records no verifier key: it has never signed", EXIT_FAILED)
    typer.echo(vkey)


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
    data_dir: IgnoredDataDirOption = None,
) -> None:
    """Print an RFC 9162 inclusion or consistency proof as JSON."""
    import orjson

    from custos_errors import CustosError

    if (index is None) == (old_size is None):
        _die("give exactly one of --index or --old-size", EXIT_USAGE)
    copy = _open_readonly(db)
    try:
        if index is not None:
            result = copy.ledger.inclusion_proof(index, tree_size).as_json()
        else:
            assert old_size is not None
            result = copy.ledger.consistency_proof(old_size, tree_size).as_json()
    except CustosError as exc:
        _die(exc.message, EXIT_FAILED)
    finally:
        copy.close()
    typer.echo(orjson.dumps(result).decode())


@ledger_app.command("export")
def ledger_export(
    format: Annotated[str, typer.Option("--format", help="Only jsonl.")] = "jsonl",
    start: Annotated[int, typer.Option(help="First index.")] = 0,
    end: Annotated[int | None, typer.Option(help="Stop before this index.")] = None,
    db: DbOption = None,
    data_dir: IgnoredDataDirOption = None,
) -> None:
    """One JSON line per entry: its index, its decoded fields, and "leaf", the base64 of
    its canonical bytes ('custos ledger verify --export' checks a whole export)."""
    from consent_ledger.export import export_lines
    from custos_errors import CustosError

    if format != "jsonl":
        _die(f"unsupported format {format!r}; only jsonl", EXIT_USAGE)
    copy = _open_readonly(db)
    try:
        out = sys.stdout.buffer
        for line in export_lines(copy.ledger.entries(start, end)):
            out.write(line)
        out.flush()
    except CustosError as exc:  # an entry whose body is not its type's shape
        _die(exc.message, EXIT_FAILED)
    finally:
        copy.close()


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
    from privacy.zk.desk import attest_all

    clock = SimulatedClock(datetime.now(UTC))
    custos.ledger.clock = clock
    try:
        summary = seed_population(custos, clock, clients=clients, seed=seed, as_of=end)
    finally:
        custos.ledger.clock = utc_now
    attest_all(custos)
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

apps_app = _typer("Service accounts of the firm's apps.")
auditors_app = _typer("Auditor accounts (read-only).")
keys_app = _typer("Key management.")
app.add_typer(apps_app, name="apps")
app.add_typer(auditors_app, name="auditors")
app.add_typer(keys_app, name="keys")
app.add_typer(fl_app, name="fl")


def _services(db: str | None, data_dir: Path | None):  # type: ignore[no-untyped-def]
    from api.settings import api_settings
    from api.state import build_services

    ledger = _settings(db, data_dir)
    with _opening_errors():
        return build_services(api_settings(ledger=ledger))


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
    typer.echo(f"app {issued.account_id} ({department}) created; its key, shown once: {issued.key}")


@apps_app.command("list")
def apps_list(db: DbOption = None, data_dir: IgnoredDataDirOption = None) -> None:
    """List app accounts: id, name, department, created, revoked (never a key)."""
    _list_accounts(db, "app")


@auditors_app.command("create")
def auditors_create(
    name: Annotated[str, typer.Option(help="The auditor's name.")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Create an auditor account (read-only trail and proofs); the key is printed once."""
    issued = _with_services(db, data_dir, lambda s: s.accounts.create_auditor(name, s.clock()))
    typer.echo(f"auditor {issued.account_id} created; its key, shown once: {issued.key}")


@auditors_app.command("list")
def auditors_list(db: DbOption = None, data_dir: IgnoredDataDirOption = None) -> None:
    """List auditor accounts: id, name, created, revoked (never a key)."""
    _list_accounts(db, "auditor")


def _list_accounts(db: str | None, role: str) -> None:
    """One aligned row per account; reads the database only, so it needs no key files."""
    from consent_ledger.accounts import list_accounts
    from consent_ledger.principals import Role

    copy = _open_readonly(db)
    try:
        accounts = list_accounts(copy.db, Role(role))
    finally:
        copy.close()
    header = ("ID", "NAME", "DEPARTMENT", "CREATED", "REVOKED")
    rows = [
        (a.account_id, a.name, a.department or "-", a.created_at, a.revoked_at or "-")
        for a in accounts
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    for row in [header, *rows]:
        typer.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@keys_app.command("rotate")
def keys_rotate(
    account: Annotated[
        str | None, typer.Option(help="Rotate this account's API key (prints the new key).")
    ] = None,
    master: Annotated[
        bool, typer.Option("--master", help="Re-wrap every client data key under a new master key.")
    ] = False,
    zk_desk: Annotated[
        bool,
        typer.Option("--zk-desk", help="A new KYC desk attestation key (as custos zk rotate-key)."),
    ] = False,
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Rotate an account's key, the vault's master key or the KYC desk's attestation key;
    each rotation is a ledger entry."""
    if [account is not None, master, zk_desk].count(True) != 1:
        _die("give exactly one of --account, --master or --zk-desk", EXIT_USAGE)

    def rotate(services: Any) -> str:
        if zk_desk:
            return f"desk key rotated; new key {services.zk.desk.rotate()}"
        if account is None:
            count = services.custos.rotate_master_key()
            return f"master key rotated; {count} client keys re-wrapped"
        issued = services.accounts.rotate(account, services.clock())
        return f"account {account} revoked; new account {issued.account_id}: {issued.key}"

    typer.echo(_with_services(db, data_dir, rotate))


@keys_app.command("revoke")
def keys_revoke(
    account: Annotated[str, typer.Option(help="Revoke this account's key (no new key).")],
    db: DbOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Revoke an account's key for good; the revocation is a ledger entry (key_revoked)."""
    kind = _with_services(db, data_dir, lambda s: s.accounts.revoke(account, s.clock()))
    typer.echo(f"{kind} account {account} revoked; recorded on the ledger")


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
    from api.server import PortInUse, serve_workers, uvicorn_options

    services = _services(db, data_dir)  # opens and migrates once, and fails early on bad input
    if workers == 1:
        uvicorn.run(
            create_app(services.settings, services=services),
            host=host,
            port=port,
            **uvicorn_options(services.settings.trusted_proxy_list),
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
    from api.demo import ensure_demo, ensure_seeded
    from api.server import uvicorn_options

    # Before the API opens: its first act is a policy_loaded entry stamped now, and the
    # seeded history must come before it on the ledger. All-or-nothing (api/demo.py), so
    # an interrupted first run starts again cleanly.
    settings = _settings(db, data_dir)
    with _opening_errors():
        summary = ensure_seeded(settings, clients)
    if summary is not None:
        typer.echo(
            f"seeded {len(summary.clients)} clients, {summary.events} events, "
            f"{len(summary.erased)} erased"
        )
    services = _services(db, data_dir)
    with _opening_errors():
        creds = ensure_demo(services)
    base = f"http://{host}:{port}"
    sign_ins = "".join(
        f"    {c['username']} / {c['password']}   {c['about']}\n" for c in creds["clients"]
    )
    typer.echo(
        f"\nCustos is starting on {base}\n"
        f"  portal:   {base}/portal\n"
        f"  API docs: {base}/docs   (OpenAPI: {base}/openapi.json)\n"
        f"  demo app key (advisory):   {creds['apps']['advisory']}\n"
        f"  demo app key (risk):       {creds['apps']['risk']}\n"
        f"  demo auditor key:          {creds['auditor']}\n"
        f"  demo portal sign-ins (all keys in {creds['path']}):\n{sign_ins}"
    )
    uvicorn.run(
        create_app(services.settings, services=services),
        host=host,
        port=port,
        **uvicorn_options(services.settings.trusted_proxy_list),
    )


from api.cli_dp import analysts_app  # noqa: E402 - it reuses the options and helpers above

app.add_typer(analysts_app, name="analysts")

from api.cli_zk import zk_app  # noqa: E402 - its commands use the helpers above when run

app.add_typer(zk_app, name="zk")
