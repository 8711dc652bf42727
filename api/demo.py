"""Demo credentials for `make run`: demo apps, an auditor and portal logins for seeded clients.

Keys are shown once and stored only hashed, so the demo credentials are written to a file
under the data directory (mode 0600, never committed) and printed from there on later runs.
"""

from __future__ import annotations

import json
import os
from typing import Any

from api.state import Services

__all__ = ["ensure_demo"]

_DEMO_CLIENTS = 5


def _create_credentials(services: Services, client_ids: list[str]) -> dict[str, Any]:
    now = services.clock()
    accounts = services.accounts
    apps = {
        dept: accounts.create_app(dept, f"demo {dept} app", now).key
        for dept in sorted(services.policy.current.cells)
    }
    auditor = accounts.create_auditor("demo auditor", now).key
    clients = []
    for n, cid in enumerate(client_ids[:_DEMO_CLIENTS], start=1):
        username, password = f"demo{n}", f"custos-demo-{n}"
        issued = accounts.create_client_login(cid, username, password, now)
        clients.append(
            {"username": username, "password": password, "client_id": cid, "token": issued.key}
        )
    return {"apps": apps, "auditor": auditor, "clients": clients}


def ensure_demo(services: Services) -> dict[str, Any]:
    """The demo credentials: read from their file, or created (once) for a seeded database."""
    path = services.settings.ledger.data_dir / "demo-credentials.json"
    custos = services.custos
    if path.exists():
        creds: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        creds["path"] = str(path)
        return creds
    alive = custos.registry.living_clients()
    # Portal logins go to clients who still have a consent, so the demo shows something.
    ordered = [c for c, consenting in alive if consenting]
    ordered += [c for c, consenting in alive if not consenting]
    creds = _create_credentials(services, ordered)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(creds, f, indent=2)
    creds["path"] = str(path)
    return creds
