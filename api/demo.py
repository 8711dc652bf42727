"""The demo behind `make run`: a seeded database, demo apps, an auditor and portal logins.

Both steps survive being interrupted (Ctrl-C, a kill, a crash) at any point:

* **Seeding is all-or-nothing.** A SQLite database is seeded into ``<db>.seeding`` beside
  it and moved into place only once complete (a rename, atomic on POSIX), so the database
  at the configured path is either untouched or fully seeded; a leftover partial file is
  deleted at the next start. Elsewhere (PostgreSQL) the seed marks ``demo_seed`` as
  ``started`` in ``custos_meta`` before it begins and ``complete`` when done, and a start
  that finds ``started`` refuses with what to do, rather than serving half a population.
* **Credentials are resumable.** Keys are shown once and stored only hashed, so they are
  written to a file under the data directory (mode 0600, never committed), atomically. A
  start checks that every key in the file still works; if the file is missing (say the
  process died after the first login was created) or stale, the demo keys are issued
  again: old demo app and auditor keys are revoked, and an existing demo login is rotated
  (same username and password, a new token) instead of failing on "username taken".
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from api.state import Services
from consent_ledger.consent import Consent
from consent_ledger.errors import InvalidRequest, Unauthenticated
from consent_ledger.ledger import utc_now
from consent_ledger.runtime import Custos, open_custos
from consent_ledger.settings import LedgerSettings
from policies.seed import SeedSummary, SimulatedClock, seed_population
from privacy.zk.desk import attest_all

__all__ = [
    "SEED_STATE_KEY",
    "DemoSignIn",
    "choose_demo_clients",
    "ensure_demo",
    "ensure_seeded",
    "seed_state",
]

SEED_STATE_KEY = "demo_seed"
_CREDENTIALS_FILE = "demo-credentials.json"
_AUDITOR_NAME = "demo auditor"
# An expiring consent is only worth showing if it does not run out during the demo.
_EXPIRY_MARGIN = timedelta(days=14)


# -- seeding ----------------------------------------------------------------------------


def seed_state(custos: Custos) -> str | None:
    """``started`` or ``complete`` for a database the demo seeded; None otherwise."""
    with custos.db.read() as tx:
        row = tx.one("SELECT value FROM custos_meta WHERE key = ?", (SEED_STATE_KEY,))
    return None if row is None else str(row[0])


def _mark(custos: Custos, state: str) -> None:
    with custos.db.write() as tx:
        tx.execute("DELETE FROM custos_meta WHERE key = ?", (SEED_STATE_KEY,))
        tx.execute("INSERT INTO custos_meta (key, value) VALUES (?, ?)", (SEED_STATE_KEY, state))


def _seed_into(custos: Custos, clients: int, seed: int) -> SeedSummary:
    """Seed an empty database, marking it started, then complete (with a checkpoint)."""
    _mark(custos, "started")
    clock = SimulatedClock(datetime.now(UTC))
    custos.ledger.clock = clock
    try:
        summary = seed_population(custos, clock, clients=clients, seed=seed)
    finally:
        custos.ledger.clock = utc_now
    attest_all(custos)  # the KYC desk attests the demo clients' provable attributes
    custos.ledger.checkpoint()
    _mark(custos, "complete")
    return summary


def _sqlite_path(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or not parsed.database:
        return None
    return Path(parsed.database)


# SQLite keeps a database in up to three files, and Custos adds its lock files beside them.
_SIDE_FILES = ("-wal", "-shm", "-journal")


def _remove_database_files(path: Path) -> None:
    for name in [path.name, *(path.name + suffix for suffix in _SIDE_FILES)]:
        (path.parent / name).unlink(missing_ok=True)
    for lock in path.parent.glob(path.name + "-*.lock"):
        lock.unlink(missing_ok=True)


def ensure_seeded(
    settings: LedgerSettings,
    clients: int,
    seed: int = 7,
    *,
    seed_into: Callable[[Custos, int, int], SeedSummary] = _seed_into,
) -> SeedSummary | None:
    """Seed the demo database if it holds no ledger yet; returns what was seeded, or None
    if it already held one. Never leaves a partly seeded database behind as if whole.

    The seeded history must come before the API's first entry (its policy_loaded entry,
    stamped now), so this runs before the API opens the database."""
    custos = open_custos(settings)
    try:
        size = custos.ledger.size()
        state = seed_state(custos)
    finally:
        custos.close()
    if state == "started":
        raise InvalidRequest(
            "the demo seed of this database was interrupted and it holds only part of the "
            "population; drop the database (or point --db at an empty one) and start again"
        )
    if size:
        return None
    path = _sqlite_path(settings.database_url)
    if path is None:
        custos = open_custos(settings)
        try:
            return seed_into(custos, clients, seed)
        finally:
            custos.close()

    staging = path.with_name(path.name + ".seeding")
    _remove_database_files(staging)  # what a killed earlier attempt left behind
    url = make_url(settings.database_url).set(database=str(staging))
    staged = open_custos(
        settings.model_copy(update={"database_url": url.render_as_string(hide_password=False)})
    )
    try:
        summary = seed_into(staged, clients, seed)
        # Everything into the main file, so the one file that moves is the whole database.
        staged.db.purge_freed_pages()
    finally:
        staged.close()
    wal = staging.with_name(staging.name + "-wal")
    if wal.exists() and wal.stat().st_size:
        raise InvalidRequest(f"{staging} still has a write-ahead log; not moving it into place")
    # The empty database that open_custos created is closed; its side files must not be
    # read as belonging to the seeded one.
    for suffix in ("-wal", "-shm", "-journal"):
        path.with_name(path.name + suffix).unlink(missing_ok=True)
    staging.replace(path)
    _fsync_dir(path.parent)
    _remove_database_files(staging)
    return summary


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# -- which clients the demo signs in as ----------------------------------------------------


@dataclass(frozen=True)
class DemoSignIn:
    """A seeded client chosen to show one flow, with a line saying which."""

    client_id: str
    about: str


def _day(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%d")


def choose_demo_clients(services: Services) -> list[DemoSignIn]:
    """Three clients of the seeded population, one per main flow: at level 2 with room to
    upgrade; with marketing switched on; with a consent that ends by itself soon. Each is
    picked from the consents in force now, so the line printed beside it is true; a small
    population that lacks one gets another client with an honest description."""
    now = services.clock()
    registry = services.custos.registry
    consents: list[Consent] = []
    for cid, consenting in registry.living_clients():
        consent = registry.current(cid) if consenting else None
        if consent is not None and consent.is_active(now):
            consents.append(consent)
    chosen: list[DemoSignIn] = []

    def take(candidates: list[tuple[Consent, str]]) -> None:
        for consent, about in candidates:
            if all(c.client_id != consent.client_id for c in chosen):
                chosen.append(DemoSignIn(consent.client_id, about))
                return

    # Each flow prefers a client who shows only that flow, so the three stay distinct.
    level_two = sorted(
        (c for c in consents if c.level == 2),
        key=lambda c: ("marketing" in c.purposes, c.expires_at is not None),
    )
    take([(c, f"level 2 of 4{_ends(c)}: try an upgrade, to level 3 or 4") for c in level_two])
    marketing = sorted(
        (c for c in consents if "marketing" in c.purposes),
        key=lambda c: (c.expires_at is not None, c.level),
    )
    take([(c, f"level {c.level}, marketing switched on: try switching it off") for c in marketing])
    # The soonest end that is not within the margin (so it does not run out mid-demo).
    ending = sorted(
        ((c, c.expires_at) for c in consents if c.expires_at is not None),
        key=lambda pair: (pair[1] < now + _EXPIRY_MARGIN, pair[1]),
    )
    take(
        [
            (c, f"level {c.level}, consent ends by itself on {_day(end)}: try renewing it")
            for c, end in ending
        ]
    )
    # Whatever is missing (a tiny population): other clients with a consent, said so.
    for consent in consents:
        if len(chosen) >= 3:
            break
        take([(consent, f"level {consent.level}{_ends(consent)}: a client of the demo population")])
    return chosen


def _ends(consent: Consent) -> str:
    return "" if consent.expires_at is None else f", ends {_day(consent.expires_at)}"


# -- credentials ----------------------------------------------------------------------------


def _credentials_path(services: Services) -> Path:
    return services.settings.ledger.data_dir / _CREDENTIALS_FILE


def _read_credentials(path: Path) -> dict[str, Any] | None:
    try:
        creds: Any = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return creds if isinstance(creds, dict) else None


def _still_valid(services: Services, creds: dict[str, Any]) -> bool:
    """Every key in the file still authenticates (none revoked, the database not replaced),
    and the file has this version's sign-ins (each with its description)."""
    try:
        keys = [*creds["apps"].values(), creds["auditor"]]
        clients = creds["clients"]
        keys += [c["token"] for c in clients]
        if not clients or not all(c.get("about") for c in clients):
            return False
        for key in keys:
            services.accounts.authenticate(str(key))
    except (KeyError, TypeError, AttributeError, Unauthenticated):
        return False
    return True


def _write_atomically(path: Path, creds: dict[str, Any]) -> None:
    """Write to a private temporary file beside it, then rename: a reader (the next start)
    sees the old file, no file, or the whole new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".", suffix=".tmp")
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(creds, f, indent=2)
            f.flush()
            os.fsync(f.fileno())
        Path(tmp).replace(path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _demo_accounts(services: Services) -> list[tuple[str, str, str, str | None]]:
    """Active demo app and auditor accounts: (id, kind, name, client id)."""
    with services.custos.db.read() as tx:
        rows = tx.all(
            "SELECT id, kind, name, client_id FROM accounts WHERE revoked_at IS NULL AND"
            " ((kind = 'app' AND name LIKE 'demo % app') OR (kind = 'auditor' AND name = ?))",
            (_AUDITOR_NAME,),
        )
    return [(str(r[0]), str(r[1]), str(r[2]), r[3]) for r in rows]


def _client_login(services: Services, n: int, client_id: str) -> dict[str, str]:
    """Login ``demo<n>`` for the client: created, or, if an earlier start created it and
    died before writing the file, rotated (a new token; the password stays the same)."""
    accounts = services.accounts
    password = f"custos-demo-{n}"
    for attempt in range(1, 100):
        username = f"demo{n}" if attempt == 1 else f"demo{n}-{attempt}"
        with services.custos.db.read() as tx:
            row = tx.one(
                "SELECT id, client_id, revoked_at FROM accounts WHERE kind = 'client'"
                " AND name = ? ORDER BY created_at DESC LIMIT 1",
                (username,),
            )
        if row is None:
            issued = accounts.create_client_login(client_id, username, password, services.clock())
        elif row[2] is None and row[1] == client_id:
            issued = accounts.rotate(str(row[0]), services.clock())
            try:
                accounts.check_password(username, password)
            except Unauthenticated:
                accounts.revoke(issued.account_id, services.clock())
                continue
        else:
            # Taken for good (an erased client's login, or another client's): next name.
            continue
        return {
            "username": username,
            "password": password,
            "client_id": client_id,
            "token": issued.key,
        }
    raise InvalidRequest(f"no free demo username for demo{n}")


def _create_credentials(services: Services) -> dict[str, Any]:
    now = services.clock()
    accounts = services.accounts
    for account_id, *_ in _demo_accounts(services):
        accounts.revoke(account_id, now)
    apps = {
        dept: accounts.create_app(dept, f"demo {dept} app", now).key
        for dept in sorted(services.policy.current.cells)
    }
    auditor = accounts.create_auditor(_AUDITOR_NAME, now).key
    clients = []
    for n, chosen in enumerate(choose_demo_clients(services), start=1):
        login = _client_login(services, n, chosen.client_id)
        clients.append({**login, "about": chosen.about})
    return {"apps": apps, "auditor": auditor, "clients": clients}


def ensure_demo(services: Services) -> dict[str, Any]:
    """The demo credentials: read from their file if every key in it still works, else
    issued (again) for the seeded database and written to the file atomically."""
    path = _credentials_path(services)
    creds = _read_credentials(path)
    if creds is None or not _still_valid(services, creds):
        creds = _create_credentials(services)
        _write_atomically(path, creds)
    creds["path"] = str(path)
    return creds
