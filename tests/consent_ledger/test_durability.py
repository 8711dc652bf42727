"""An acknowledged append survives kill -9 of the writing process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consent_ledger.encoding import decode_entry
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings

WRITER = """
import sys
from pathlib import Path
from consent_ledger.ledger import NewEntry
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
custos = open_custos(ledger_settings(database_url=sys.argv[1], data_dir=Path(sys.argv[2])))
i = 0
while True:
    (a,) = custos.ledger.record(NewEntry("durability", None, {"i": i}))
    # Only after record() returns is the entry acknowledged.
    sys.stdout.write(f"{a.index}\\n")
    sys.stdout.flush()
    i += 1
"""


@pytest.mark.slow
def test_acknowledged_entries_survive_sigkill(
    database_url: str, data_dir: Path, tmp_path: Path
) -> None:
    """Kill the writer mid-stream; every index it acknowledged is there and the log verifies."""
    from consent_ledger.verify import verify_ledger

    open_custos(ledger_settings(database_url=database_url, data_dir=data_dir)).close()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRITER, database_url, str(data_dir)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    acked: list[int] = []
    deadline = time.monotonic() + 60
    while len(acked) < 300 and time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        acked.append(int(line))
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stdout.close()
    assert len(acked) >= 300
    custos = open_custos(ledger_settings(database_url=database_url, data_dir=data_dir))
    try:
        stored = {decode_entry(e.leaf).index for e in custos.ledger.entries()}
        assert set(acked) <= stored
        custos.ledger.checkpoint()
        report = verify_ledger(database_url, custos.ledger.signer.verifier_key())
        assert report.size == len(stored) >= len(acked)
    finally:
        custos.close()
