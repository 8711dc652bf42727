"""Domain errors → RFC 9457 problem responses, in one place.

Every error the API returns is ``application/problem+json`` with ``type``, ``title``,
``status`` and ``detail``, plus two extensions: ``code`` (stable, machine-readable) and,
where one field is at fault, ``field``; request validation adds ``errors``.
"""

from __future__ import annotations

import re
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from custos_errors import CustosError

__all__ = [
    "PROBLEM_TYPES",
    "Problem",
    "install_problem_handlers",
    "problem_for",
    "problem_response",
    "problem_responses",
    "problems_as_problem_json",
]

log = structlog.get_logger(__name__)

TYPE_BASE = "https://custos.local/problems/"
_FASTAPI_BODY_ERROR = "There was an error parsing the body"

# code → (HTTP status, title). Every CustosError code and every API-level code is here;
# a test checks that no code is missing and that each is documented in api/README.md.
PROBLEM_TYPES: dict[str, tuple[int, str]] = {
    "invalid_request": (400, "Invalid request"),
    "malformed_json": (400, "Malformed JSON"),
    "payload_too_large": (413, "Request body too large"),
    "unsupported_media_type": (415, "Unsupported media type"),
    "validation_failed": (422, "Request does not match the schema"),
    "unknown_name": (422, "Unknown level, category, purpose or department"),
    "unknown_department": (422, "Unknown department"),
    "unknown_purpose": (422, "Unknown purpose"),
    "unknown_category": (422, "Unknown category"),
    "invalid_decision_request": (400, "Invalid decision request"),
    "policy_error": (400, "Policy error"),
    "unknown_client": (404, "Unknown client"),
    "unknown_decision": (404, "Unknown decision"),
    "not_found": (404, "Not found"),
    "method_not_allowed": (405, "Method not allowed"),
    "consent_not_found": (409, "No such consent"),
    "consent_conflict": (409, "Consent conflict"),
    "unauthenticated": (401, "Authentication required"),
    "forbidden": (403, "Not allowed for this caller"),
    "access_denied": (403, "The policy denied this access"),
    "decision_not_usable": (403, "The decision does not cover this access"),
    "consent_withdrawn": (403, "The consent no longer covers this use"),
    "obligation_forbids": (403, "An obligation of the decision rules this out"),
    "rate_limited": (429, "Too many attempts"),
    "policy_invalid": (422, "Invalid policy"),
    "catalogue_invalid": (500, "Invalid catalogue"),
    "not_a_custos_database": (500, "Not a Custos database"),
    "ledger_corrupt": (500, "Ledger corrupt"),
    "vault_error": (409, "Personal data unavailable"),
    "key_file_invalid": (500, "Key file invalid"),
    "zk_error": (400, "Zero-knowledge proof refused"),
    "predicate_false": (422, "The predicate does not hold"),
    "zk_invalid_statement": (422, "Invalid proof statement"),
    "zk_invalid_envelope": (400, "Malformed proof envelope"),
    "zk_backend_unavailable": (500, "Zero-knowledge backend unavailable"),
    "unknown_dataset": (422, "Unknown dataset"),
    "unknown_column": (422, "Unknown column"),
    "column_not_permitted": (403, "Not a dataset or column this analyst may query"),
    "invalid_statistic": (422, "Invalid statistic"),
    "budget_exceeded": (403, "Privacy budget exceeded"),
    "unknown_proof_request": (404, "Unknown proof request"),
    "proof_request_not_usable": (409, "The proof request cannot be answered"),
    "zk_flow_error": (400, "Proof flow refused"),
    "attestation_invalid": (422, "Invalid attestation or parameters"),
    "attestation_missing": (409, "No attestation for this attribute"),
    "consent_not_covering": (403, "The consent does not cover this proof"),
    "fl_invalid_settings": (422, "Invalid federated training settings"),
    "fl_no_training_data": (409, "No training data for federated learning"),
    "custos_error": (400, "Request refused"),
    "internal_error": (500, "Internal error"),
}


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="URI naming the problem type")
    title: str
    status: int
    detail: str
    instance: str | None = None
    code: str = Field(description="Stable machine-readable code")
    field: str | None = Field(default=None, description="The request field at fault")
    obligation: str | None = Field(
        default=None, description="With obligation_forbids: the obligation that rules it out"
    )
    errors: list[dict[str, Any]] | None = None
    epsilon_remaining: float | None = Field(
        default=None, description="With budget_exceeded: the ε the analyst has left"
    )


def problems_as_problem_json(document: dict[str, Any]) -> dict[str, Any]:
    """FastAPI files a response model under the route's own media type (application/json),
    and adds its own 422 model; every error response here is an RFC 9457 problem, served as
    application/problem+json, so that is the one media type and schema they declare."""
    for path in document.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[:1] not in {"4", "5"}:
                    continue
                content = response.setdefault("content", {})
                schema = content.pop("application/json", {}).get("schema") or {
                    "$ref": "#/components/schemas/Problem"
                }
                content["application/problem+json"] = {"schema": schema}
    return document


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The ``responses`` a route declares for its problem statuses."""
    return {
        status: {"model": Problem, "content": {"application/problem+json": {}}}
        for status in statuses
    }


# A quoted value longer than this is cut to an excerpt; a detail longer than _MAX_DETAIL is
# cut too. Errors quote what was sent ("category 'x' is not in the catalogue"), and a huge
# submitted value must not come back whole (it did: 60 MB in, a 60 MB problem out).
_QUOTED = re.compile(r"'([^']{64,})'|\"([^\"]{64,})\"")
_EXCERPT = 40
_MAX_DETAIL = 1000
_MAX_ERRORS = 20


def _clip(text: str) -> str:
    def cut(m: re.Match[str]) -> str:
        value = m.group(1) if m.group(1) is not None else m.group(2)
        return f"'{value[:_EXCERPT]}…' ({len(value)} characters)"

    text = _QUOTED.sub(cut, text)
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL] + "…"


def problem_response(
    code: str,
    detail: str,
    *,
    field: str | None = None,
    instance: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    obligation: str | None = None,
    epsilon_remaining: float | None = None,
) -> JSONResponse:
    status, title = PROBLEM_TYPES.get(code, PROBLEM_TYPES["custos_error"])
    if errors is not None:
        errors = [
            {k: _clip(v) if isinstance(v, str) else v for k, v in e.items()}
            for e in errors[:_MAX_ERRORS]
        ]
    body = Problem(
        type=TYPE_BASE + code,
        title=title,
        status=status,
        detail=_clip(detail),
        instance=instance,
        code=code,
        field=None if field is None else _clip(field),
        obligation=obligation,
        errors=errors,
        epsilon_remaining=epsilon_remaining,
    )
    return JSONResponse(
        body.model_dump(exclude_none=True),
        status_code=status,
        media_type="application/problem+json",
        headers=headers,
    )


def problem_for(exc: Exception, instance: str) -> JSONResponse:
    """The response for an exception a request ended with: a CustosError by its code,
    anything else as an internal error whose details stay in the log."""
    if not isinstance(exc, CustosError):
        # The caller learns nothing of the internals; the log gets the type, never the values.
        log.error("unhandled_error", path=instance, error=type(exc).__name__)
        return problem_response(
            "internal_error", "the server failed to handle the request", instance=instance
        )
    code = exc.code if exc.code in PROBLEM_TYPES else "custos_error"
    headers = {"WWW-Authenticate": "Bearer"} if code == "unauthenticated" else None
    return problem_response(
        code,
        exc.message,
        field=exc.field,
        instance=instance,
        headers=headers,
        obligation=getattr(exc, "obligation", None),
        epsilon_remaining=getattr(exc, "epsilon_remaining", None),
    )


def _error(request: Request, exc: Exception) -> JSONResponse:
    return problem_for(exc, request.url.path)


def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
            "message": e.get("msg", ""),
        }
        for e in exc.errors()
    ]
    if any(e.get("type") == "json_invalid" for e in exc.errors()):
        return problem_response(
            "malformed_json", "the request body is not valid JSON", instance=request.url.path
        )
    first = errors[0] if errors else {"field": "", "message": "invalid"}
    return problem_response(
        "validation_failed",
        f"{first['field'] or 'request'}: {first['message']}",
        field=first["field"] or None,
        instance=request.url.path,
        errors=errors,
    )


def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = {404: "not_found", 405: "method_not_allowed", 401: "unauthenticated", 403: "forbidden"}
    if exc.status_code == 400 and exc.detail == _FASTAPI_BODY_ERROR:
        # FastAPI's answer when the body cannot be decoded at all (not UTF-8, nested past
        # the parser's depth): to the caller that is malformed JSON, like a syntax error.
        return problem_response(
            "malformed_json",
            "the request body is not valid JSON (not UTF-8, or nested too deeply)",
            instance=request.url.path,
        )
    return problem_response(
        code.get(exc.status_code, "invalid_request"),
        str(exc.detail),
        instance=request.url.path,
        headers=getattr(exc, "headers", None),
    )


def install_problem_handlers(app: FastAPI) -> None:
    app.add_exception_handler(CustosError, _error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Exception, _error)
