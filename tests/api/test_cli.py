"""The fixed ledger command-line interfaces, as an auditor's scripts call them."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from api.cli import app
from consent_ledger.entries import ClientRegistered
from consent_ledger.merkle import (
    leaf_hash,
    root_from_leaf_hashes,
    verify_consistency,
    verify_inclusion,
)
from consent_ledger.note import Checkpoint, NoteSigner, NoteVerifier, open_checkpoint
from consent_ledger.runtime import open_custos
from consent_ledger.settings import ledger_settings
from tests.api.conftest import World

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
    """--checkpoint proves the log extends what the auditor saw. A file that is no signed
    checkpoint at all is bad input (exit 2, as README says); a well-formed checkpoint whose
    signature does not verify (its size or root altered) fails verification (exit 1)."""
    _, note, _ = _run("ledger", "checkpoint", *_common(seeded))
    good = tmp_path / "cp.txt"
    good.write_text(note)
    code, out, _ = _run("ledger", "verify", "--checkpoint", str(good), *_common(seeded))
    assert code == 0 and out.startswith("ok: ")
    bad = tmp_path / "bad.txt"
    for bad_text in (note[: len(note) // 2], note.replace("\n\n", "\n"), "", "garbage\n"):
        bad.write_text(bad_text)
        code, out, err = _run("ledger", "verify", "--checkpoint", str(bad), *_common(seeded))
        assert code == 2, (bad_text, out, err)
        assert "not a signed checkpoint" in err
    origin, size, rest = note.split("\n", 2)
    bad.write_text(f"{origin}\n{int(size) - 1}\n{rest}")
    code, out, err = _run("ledger", "verify", "--checkpoint", str(bad), *_common(seeded))
    assert code == 1, (out, err)
    assert out.startswith("FAILED: the given checkpoint does not verify")
    code, _, err = _run("ledger", "verify", "--checkpoint", str(tmp_path / "no"), *_common(seeded))
    assert code == 2 and "cannot read checkpoint file" in err


def test_db_takes_a_plain_sqlite_path(
    tmp_path: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--db custos.db (relative, as the default ./custos.db invites), an absolute path and
    CUSTOS_DATABASE_URL=<path> all name a SQLite file, for every command that takes --db."""
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(
        app, ["demo", "seed", "--db", "custos.db", "--data-dir", str(data_dir), "--clients", "3"]
    )
    assert r.exit_code == 0, r.output
    for db in ("custos.db", "./custos.db", str(tmp_path / "custos.db")):
        code, out, err = _run("ledger", "verify", "--db", db, "--data-dir", str(data_dir))
        assert code == 0 and out.startswith("ok: "), (db, out, err)
        size = int(out.split()[1])
        code, out, err = _run("ledger", "export", "--db", db)
        assert code == 0 and out.count("\n") == size, err
    monkeypatch.setenv("CUSTOS_DATABASE_URL", str(tmp_path / "custos.db"))
    code, out, err = _run("ledger", "verify", "--data-dir", str(data_dir))
    assert code == 0 and out.startswith("ok: "), err
    code, _, err = _run("ledger", "verify", "--db", "missing.db", "--key", "a+00000000+AQ==")
    assert code == 2 and "no SQLite database file" in err
    assert not (tmp_path / "missing.db").exists()


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


@pytest.mark.parametrize("module", ["consent_ledger.verify", "consent_ledger.verify_export"])
def test_verifier_does_not_import_the_service(module: str) -> None:
    """`custos ledger verify` (of a database or of an export) and `verify-proof` load only
    the verifiers and the pure format modules: nothing of the service, the API or policies."""
    code = (
        f"import sys; import {module}; "
        "bad = [m for m in sys.modules if m.startswith('consent_ledger.') and m.split('.')[1] "
        "in {'runtime', 'registry', 'ledger', 'vault', 'db', 'seed', 'entries', 'accounts'} "
        "or m.startswith(('api', 'policies', 'sqlmodel', 'fastapi'))]; "
        "print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- offline verification: an export, checkpoints and proofs, with no database ------------


@dataclass(frozen=True)
class Audit:
    """What an external auditor holds: an older and a newer checkpoint, the verifier key,
    the export (as lines) and the files they were written to."""

    old: Path  # the checkpoint the auditor kept from an earlier visit
    new: Path  # the latest checkpoint, over the whole export
    old_size: int
    vkey: str
    lines: list[str]
    dir: Path

    def export(self, lines: list[str], name: str = "export.jsonl") -> Path:
        path = self.dir / name
        path.write_text("".join(lines))
        return path


@pytest.fixture
def audit(seeded: tuple[str, Path], tmp_path: Path) -> Audit:
    """The seeded ledger's checkpoint, then five more entries under a newer checkpoint."""
    folder = tmp_path / "auditor"
    folder.mkdir()
    _, old_note, _ = _run("ledger", "checkpoint", *_common(seeded))
    (folder / "old.cp").write_text(old_note)
    custos = open_custos(ledger_settings(database_url=seeded[0], data_dir=seeded[1]))
    try:
        for _ in range(5):
            custos.registry.register_client()
    finally:
        custos.close()
    code, new_note, err = _run("ledger", "checkpoint", "--sign", *_common(seeded))
    assert code == 0 and new_note != old_note, err
    (folder / "new.cp").write_text(new_note)
    _, vkey, _ = _run("ledger", "public-key", *_common(seeded))
    _, out, _ = _run("ledger", "export", *_common(seeded))
    return Audit(
        folder / "old.cp",
        folder / "new.cp",
        int(old_note.split("\n")[1]),
        vkey.strip(),
        out.splitlines(keepends=True),
        folder,
    )


def _verify_export(a: Audit, export: Path, checkpoint: Path | None = None) -> tuple[int, str, str]:
    cp = [] if checkpoint is None else ["--checkpoint", str(checkpoint)]
    return _run("ledger", "verify", "--export", str(export), *cp, "--key", a.vkey)


def _with_leaf(line: str, leaf: bytes, **fields: object) -> str:
    obj = json.loads(line)
    obj["leaf"] = base64.b64encode(leaf).decode()
    obj.update(fields)
    return json.dumps(obj) + "\n"


def test_an_export_verifies_alone(audit: Audit, seeded: tuple[str, Path]) -> None:
    """verify --export recomputes what verify --db does (same 'ok' line, same root), against
    the latest checkpoint and against an older one (whose later entries it notes)."""
    export = audit.export(audit.lines)
    _, db_out, _ = _run("ledger", "verify", *_common(seeded))
    code, out, err = _verify_export(audit, export, audit.new)
    assert (code, out) == (0, db_out), err
    assert out == f"ok: {len(audit.lines)} entries, root {out.split()[-1]}\n"
    code, out, err = _verify_export(audit, export, audit.old)
    assert (code, out) == (0, db_out), err
    assert "the last 5 entries are not under the given checkpoint" in err
    code, out, err = _run("ledger", "verify", "--export", str(export))
    assert (code, out) == (0, db_out) and "nothing signed vouches" in err


def _replaced(lines: list[str], k: int, *new: str) -> list[str]:
    """``lines`` with line ``k`` replaced by ``new`` (nothing: dropped)."""
    return [*lines[:k], *new, *lines[k + 1 :]]


def test_a_tampered_export_fails_naming_the_entry(audit: Audit) -> None:
    """A flipped byte in one leaf, a dropped line, a reordered line, a decoded field that
    differs from the leaf, and an export cut below the older checkpoint each exit 1 naming
    the entry; a consistently rewritten last entry fails on the signed root."""
    lines, k = audit.lines, 7
    original = base64.b64decode(json.loads(lines[k])["leaf"])
    flipped = bytearray(original)
    flipped[len(flipped) // 2] ^= 0x01
    cases = {
        "flipped": _replaced(lines, k, _with_leaf(lines[k], bytes(flipped))),
        "dropped": _replaced(lines, k),
        "reordered": [*lines[:k], lines[k + 1], lines[k], *lines[k + 2 :]],
        "field": _replaced(lines, k, _with_leaf(lines[k], original, subject="c_someone_else")),
    }
    for name, tampered in cases.items():
        code, out, err = _verify_export(audit, audit.export(tampered), audit.new)
        assert code == 1, (name, out, err)
        assert out.startswith(f"FAILED: entry {k}: "), (name, out)
    cut = audit.old_size - 3
    code, out, err = _verify_export(audit, audit.export(lines[:cut]), audit.old)
    assert code == 1 and out.startswith(f"FAILED: entry {cut}: not in the export"), out
    assert "truncated" in out
    # The last entry rewritten with its hash and fields to match: only the signature sees it.
    last = base64.b64decode(json.loads(lines[-1])["leaf"])
    forged = last.replace(b'"timestamp":"2', b'"timestamp":"1', 1)
    assert forged != last
    rewritten = _replaced(
        lines,
        len(lines) - 1,
        _with_leaf(
            lines[-1],
            forged,
            leaf_hash=leaf_hash(forged).hex(),
            timestamp=json.loads(forged)["timestamp"],
        ),
    )
    code, out, err = _verify_export(audit, audit.export(rewritten), audit.new)
    assert code == 1 and "the signed root at size" in out, (out, err)


def test_an_export_against_the_wrong_key_or_a_bad_file(audit: Audit) -> None:
    """Another key (same origin) fails the checkpoint (exit 1); a line that is not JSON, a
    line missing its leaf, a malformed checkpoint, a missing file or a bad key are bad
    input (exit 2)."""
    export = audit.export(audit.lines)
    other = NoteSigner.generate(audit.vkey.split("+")[0]).verifier_key()
    code, out, err = _run(
        "ledger",
        "verify",
        "--export",
        str(export),
        "--checkpoint",
        str(audit.new),
        "--key",
        other,
    )
    assert code == 1 and out.startswith("FAILED: the given checkpoint does not verify"), err
    no_leaf = json.loads(audit.lines[2])
    del no_leaf["leaf"]
    for bad in (["not json\n"], [*audit.lines[:2], json.dumps(no_leaf) + "\n"]):
        code, out, err = _verify_export(audit, audit.export(bad), audit.new)
        assert code == 2 and "line" in err and not out, (out, err)
    broken = audit.dir / "broken.cp"
    broken.write_text(audit.new.read_text().replace("\n\n", "\n"))
    code, _, err = _verify_export(audit, export, broken)
    assert code == 2 and "not a signed checkpoint" in err
    code, _, err = _verify_export(audit, audit.dir / "missing.jsonl", audit.new)
    assert code == 2 and "cannot read export file" in err
    code, _, err = _run(
        "ledger",
        "verify",
        "--export",
        str(export),
        "--checkpoint",
        str(audit.new),
        "--key",
        "not-a-key",
    )
    assert code == 2 and "verifier key" in err
    code, _, err = _run("ledger", "verify", "--export", str(export), "--checkpoint", str(audit.new))
    assert code == 2 and "--key" in err


def test_verify_proof_checks_what_prove_hands_out(audit: Audit, seeded: tuple[str, Path]) -> None:
    """verify-proof accepts prove's inclusion and consistency proofs against the signed
    checkpoints; a wrong leaf hash, an altered path, a proof for another size or the
    checkpoints swapped exit 1; a file that is no proof exits 2."""
    k = 9
    leaf = json.loads(audit.lines[k])["leaf_hash"]
    _, inclusion, _ = _run("ledger", "prove", "--index", str(k), *_common(seeded))
    _, consistency, _ = _run("ledger", "prove", "--old-size", str(audit.old_size), *_common(seeded))
    inc, con = audit.dir / "inc.json", audit.dir / "con.json"
    inc.write_text(inclusion)
    con.write_text(consistency)
    base = ["ledger", "verify-proof", "--checkpoint", str(audit.new), "--key", audit.vkey]

    def included(proof: Path, leaf_hex: str) -> tuple[int, str, str]:
        return _run(*base, "--inclusion", str(proof), "--leaf-hash", leaf_hex)

    def extends(proof: Path, old: Path, new: Path = audit.new) -> tuple[int, str, str]:
        return _run(
            "ledger",
            "verify-proof",
            "--checkpoint",
            str(new),
            "--key",
            audit.vkey,
            "--consistency",
            str(proof),
            "--old-checkpoint",
            str(old),
        )

    code, out, err = included(inc, leaf)
    assert code == 0 and out.startswith(f"ok: entry {k} is in the log of {len(audit.lines)}"), err
    code, out, err = extends(con, audit.old)
    assert code == 0 and out.startswith(
        f"ok: the log of {len(audit.lines)} entries extends that of {audit.old_size}"
    ), err
    other_leaf = json.loads(audit.lines[k + 1])["leaf_hash"]
    code, out, _ = included(inc, other_leaf)
    assert code == 1 and out.startswith(f"FAILED: entry {k}: not in the signed tree")
    altered = json.loads(inclusion)
    altered["hashes"][0] = "00" * 32
    bad = audit.dir / "bad.json"
    bad.write_text(json.dumps(altered))
    assert included(bad, leaf)[0] == 1
    altered = json.loads(inclusion) | {"tree_size": audit.old_size}
    bad.write_text(json.dumps(altered))
    code, out, _ = included(bad, leaf)
    assert code == 1 and "checkpoint is of" in out
    code, out, _ = extends(con, audit.new, audit.old)
    assert code == 1, out
    altered = json.loads(consistency)
    altered["hashes"][-1] = "11" * 32
    bad.write_text(json.dumps(altered))
    code, out, _ = extends(bad, audit.old)
    assert code == 1 and "not a consistent extension" in out
    for junk in ("not json", "{}", '{"leaf_index": 1, "tree_size": 2, "hashes": ["xy"]}'):
        bad.write_text(junk)
        assert included(bad, leaf)[0] == 2, junk
        assert extends(bad, audit.old)[0] == 2, junk
    assert included(inc, "zz")[0] == 2
    assert _run(*base)[0] == 2
    assert _run(*base, "--inclusion", str(inc))[0] == 2
    assert (
        _run(*base, "--inclusion", str(inc), "--leaf-hash", leaf, "--consistency", str(con))[0] == 2
    )


def test_verify_proof_checks_what_the_api_hands_out(world: World, tmp_path: Path) -> None:
    """The API's checkpoint, public key, inclusion and consistency proofs verify offline."""
    auditor = world.auth(world.auditor)
    old_note = world.http.get("/v1/ledger/checkpoint").text
    world.services.custos.registry.register_client()
    note = world.http.get("/v1/ledger/checkpoint").text
    vkey = world.http.get("/v1/ledger/public-key").text.strip()
    size, old_size = int(note.split("\n")[1]), int(old_note.split("\n")[1])
    entries = world.http.get("/v1/ledger/entries", headers=auditor).text.splitlines()
    files = {
        "cp": note,
        "old": old_note,
        "inc": world.http.get("/v1/ledger/proofs/inclusion?index=1", headers=auditor).text,
        "con": world.http.get(
            f"/v1/ledger/proofs/consistency?old_size={old_size}", headers=auditor
        ).text,
    }
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    base = ["ledger", "verify-proof", "--checkpoint", str(tmp_path / "cp"), "--key", vkey]
    leaf = json.loads(entries[1])["leaf_hash"]
    code, out, err = _run(*base, "--inclusion", str(tmp_path / "inc"), "--leaf-hash", leaf)
    assert code == 0 and f"in the log of {size} entries" in out, err
    code, out, err = _run(
        *base, "--consistency", str(tmp_path / "con"), "--old-checkpoint", str(tmp_path / "old")
    )
    assert code == 0 and f"extends that of {old_size}" in out, err


# -- read-only commands on an auditor's copy ------------------------------------------------

READ_ONLY = [
    ("ledger", "export"),
    ("ledger", "prove", "--index", "3"),
    ("ledger", "prove", "--old-size", "5"),
    ("ledger", "checkpoint"),
    ("ledger", "public-key"),
    ("ledger", "verify"),
    ("apps", "list"),
    ("auditors", "list"),
]


def test_read_only_commands_need_no_key_files(
    seeded: tuple[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an auditor's copy of the database (SQLite: the file copied elsewhere; PostgreSQL:
    the database itself), with CUSTOS_DATA_DIR an empty directory and no keys anywhere,
    export, prove, checkpoint, public-key, verify and the account lists succeed, print what
    the firm's own installation prints, and create no key file."""
    url = seeded[0]
    firm = {cmd: _run(*cmd, *_common(seeded)) for cmd in READ_ONLY}
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    if url.startswith("sqlite:///"):
        source = Path(url.removeprefix("sqlite:///"))
        for path in source.parent.iterdir():
            if path.name.startswith(source.name) and not path.name.endswith(".lock"):
                shutil.copy(path, auditor / path.name.replace(source.name, "copy.db"))
        url = f"sqlite:///{auditor / 'copy.db'}"
    no_keys = tmp_path / "no-keys"
    no_keys.mkdir()
    monkeypatch.setenv("CUSTOS_DATA_DIR", str(no_keys))
    monkeypatch.chdir(auditor)  # nor in the default ./.custos
    for cmd in READ_ONLY:
        code, out, err = _run(*cmd, "--db", url)
        assert code == 0, (cmd, out, err)
        assert out == firm[cmd][1], cmd
    assert list(no_keys.iterdir()) == []
    assert not (auditor / ".custos").exists()


def test_checkpoint_prints_the_stored_note_and_signs_only_when_asked(
    seeded: tuple[str, Path],
) -> None:
    """After the log grew, `checkpoint` still prints the latest stored note (no signing);
    `checkpoint --sign` signs one of the grown tree; an unsigned ledger has none to print."""
    _, before, _ = _run("ledger", "checkpoint", *_common(seeded))
    custos = open_custos(ledger_settings(database_url=seeded[0], data_dir=seeded[1]))
    try:
        custos.registry.register_client()
        size = custos.ledger.size()
    finally:
        custos.close()
    assert _run("ledger", "checkpoint", *_common(seeded))[1] == before
    code, after, _ = _run("ledger", "checkpoint", "--sign", *_common(seeded))
    assert code == 0 and int(after.split("\n")[1]) == size
    assert _run("ledger", "checkpoint", *_common(seeded))[1] == after


def test_an_unsigned_ledger_has_no_checkpoint_to_print(tmp_path: Path, data_dir: Path) -> None:
    """A database whose ledger was never checkpointed: `checkpoint` exits 1, saying so."""
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    custos = open_custos(ledger_settings(database_url=url, data_dir=data_dir))
    custos.close()
    code, _, err = _run("ledger", "checkpoint", "--db", url)
    assert code == 1 and "no signed checkpoint yet" in err


# -- help and messages ----------------------------------------------------------------------


def _command_paths(command: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    subcommands = getattr(command, "commands", {})
    found = [path]
    for name, sub in subcommands.items():
        found.extend(_command_paths(sub, (*path, name)))
    return found


def test_help_shows_flags_as_flags_and_no_markup() -> None:
    """No `--help` shows a "<bool>" value beside a flag (--help, --master, --sign), and the
    help of the ledger, account and key commands shows no raw backticks."""
    paths = _command_paths(typer.main.get_command(app))
    assert ("ledger", "verify-proof") in paths and ("keys", "revoke") in paths
    for path in paths:
        code, out, _ = _run(*path, "--help")
        assert code == 0, path
        assert "<bool>" not in out, (path, out)
        if path[:1] != ("demo",):  # demo serve's text is the demo's (make run), not ours
            assert "`" not in out, (path, out)
    _, out, _ = _run("keys", "rotate", "--help")
    assert re.search(r"--master\s+Re-wrap", out), out
    _, out, _ = _run("ledger", "export", "--help")
    assert "leaf" in out and "`" not in out


def test_the_unsigned_tail_note_counts_in_words(seeded: tuple[str, Path]) -> None:
    """One entry past the last checkpoint is "the last entry is", two "the last 2 entries
    are": never "the last 1 entries"."""
    custos = open_custos(ledger_settings(database_url=seeded[0], data_dir=seeded[1]))
    try:
        custos.ledger.record(ClientRegistered().entry("c_tail_one"))
        code, _, err = _run("ledger", "verify", *_common(seeded))
        assert code == 0
        assert "note: the last entry is not yet under a signed checkpoint" in err
        custos.ledger.record(ClientRegistered().entry("c_tail_two"))
        code, _, err = _run("ledger", "verify", *_common(seeded))
        assert "note: the last 2 entries are not yet under a signed checkpoint" in err
        assert "1 entries" not in err
    finally:
        custos.close()
