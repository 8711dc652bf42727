"""Zero-knowledge proofs for the firm's apps: ``proof_request`` and ``verify_proof``.

Mixed into ``CustosClient`` and ``AsyncCustosClient``. A decision denied with
``proof_required`` carries ``decision.proof_request``; once the client approved it in the
portal, ``proof_request(id)`` returns the envelope, ``verify_proof(envelope)`` verifies it
(once, for the audience department only) and the decision asked again with
``proof_id=verdict.proof_id`` passes the rule.

    with CustosClient(url, app_key) as custos:
        d = custos.decide(client, "investment_advice", [AUM], stage="qualified_investor_check")
        pending = custos.proof_request(d.proof_request["request_id"])   # later, when approved
        verdict = custos.verify_proof(pending.envelope)
        d = custos.decide(client, "investment_advice", [AUM],
                          stage="qualified_investor_check", proof_id=verdict.proof_id)
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

__all__ = ["AsyncProofCalls", "PendingProof", "ProofCalls", "ProofVerdict"]


@dataclass(frozen=True)
class ProofVerdict:
    valid: bool
    reason: str  # "verified", or the stable code of the rejection
    proof_id: str | None  # name it as proof_id in the decision it is for
    ledger_index: int

    @classmethod
    def from_json(cls, b: dict[str, Any]) -> ProofVerdict:
        return cls(b["valid"], b["reason"], b["proof_id"], b["ledger_index"])


@dataclass(frozen=True)
class PendingProof:
    proof_request: dict[str, Any]
    status: str  # pending | approved | declined | verified
    envelope: dict[str, Any] | None  # once the client approved

    @classmethod
    def from_json(cls, b: dict[str, Any]) -> PendingProof:
        return cls(b["proof_request"], b["status"], b["envelope"])


class ProofCalls(ABC):
    @abstractmethod
    def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    def proof_request(self, request_id: str) -> PendingProof:
        """One of this department's proof requests, with the proof once approved."""
        return PendingProof.from_json(self._send_json("GET", f"/v1/proof-requests/{request_id}"))

    def verify_proof(self, envelope: dict[str, Any]) -> ProofVerdict:
        """Verify a proof (a rejected one is a verdict with ``valid`` False, not an error)."""
        body = self._send_json("POST", "/v1/proofs:verify", {"proof": envelope})
        return ProofVerdict.from_json(body)


class AsyncProofCalls(ABC):
    @abstractmethod
    async def _send_json(self, method: str, path: str, json: Any = None) -> Any: ...

    async def proof_request(self, request_id: str) -> PendingProof:
        body = await self._send_json("GET", f"/v1/proof-requests/{request_id}")
        return PendingProof.from_json(body)

    async def verify_proof(self, envelope: dict[str, Any]) -> ProofVerdict:
        body = await self._send_json("POST", "/v1/proofs:verify", {"proof": envelope})
        return ProofVerdict.from_json(body)
