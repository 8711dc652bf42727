"""Errors are RFC 9457 problem documents with stable, documented codes."""

from __future__ import annotations

import importlib
import pkgutil
import re
from pathlib import Path

from api.problems import PROBLEM_TYPES
from custos_errors import CustosError
from tests.api.conftest import World

PACKAGES = ("custos_errors", "consent_ledger", "policies", "privacy", "federated", "api")
README = Path(__file__).resolve().parents[2] / "api" / "README.md"


def test_every_code_is_documented() -> None:
    """api/README.md has a row for every problem code the API can return."""
    text = README.read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    assert set(PROBLEM_TYPES) <= documented, set(PROBLEM_TYPES) - documented


def _every_custos_error() -> list[type[CustosError]]:
    """Every CustosError subclass in the project's packages, found by importing each of
    their modules (no hand-kept list: a new package's errors are checked the day it lands)."""
    for package in PACKAGES:
        root = importlib.import_module(package)
        for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
            if ".migrations" not in info.name:
                importlib.import_module(info.name)

    def walk(cls: type[CustosError]) -> list[type[CustosError]]:
        return [cls, *[c for sub in cls.__subclasses__() for c in walk(sub)]]

    return walk(CustosError)


def test_every_domain_error_code_has_a_status() -> None:
    """Each CustosError subclass's code maps to a problem type (no silent 400 fallback)."""
    errors = _every_custos_error()
    codes = {c.code for c in errors}
    assert codes <= set(PROBLEM_TYPES), codes - set(PROBLEM_TYPES)
    # The walk really reached the packages: errors of the ledger and of the policy layer.
    names = {c.__module__.split(".")[0] for c in errors}
    assert {"consent_ledger", "policies", "custos_errors"} <= names, names


def test_problem_shape(world: World) -> None:
    """type, title, status, detail and code, served as application/problem+json."""
    r = world.http.post(
        "/v1/decisions",
        content=b"{not json",
        headers={**world.auth(world.advisory), "content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail", "code"} <= set(body)
    assert body["status"] == 400 and body["type"].endswith("/malformed_json")
    r = world.http.post(
        "/v1/decisions",
        json={"client_id": world.alice, "purpose": "kyc"},
        headers=world.auth(world.advisory),
    )
    assert r.status_code == 422 and r.json()["field"] == "categories"
    r = world.http.get("/v1/nowhere")
    assert r.status_code == 404 and r.json()["code"] == "not_found"
