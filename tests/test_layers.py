"""Imports point one way: api → policies → consent_ledger → custos_errors; privacy and
federated sit beside api, above policies. Read from the source (ast), so an import inside a
function counts as much as one at the top."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# package → the project packages it must never import
FORBIDDEN = {
    "custos_errors": {"consent_ledger", "policies", "privacy", "federated", "api"},
    "consent_ledger": {"policies", "privacy", "federated", "api"},
    "policies": {"privacy", "federated", "api"},
    "privacy": {"api"},
    "federated": {"api"},
}


def _imported(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_import_points_back_up(package: str) -> None:
    """No module of a lower package imports a higher one."""
    wrong = {
        str(path.relative_to(ROOT)): sorted(_imported(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
    }
    assert not {k: v for k, v in wrong.items() if v}


def test_api_writes_no_ledger_entry_itself() -> None:
    """Routes, portal and CLI go through the domain services: none builds an entry
    (``NewEntry``, ``Body.entry()``) or appends one (``ledger.append`` / ``ledger.record``).
    Reading entries back (``parse_body``) is fine."""
    offenders = []
    for path in (ROOT / "api").rglob("*.py"):
        where = str(path.relative_to(ROOT))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and any(a.name == "NewEntry" for a in node.names):
                offenders.append(f"{where}: imports NewEntry")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                name, owner = node.func.attr, node.func.value
                if name == "entry":
                    offenders.append(f"{where}:{node.lineno}: builds an entry")
                if (
                    name in {"append", "record"}
                    and isinstance(owner, ast.Attribute)
                    and owner.attr == "ledger"
                ):
                    offenders.append(f"{where}:{node.lineno}: ledger.{name}")
    assert not offenders


def test_only_privacy_dp_imports_opendp() -> None:
    """Row-level values meet OpenDP in privacy/dp and nowhere else: no other package of the
    service imports it (the benchmark's OpenDP-only baseline is not part of the service)."""
    offenders = [
        str(path.relative_to(ROOT))
        for package in (*FORBIDDEN, "api", "custos_client")
        for path in (ROOT / package).rglob("*.py")
        if "opendp" in _imported(path) and not path.is_relative_to(ROOT / "privacy" / "dp")
    ]
    assert not offenders


def test_only_privacy_zk_does_curve_math() -> None:
    """privacy/zk is the only package that does curve math: no other package of the service
    imports py_ecc or py_arkworks_bls12381 (tests and benchmarks may, as references)."""
    curve_libraries = {"py_ecc", "py_arkworks_bls12381"}
    offenders = [
        str(path.relative_to(ROOT))
        for package in (*FORBIDDEN, "api", "custos_client")
        for path in (ROOT / package).rglob("*.py")
        if _imported(path) & curve_libraries and not path.is_relative_to(ROOT / "privacy" / "zk")
    ]
    assert not offenders
