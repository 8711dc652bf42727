"""``custos fl supernode --department D``: a department's node on the deployment engine.

Reads the department's partition through the policy engine (``federated.loader``: only
its own book, only consenting clients, every read on the ledger) into a private folder,
then becomes Flower's SuperNode for that department (``exec``, so the process id stays the
one that was started), with the partition named in its ``--node-config``. The SuperNode
runs the ClientApp from this environment: runtime dependency installation stays off.

Exit status 1 with a message if the department has no training data or is unknown.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from consent_ledger.logs import configure_logging
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from custos_errors import CustosError
from federated.errors import InvalidTrainingSettings, NoTrainingData
from federated.loader import load_department
from federated.settings import DEPARTMENTS

__all__ = ["main"]


def _flower(name: str) -> str:
    path = Path(sys.executable).parent / name
    found = str(path) if path.exists() else shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} is not installed in this environment")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="custos fl supernode", description=__doc__.split("\n")[0])
    p.add_argument("--department", required=True)
    p.add_argument("--db", help="database URL or SQLite path (default $CUSTOS_DATABASE_URL)")
    p.add_argument("--data-dir", type=Path, help="key files (default $CUSTOS_DATA_DIR)")
    p.add_argument("--superlink", default="127.0.0.1:9092", help="SuperLink Fleet API host:port")
    p.add_argument("--port", type=int, default=9094, help="this node's ClientApp API port")
    p.add_argument("--partition-dir", type=Path, help="private folder for the partition")
    args = p.parse_args(argv)
    configure_logging()
    try:
        if args.department not in DEPARTMENTS:
            raise InvalidTrainingSettings(
                f"unknown department {args.department!r}; the departments with a book are "
                f"{', '.join(DEPARTMENTS)}",
                field="department",
            )
        custos = open_custos(ledger_settings(database_url=args.db, data_dir=args.data_dir))
        try:
            part = load_department(custos, args.department)
        finally:
            custos.close()
        if len(part.y_train) == 0:
            raise NoTrainingData(
                f"department {args.department} has no client whose consent covers model "
                "training; this node would have nothing to train on",
                field="department",
            )
    except CustosError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    folder = args.partition_dir or Path(tempfile.mkdtemp(prefix=f"custos-fl-{args.department}-"))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{args.department}.npz"
    part.save(path)
    print(
        f"department {args.department}: {part.clients} of {part.in_book} clients train; "
        f"starting its SuperNode",
        file=sys.stderr,
        flush=True,
    )
    node_config = f"department='{args.department}' partition='{path}'"
    argv_ = [
        _flower("flower-supernode"),
        "--insecure",
        "--superlink",
        args.superlink,
        "--port",
        str(args.port),
        "--node-config",
        node_config,
    ]
    # Flower starts its helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.execv(argv_[0], argv_)  # noqa: S606 - a fixed argv of our own, no shell


if __name__ == "__main__":
    raise SystemExit(main())
