"""Checkpoints, the verifier key, proofs and raw entries, in the ledger CLI's formats, so
``custos ledger verify`` and any RFC 9162 / C2SP verifier can check what is handed out."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from api.deps import AuditorCaller, ServicesDep
from api.problems import problem_responses
from api.schemas import MAX_INDEX
from consent_ledger.errors import InvalidRequest
from consent_ledger.export import export_lines

router = APIRouter(prefix="/v1/ledger", tags=["ledger"])

_ERRORS = problem_responses(400, 401, 403, 422)


@router.get(
    "/checkpoint",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def checkpoint(services: ServicesDep) -> PlainTextResponse:
    """The latest signed checkpoint as a C2SP signed note (public: it reveals only a size and
    a root hash)."""
    return PlainTextResponse(services.custos.ledger.checkpoint())


@router.get(
    "/public-key",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {}}}},
)
def public_key(services: ServicesDep) -> PlainTextResponse:
    """The checkpoint verifier key, ``<name>+<hash>+<base64 key>``."""
    return PlainTextResponse(services.custos.ledger.signer.verifier_key() + "\n")


@router.get("/proofs/inclusion", responses=_ERRORS)
def inclusion(
    services: ServicesDep,
    caller: AuditorCaller,
    index: int = Query(ge=0, le=MAX_INDEX),
    tree_size: int | None = Query(default=None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    """RFC 9162 §2.1.3 inclusion path of entry ``index`` (default: latest checkpoint)."""
    try:
        return services.custos.ledger.inclusion_proof(index, tree_size).as_json()
    except InvalidRequest as exc:
        # The ledger calls it leaf_index; this endpoint's parameter is `index`.
        if exc.field == "leaf_index":
            exc.field = "index"
        raise


@router.get("/proofs/consistency", responses=_ERRORS)
def consistency(
    services: ServicesDep,
    caller: AuditorCaller,
    old_size: int = Query(ge=1, le=MAX_INDEX),
    tree_size: int | None = Query(default=None, ge=1, le=MAX_INDEX),
) -> dict[str, Any]:
    """RFC 9162 §2.1.4 consistency path from ``old_size`` (default: to the latest checkpoint)."""
    return services.custos.ledger.consistency_proof(old_size, tree_size).as_json()


@router.get(
    "/entries",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/jsonl": {}}}, **_ERRORS},
)
def entries(
    services: ServicesDep,
    caller: AuditorCaller,
    start: int = Query(default=0, ge=0, le=MAX_INDEX),
    end: int | None = Query(default=None, ge=0, le=MAX_INDEX),
) -> StreamingResponse:
    """Entries as JSON Lines, exactly as ``custos ledger export`` prints them."""

    def lines() -> Iterator[bytes]:
        yield from export_lines(services.custos.ledger.entries(start, end))

    return StreamingResponse(lines(), media_type="application/jsonl")
