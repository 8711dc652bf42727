"""``custos fl superlink``: Flower's SuperLink for the deployment engine, with the switches
this project runs it with: no TLS (``--insecure``; for a private network or loopback, see
README.md), no runtime dependency installation (the ServerApp runs from ``.venv-fl``), and
its API on ``--host``/``--port``. The process becomes the SuperLink (``exec``)."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="custos fl superlink", description=__doc__.split("\n")[0])
    p.add_argument("--host", default="127.0.0.1", help="interface of the SuperLink's API")
    p.add_argument("--port", type=int, default=9092, help="port of the SuperLink's API")
    args = p.parse_args(argv)
    exe = str(Path(sys.executable).parent / "flower-superlink")
    argv_ = [
        exe,
        "--insecure",
        "--disable-runtime-dependency-installation",
        "--host",
        args.host,
        "--port",
        str(args.port),
    ]
    # Flower starts its helpers (flower-superexec, flwr-serverapp, flwr-clientapp) by name.
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])
    os.execv(exe, argv_)  # noqa: S606 - a fixed argv of our own, no shell


if __name__ == "__main__":
    raise SystemExit(main())
