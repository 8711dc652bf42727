"""The golden ledger: encoding, hashes and checkpoint are byte-for-byte stable."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from consent_ledger.merkle import leaf_hash, root_from_leaf_hashes
from consent_ledger.note import NoteVerifier, open_checkpoint
from tests.consent_ledger.golden_ledger import GOLDEN, build


def test_rebuilding_gives_the_same_bytes(tmp_path: Path) -> None:
    """Same events, key and clock: the same export and the same signed checkpoint. If this
    fails, the format changed; regenerate only if that was the point."""
    export, note = build(tmp_path)
    assert export == (GOLDEN / "ledger.jsonl").read_bytes()
    assert note == (GOLDEN / "checkpoint.txt").read_text()


def test_golden_files_verify_without_custos_code_paths() -> None:
    """The published files alone rebuild the root that the checkpoint signs."""
    # split on "\n" only: str.splitlines() would also split inside a string at U+2028.
    text = (GOLDEN / "ledger.jsonl").read_text()
    lines = [json.loads(x) for x in text.split("\n") if x]
    leaves = [leaf_hash(base64.b64decode(x["leaf"])) for x in lines]
    vkey = (GOLDEN / "verifier_key.txt").read_text().strip()
    cp = open_checkpoint((GOLDEN / "checkpoint.txt").read_text(), [NoteVerifier.parse(vkey)])
    assert cp.size == len(lines) and cp.root_hash == root_from_leaf_hashes(leaves)
