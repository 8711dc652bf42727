"""The auditors' read-only view of the trail."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated

import orjson
from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse
from pydantic import AfterValidator

from api.deps import AuditorCaller, ServicesDep
from api.problems import problem_responses
from api.routes.me import page
from api.schemas import MAX_INDEX, TrailPage
from consent_ledger.audit import TrailQuery
from consent_ledger.errors import InvalidRequest

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_ERRORS = problem_responses(400, 401, 403, 422)
_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?Z?)?$")


def _time(value: str | None) -> str | None:
    if value is not None and not _TIME.match(value):
        raise ValueError(
            "expected an RFC 3339 UTC date or time: 2026-11-01, 2026-11-01T09:30, "
            "2026-11-01T09:30:00Z or 2026-11-01T09:30:00.123456Z"
        )
    return value


Time = Annotated[str | None, AfterValidator(_time)]


def _query(
    client_id: str | None,
    app_id: str | None,
    department: str | None,
    purpose: str | None,
    category: str | None,
    outcome: str | None,
    entry_type: str | None,
    since: str | None,
    until: str | None,
    after: int,
    limit: int,
) -> TrailQuery:
    return TrailQuery(
        subject=client_id,
        app_id=app_id,
        department=department,
        purpose=purpose,
        category=category,
        outcome=outcome,
        entry_type=entry_type,
        since=since,
        until=until,
        after=after,
        limit=limit,
    )


@router.get("/trail", response_model=TrailPage, responses=_ERRORS)
def trail(
    auditor: AuditorCaller,
    services: ServicesDep,
    client_id: str | None = Query(default=None, pattern=r"^c_[0-9a-f]{16}$"),
    app_id: str | None = Query(default=None, pattern=r"^[0-9a-f]{16}$"),
    department: str | None = Query(default=None, pattern=r"^[a-z_]{1,32}$"),
    purpose: str | None = Query(default=None, pattern=r"^[a-z_]{1,32}$"),
    category: str | None = Query(default=None, pattern=r"^[a-z][a-z0-9_.]{0,63}$"),
    outcome: str | None = Query(default=None, pattern=r"^(allow|deny|not_applicable)$"),
    entry_type: str | None = Query(default=None, alias="type", pattern=r"^[a-z_]{1,40}$"),
    since: Annotated[Time, Query(max_length=32, description="RFC 3339, inclusive")] = None,
    until: Annotated[Time, Query(max_length=32, description="RFC 3339, exclusive")] = None,
    after: int = Query(
        default=-1, ge=-1, le=MAX_INDEX, description="Continue after this ledger index"
    ),
    limit: int = Query(default=100, ge=1, le=1000),
    analyst_id: str | None = Query(
        default=None,
        pattern=r"^[0-9a-f]{16}$",
        description="An analyst's grant and releases (analyst_created, dp_release)",
    ),
) -> TrailPage:
    """Query the usage trail by client, app, analyst, department, purpose, category,
    outcome, type and time; each item is a ledger entry with its index, checkable by an
    inclusion proof."""
    if analyst_id is not None and app_id is not None:
        raise InvalidRequest("filter by app_id or analyst_id, not both", field="analyst_id")
    q = _query(
        client_id,
        app_id if analyst_id is None else analyst_id,
        department,
        purpose,
        category,
        outcome,
        entry_type,
        since,
        until,
        after,
        limit,
    )
    q = q.check(services.custos.catalogue, services.accounts.departments)
    return page(services.audit.query(q), limit)


@router.get(
    "/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/jsonl": {}}}, **_ERRORS},
)
def export(
    auditor: AuditorCaller,
    services: ServicesDep,
    since: Annotated[Time, Query(max_length=32)] = None,
    until: Annotated[Time, Query(max_length=32)] = None,
) -> StreamingResponse:
    """Every entry in a time range as JSON Lines (decoded fields, index, timestamp)."""

    def lines() -> Iterator[bytes]:
        after = -1
        while True:
            items = services.audit.query(
                TrailQuery(since=since, until=until, after=after, limit=1000)
            )
            for i in items:
                yield orjson.dumps(vars(i)) + b"\n"
            if len(items) < 1000:
                return
            after = items[-1].index

    return StreamingResponse(lines(), media_type="application/jsonl")
