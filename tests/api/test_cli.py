"""The fixed ledger command-line interfaces, as an auditor's scripts call them."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli import app
from consent_ledger.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from consent_ledger.note import Checkpoint, NoteVerifier, open_checkpoint

runner = CliRunner()


@pytest.fixture
def seeded(database_url: str, data_dir: Path) -> tuple[str, Path]:
    result = runner.invoke(
        app,
        [
            "demo",
            "seed",
            "--db",
            database_url,
            "--data-dir",
            str(data_dir),
            "--clients",
            "15",
            "--as-of",
            "2026-11-01",
        ],
    )
    assert result.exit_code == 0, result.output
    return database_url, data_dir


def _run(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def _common(seeded: tuple[str, Path]) -> list[str]:
    return ["--db", seeded[0], "--data-dir", str(seeded[1])]


def test_checkpoint_and_public_key_formats(seeded: tuple[str, Path]) -> None:
    """checkpoint prints a C2SP signed note that public-key's verifier key opens; the key
    hash is SHA-256(name || 0x0A || 0x01 || key)[:4]."""
    code, note, _ = _run("ledger", "checkpoint", *_common(seeded))
    assert code == 0
    code, vkey, _ = _run("ledger", "public-key", *_common(seeded))
    assert code == 0
    name, key_hash, b64 = vkey.strip().split("+", 2)
    raw = base64.b64decode(b64)
    assert raw[0] == 1 and len(raw) == 33
    assert key_hash == hashlib.sha256(name.encode() + b"\n" + raw).digest()[:4].hex()
    lines = note.split("\n")
    assert lines[0] == name and lines[3] == "" and lines[4].startswith(f"\u2014 {name} ")
    sig = base64.b64decode(lines[4].split(" ")[2])
    assert len(sig) == 68 and sig[:4].hex() == key_hash
    # Check the signature by hand, with nothing of ours: the signed text is the three body
    # lines, each ending in a newline; the key is raw[1:].
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    Ed25519PublicKey.from_public_bytes(raw[1:]).verify(
        sig[4:], "\n".join(lines[:3]).encode() + b"\n"
    )
    cp = open_checkpoint(note, [NoteVerifier.parse(vkey.strip())])
    assert cp.size == int(lines[1])


def test_verify_ok_and_export_rebuilds_the_tree(seeded: tuple[str, Path]) -> None:
    """verify prints 'ok: N entries, root <hex>'; export's leaves rebuild that root alone."""
    code, out, _ = _run("ledger", "verify", *_common(seeded))
    assert code == 0, out
    assert out.startswith("ok: ")
    n, root = int(out.split()[1]), out.split()[-1]
    code, out, _ = _run("ledger", "export", "--format", "jsonl", *_common(seeded))
    lines = [json.loads(x) for x in out.splitlines()]
    assert [x["index"] for x in lines] == list(range(n))
    leaves = [leaf_hash(base64.b64decode(x["leaf"])) for x in lines]
    assert root_from_leaf_hashes(leaves).hex() == root
    assert all(x["leaf_hash"] == h.hex() for x, h in zip(lines, leaves, strict=True))


def test_prove_outputs_rfc9162_paths(seeded: tuple[str, Path]) -> None:
    """prove --index and --old-size print JSON paths that verify against the checkpoint."""
    _, note, _ = _run("ledger", "checkpoint", *_common(seeded))
    _, vkey, _ = _run("ledger", "public-key", *_common(seeded))
    cp: Checkpoint = open_checkpoint(note, [NoteVerifier.parse(vkey.strip())])
    _, out, _ = _run("ledger", "export", *_common(seeded))
    leaves = [leaf_hash(base64.b64decode(json.loads(x)["leaf"])) for x in out.splitlines()]
    for i in (0, 5, cp.size - 1):
        code, out, _ = _run("ledger", "prove", "--index", str(i), *_common(seeded))
        proof = json.loads(out)
        assert set(proof) == {"leaf_index", "tree_size", "hashes"}
        verify_inclusion(
            leaves[i], i, cp.size, [bytes.fromhex(h) for h in proof["hashes"]], cp.root_hash
        )
    code, out, _ = _run("ledger", "prove", "--old-size", "7", *_common(seeded))
    assert code == 0
    proof = json.loads(out)
    assert (proof["old_size"], proof["tree_size"]) == (7, cp.size)
    verify_consistency(
        7,
        cp.size,
        root_from_leaf_hashes(leaves[:7]),
        cp.root_hash,
        [bytes.fromhex(h) for h in proof["hashes"]],
    )


def test_verify_against_an_older_checkpoint_file(seeded: tuple[str, Path], tmp_path: Path) -> None:
    """--checkpoint proves the log extends what the auditor saw; a damaged file is refused."""
    _, note, _ = _run("ledger", "checkpoint", *_common(seeded))
    good = tmp_path / "cp.txt"
    good.write_text(note)
    code, out, _ = _run("ledger", "verify", "--checkpoint", str(good), *_common(seeded))
    assert code == 0 and out.startswith("ok: ")
    for bad_text in (note[: len(note) // 2], note.replace("\n\n", "\n"), "", "garbage\n"):
        bad = tmp_path / "bad.txt"
        bad.write_text(bad_text)
        code, out, err = _run("ledger", "verify", "--checkpoint", str(bad), *_common(seeded))
        assert code == 1, (bad_text, out, err)
        assert "checkpoint" in out


def test_bad_input_exit_codes(seeded: tuple[str, Path], tmp_path: Path) -> None:
    """Not a Custos database, missing file, bad flags: a message and a non-zero exit."""
    other = tmp_path / "other.db"
    import sqlite3

    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.commit()
    code, _, err = _run(
        "ledger", "verify", "--db", f"sqlite:///{other}", "--key", "a+00000000+AQ=="
    )
    assert code == 2 and "not a Custos database" in err
    code, _, err = _run(
        "ledger", "checkpoint", "--db", f"sqlite:///{other}", "--data-dir", str(tmp_path / "k")
    )
    assert code == 2 and "not a Custos database" in err
    code, _, err = _run("ledger", "prove", *_common(seeded))
    assert code == 2 and "exactly one" in err
    code, _, err = _run("ledger", "prove", "--index", "999999", *_common(seeded))
    assert code == 1 and "outside" in err
    code, _, err = _run("demo", "seed", "--clients", "3", *_common(seeded))
    assert code == 1 and "already holds a ledger" in err


def test_verifier_does_not_import_the_service() -> None:
    """`custos ledger verify` loads only the verifier and pure format modules."""
    code = (
        "import sys; import consent_ledger.verify; "
        "bad = [m for m in sys.modules if m.startswith('consent_ledger.') and m.split('.')[1] "
        "in {'runtime', 'registry', 'ledger', 'vault', 'db', 'seed'} or m.startswith('api')]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
