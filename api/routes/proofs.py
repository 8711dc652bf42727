"""Zero-knowledge proofs: verify a client's proof, fetch an approved one, the parameters."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path
from pydantic import BaseModel, ConfigDict, Field

from api.deps import AppCaller, ServicesDep
from api.problems import problem_responses
from privacy.zk.parameters import parameters

router = APIRouter(prefix="/v1", tags=["proofs"])

_ERRORS = problem_responses(400, 401, 403, 404, 422)


class ProofVerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    proof: dict[str, Any] = Field(description="The proof envelope (privacy/zk/README.md)")


class ProofVerifyResponse(BaseModel):
    valid: bool
    reason: str = Field(description="'verified', or why the proof was rejected (a stable code)")
    proof_id: str | None = Field(description="Name it as proof_id in the decision it is for")
    ledger_index: int = Field(description="The proof_verified / proof_rejected entry")


class ProofRequestView(BaseModel):
    proof_request: dict[str, Any]
    status: str = Field(description="pending, approved, declined or verified")
    envelope: dict[str, Any] | None = Field(
        description="Once the client approved: the proof to present to /v1/proofs:verify"
    )


@router.post("/proofs:verify", response_model=ProofVerifyResponse, responses=_ERRORS)
def verify_proof(body: ProofVerifyRequest, app: AppCaller, services: ServicesDep) -> Any:
    """Verify a proof answering one of this department's proof requests. Only the audience
    department may present it, and only once; every verdict is a ledger entry
    (`proof_verified` / `proof_rejected`). An invalid proof is a 200 with `valid: false`."""
    return services.zk.verify(app, body.proof).to_json()


@router.get("/proof-requests/{request_id}", response_model=ProofRequestView, responses=_ERRORS)
def proof_request(
    app: AppCaller,
    services: ServicesDep,
    request_id: str = Path(pattern=r"^pr_[0-9a-f]{24}$"),
) -> Any:
    """One of this department's proof requests: its status and, once the client approved it
    in the portal, the proof envelope (another department's reads as unknown)."""
    found = services.zk.fetch(app, request_id)
    return {
        "proof_request": found.to_json(),
        "status": found.status,
        "envelope": None if found.envelope is None else dict(found.envelope),
    }


@router.get("/zk/parameters")
def zk_parameters(services: ServicesDep) -> dict[str, Any]:
    """Public: the commitment generators and tag, the Bulletproofs vector generators with
    their tag and derivation, the flow's protocol and context keys, the attestation format,
    the provable attributes and the desk's verification keys with the time each was in
    force; what `custos zk verify` checks a proof against offline."""
    return parameters(services.zk.parameters_keys(), services.zk.attributes)
