"""What the client returns: typed decisions and problems."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

__all__ = ["CustosProblem", "Decision"]


@dataclass(frozen=True)
class Decision:
    decision_id: str
    client_id: str
    outcome: Literal["allow", "deny", "not_applicable"]
    reason_code: str
    reason: str
    rule_id: str | None
    obligations: tuple[str, ...]
    policy_version: str
    categories: tuple[str, ...]
    ledger_index: int
    timestamp: str

    @property
    def allowed(self) -> bool:
        """Only an explicit allow is an allow; not_applicable is not."""
        return self.outcome == "allow"

    @classmethod
    def from_json(cls, client_id: str, body: dict[str, Any]) -> Decision:
        return cls(
            decision_id=body["decision_id"],
            client_id=client_id,
            outcome=body["outcome"],
            reason_code=body["reason_code"],
            reason=body["reason"],
            rule_id=body.get("rule_id"),
            obligations=tuple(body["obligations"]),
            policy_version=body["policy_version"],
            categories=tuple(body["categories"]),
            ledger_index=body["ledger_index"],
            timestamp=body["timestamp"],
        )


class CustosProblem(Exception):
    """An error answer from Custos (RFC 9457 problem details)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", "unknown"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")
