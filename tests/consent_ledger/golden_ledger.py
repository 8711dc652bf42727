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

from consent_ledger.consent import ConsentEvent
from consent_ledger.entries import (
    AccessDecided,
    ClientRegistered,
    ConsentChanged,
    DataAccessed,
    DataCollected,
    DataErased,
    DataUsed,
    KeyRevoked,
    KeyRotated,
    PolicyLoaded,
    RedemptionRefused,
)
from consent_ledger.export import export_lines
from consent_ledger.ledger import Ledger, NewEntry
from consent_ledger.note import NoteSigner
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from policies.seed import SimulatedClock

GOLDEN = Path(__file__).resolve().parent / "golden"
# A published test key, never used outside tests: the seed is the bytes 0..31.
SIGNER = NoteSigner("custos.test/golden", Ed25519PrivateKey.from_private_bytes(bytes(range(32))))

_CLIENT = "c_00000000000000a1"
_APP = "00000000000000aa"
_BEFORE = {"level": 2, "purposes": ["kyc", "marketing"], "granted_at": "2026-01-01T00:00:02Z"}


def _decided(decision_id: str, outcome: str, code: str, obligations: tuple[str, ...]) -> NewEntry:
    return AccessDecided(
        decision_id,
        "f" * 64,
        _APP,
        "compliance",
        "kyc",
        _CLIENT,
        ("user.name",),
        "row",
        None,
        None,
        outcome,
        code,
        "compliance-kyc" if outcome == "allow" else "marketing-separate-opt-in",
        obligations,
        None,
    ).entry()


# One entry of each shape production writes, in the typed bodies of consent_ledger.entries.
EVENTS = [
    PolicyLoaded("f" * 64, "e" * 64, "ünïcödé 名字 \u2028 tab\t.yaml").entry(),
    ClientRegistered().entry(_CLIENT),
    ConsentChanged(ConsentEvent.GRANTED, None, {**_BEFORE, "expires_at": None}).entry(_CLIENT),
    _decided("0" * 32, "allow", "allowed", ("log", "retain_days:1825")),
    DataCollected(("user.government_id", "user.name"), "compliance", _APP, "kyc", "0" * 32).entry(
        _CLIENT
    ),
    DataAccessed(_APP, "compliance", "0" * 32, "kyc", ("user.name",), "data_api", ("log",)).entry(
        _CLIENT
    ),
    DataUsed(_APP, "compliance", "0" * 32, "kyc", ("user.name",), "2026-01-01T00:00:06Z").entry(
        _CLIENT
    ),
    ConsentChanged(
        ConsentEvent.PURPOSES_CHANGED,
        {**_BEFORE, "expires_at": None},
        {**_BEFORE, "purposes": ["kyc"], "expires_at": None},
    ).entry(_CLIENT),
    RedemptionRefused(
        _APP, "compliance", "0" * 32, "kyc", ("user.name",), "data_api", "purpose_not_consented"
    ).entry(_CLIENT),
    _decided("1" * 32, "deny", "purpose_not_consented", ()),
    KeyRotated("account", account_id=_APP).entry(),
    KeyRotated("master", keys=1).entry(),
    KeyRevoked(_APP, "app").entry(),
    DataErased().entry(_CLIENT),
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
