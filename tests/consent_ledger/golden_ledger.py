"""Build the golden test ledger: fixed key, fixed clock, fixed events.

`python -m tests.consent_ledger.golden_ledger` rewrites tests/consent_ledger/golden/; the test
suite rebuilds it in a temporary directory and compares byte for byte, so the entry encoding,
the hashing and the checkpoint format can never change by accident.
"""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent_ledger.export import export_lines
from consent_ledger.ledger import Ledger, NewEntry
from consent_ledger.note import NoteSigner
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock

GOLDEN = Path(__file__).resolve().parent / "golden"
# A published test key, never used outside tests: the seed is the bytes 0..31.
SIGNER = NoteSigner("custos.test/golden", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))

EVENTS = [
    NewEntry("client_registered", "c_00000000000000a1", {}),
    NewEntry(
        "data_collected",
        "c_00000000000000a1",
        {"by": "compliance", "categories": ["user.government_id", "user.name"]},
    ),
    NewEntry(
        "consent_granted",
        "c_00000000000000a1",
        {
            "to": {
                "level": 2,
                "purposes": ["kyc", "marketing"],
                "granted_at": "2026-01-01T00:00:02Z",
                "expires_at": None,
            }
        },
    ),
    NewEntry(
        "access_allowed",
        "c_00000000000000a1",
        {
            "decision_id": "0" * 32,
            "result": {"outcome": "allow", "obligations": ["log"]},
            "input": {"action": "kyc", "resource": {"categories": ["user.name"]}},
        },
    ),
    NewEntry(
        "consent_purposes_changed",
        "c_00000000000000a1",
        {"from": {"purposes": ["kyc", "marketing"]}, "to": {"purposes": ["kyc"]}},
    ),
    NewEntry(
        "access_denied",
        "c_00000000000000a1",
        {
            "decision_id": "1" * 32,
            "result": {"outcome": "deny", "reason_code": "purpose_not_consented"},
        },
    ),
    NewEntry(
        "data_erased", "c_00000000000000a1", {"destroyed": ["vault_key", "vault_values", "consent"]}
    ),
    NewEntry("policy_loaded", None, {"version": "f" * 64, "note": "ünïcödé 名字 \u2028 tab\t"}),
]


def build(directory: Path) -> tuple[bytes, str]:
    """The export (JSON Lines) and the signed checkpoint of the golden ledger."""
    clock = SimulatedClock(datetime(2026, 1, 1, tzinfo=UTC))
    custos = open_custos(
        ledger_settings(database_url=f"sqlite:///{directory / 'g.db'}", data_dir=directory / "k"),
        clock=clock,
    )
    try:
        ledger = Ledger(custos.db, SIGNER, clock)
        for event in EVENTS:
            clock.now += timedelta(seconds=1)
            ledger.record(event)
        note = ledger.checkpoint()
        return b"".join(export_lines(ledger.entries())), note
    finally:
        custos.close()


def main() -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        export, note = build(Path(tmp))
    GOLDEN.mkdir(exist_ok=True)
    (GOLDEN / "ledger.jsonl").write_bytes(export)
    (GOLDEN / "checkpoint.txt").write_text(note)
    (GOLDEN / "verifier_key.txt").write_text(SIGNER.verifier_key() + "\n")
    sys.stdout.write(f"wrote {GOLDEN}\n")


if __name__ == "__main__":
    main()
