"""What the client returns: typed decisions and problems."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

__all__ = ["CustosProblem", "Decision", "Values"]


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
    # On a proof_required deny, the proof the client is asked for; on an allow through a
    # proof rule, the fact the verified proof established (never the value).
    proof_request: dict[str, Any] | None = None
    proof: dict[str, Any] | None = None

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
            proof_request=body.get("proof_request"),
            proof=body.get("proof"),
        )


class Values(Mapping[str, Any]):
    """The values a read returned, by category, with what the app must do with them:
    ``masked`` (shown as their last four characters), and ``retain_days`` / ``delete_by``
    (keep them no longer). Reads like the plain dict of values it wraps."""

    def __init__(self, body: Mapping[str, Any]) -> None:
        self._values: dict[str, Any] = dict(body["values"])
        how = body["instructions"]
        self.obligations: tuple[str, ...] = tuple(body["obligations"])
        self.masked: bool = bool(how["masked"])
        self.retain_days: int | None = how.get("retain_days")
        delete_by = how.get("delete_by")
        self.delete_by: datetime | None = (
            None if delete_by is None else datetime.fromisoformat(delete_by)
        )
        self.ledger_index: int = int(body["ledger_index"])

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Values(categories={sorted(self._values)}, retain_days={self.retain_days})"


class CustosProblem(Exception):
    """An error answer from Custos (RFC 9457 problem details)."""

    def __init__(self, status: int, problem: dict[str, Any]) -> None:
        self.status = status
        self.problem = problem
        self.code: str = str(problem.get("code", "unknown"))
        super().__init__(f"{status} {self.code}: {problem.get('detail', '')}")
