"""Request and response bodies of the HTTP API. Requests refuse unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "MAX_INDEX",
    "TRACE_ID_PATTERN",
    "AppCreated",
    "BatchDecisionRequest",
    "BatchDecisionResponse",
    "CollectRequest",
    "ConsentChange",
    "ConsentGrant",
    "ConsentRevoke",
    "ConsentView",
    "DecisionRequest",
    "DecisionResponse",
    "LedgerRef",
    "TrailItem",
    "TrailPage",
    "UseRequest",
    "ValuesResponse",
]

# Indices and sizes beyond this are refused at the edge: no ledger gets near it, and larger
# integers would overflow the databases' 64-bit columns.
MAX_INDEX = 2**53 - 1
_NAME = r"^[a-z][a-z0-9_.]{0,63}$"
# The ``X-Trace-Id`` header a caller may send to tie its own logs to ours and to the ledger.
TRACE_ID_PATTERN = r"^[A-Za-z0-9-]{1,64}$"
_CLIENT = r"^c_[0-9a-f]{16}$"


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DecisionRequest(_In):
    """May this app use these categories of this client for this purpose?"""

    client_id: str = Field(pattern=_CLIENT, description="The client's pseudonymous id")
    purpose: str = Field(pattern=_NAME, examples=["investment_advice"])
    categories: list[str] = Field(
        min_length=1, max_length=32, examples=[["user.financial.assets_under_management"]]
    )
    access: Literal["row", "aggregate"] = "row"
    stage: str | None = Field(default=None, pattern=r"^[a-z_]{1,32}$")
    proof_id: str | None = Field(
        default=None,
        pattern=r"^pf_[0-9a-f]{24}$",
        description="A proof the server verified (POST /v1/proofs:verify), to pass a proof rule",
    )


class BatchDecisionRequest(_In):
    items: list[DecisionRequest] = Field(min_length=1, max_length=500)


class DecisionResponse(BaseModel):
    decision_id: str
    outcome: Literal["allow", "deny", "not_applicable"]
    reason_code: str
    reason: str
    rule_id: str | None
    obligations: list[str]
    policy_version: str
    categories: list[str] = Field(description="Exactly the categories allowed; empty unless allow")
    ledger_index: int
    timestamp: str
    proof_request: dict[str, Any] | None = Field(
        default=None,
        description="On a proof_required deny: the proof the client is asked for (request id, "
        "single-use nonce, client, attribute, predicate, audience department, expiry)",
    )
    proof: dict[str, Any] | None = Field(
        default=None,
        description="On an allow through a proof rule: the fact a verified proof established "
        "(proof id, rule, attribute, predicate, holds), never the value",
    )


class BatchDecisionResponse(BaseModel):
    decisions: list[DecisionResponse]


class CollectRequest(_In):
    purpose: str = Field(pattern=_NAME)
    values: dict[str, Any] = Field(min_length=1, max_length=32)


class UseRequest(_In):
    decision_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    client_id: str = Field(pattern=_CLIENT)
    categories: list[str] = Field(min_length=1, max_length=32)


class LedgerRef(BaseModel):
    ledger_index: int
    timestamp: str


class Instructions(BaseModel):
    """What the receiving app must do with the values, from the decision's obligations."""

    masked: bool = Field(description="Values are masked to their last four characters")
    retain_days: int | None = Field(default=None, description="Keep the values this many days")
    delete_by: datetime | None = Field(default=None, description="Delete the values by then")


class ValuesResponse(BaseModel):
    client_id: str
    decision_id: str
    values: dict[str, Any]
    obligations: list[str]
    instructions: Instructions
    ledger_index: int


class ConsentView(BaseModel):
    client_id: str
    active: bool
    level: int | None = None
    purposes: list[str] = Field(default_factory=list)
    granted_at: datetime | None = None
    expires_at: datetime | None = None


class ConsentGrant(_In):
    level: int = Field(ge=1, le=4)
    purposes: list[str] = Field(min_length=1, max_length=16)
    expires_at: datetime | None = None


class ConsentChange(_In):
    level: int | None = Field(default=None, ge=1, le=4)
    purposes: list[str] | None = Field(default=None, max_length=16)
    expires_at: datetime | None = Field(default=None, description="A new end date")
    no_expiry: bool = Field(default=False, description="Make the consent last until withdrawn")


class ConsentRevoke(_In):
    purposes: list[str] | None = Field(
        default=None, description="Withdraw only these purposes; omit to withdraw everything"
    )


class TrailItem(BaseModel):
    index: int
    timestamp: str
    type: str
    subject: str | None
    body: dict[str, Any]


class TrailPage(BaseModel):
    items: list[TrailItem]
    next_after: int | None = Field(description="Pass as `after` for the next page; null at the end")


class AppCreated(BaseModel):
    account_id: str
    key: str
