"""The decisions benchmark in one command: in-process (our engine against cedarpy and a bare
lookup floor), then over HTTP (a real ``custos serve`` on loopback under wrk, or an httpx
load loop where wrk is missing) with one server process and with one per core.

    .venv/bin/python bench/decisions.py [--quick]

Each part prints its own figures and ratios; see bench/decisions_inprocess.py and
bench/decisions_http.py for what they measure and how.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller workloads, shorter runs")
    args = parser.parse_args()
    inprocess = ["--n", "5000", "--cedar-calls", "1000"] if args.quick else []
    http = ["--seconds", "5" if args.quick else "20"]
    # One server process, and as many as there are cores (the writer lock is shared).
    workers = sorted({1, os.cpu_count() or 1})
    if shutil.which("wrk") is None:
        print(
            "note: wrk is not installed (Debian: apt-get install wrk); the HTTP part falls "
            "back to an httpx load loop, which takes CPU from the server on a 2-core machine",
            flush=True,
        )
    status = 0
    runs = [("decisions_inprocess.py", inprocess)]
    runs += [("decisions_http.py", [*http, "--workers", str(w)]) for w in workers]
    for script, extra in runs:
        print(f"== {script} {' '.join(extra)}", flush=True)
        status |= subprocess.run(
            [sys.executable, str(HERE / script), *extra], check=False
        ).returncode
    return status


if __name__ == "__main__":
    sys.exit(main())
