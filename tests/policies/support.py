"""Shared test data: the shipped catalogue and policy, compiled once, and request builders."""

from __future__ import annotations

from datetime import UTC, datetime

from consent_ledger.catalogue import load_catalogue
from policies import DEFAULT_POLICY_PATH, App, Context, Request, Resource, compile_policy
from policies.decision import Access
from policies.loader import load_policy

CATALOGUE = load_catalogue()
POLICY = load_policy(DEFAULT_POLICY_PATH, CATALOGUE)
COMPILED = compile_policy(POLICY, CATALOGUE)
NOW = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
CLIENT = "c_00042"


def request(
    department: str,
    purpose: str,
    *categories: str,
    access: Access = "row",
    stage: str | None = None,
    proven: frozenset[str] = frozenset(),
    now: datetime = NOW,
    client: str = CLIENT,
) -> Request:
    return Request(
        App(f"{department}-app", department),
        purpose,
        Resource(client, categories),
        Context(now, access, stage, proven),
    )
