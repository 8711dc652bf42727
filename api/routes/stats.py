"""Differentially private statistics for analysts: preview, release, budget (HTTP only;
the service is ``privacy.dp.StatsService``)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from api.deps import AnalystCaller, ServicesDep
from api.problems import problem_responses
from privacy.dp import StatQuery

router = APIRouter(prefix="/v1", tags=["stats"])

_ERRORS = problem_responses(400, 401, 403, 422)
_Name = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Number = int | float


class StatsRequest(BaseModel):
    """One statistic over a dataset: give ``epsilon`` (a preview may give ``error`` instead,
    to learn the ε that error needs)."""

    model_config = ConfigDict(extra="forbid")

    dataset: _Name
    statistic: Literal["count", "sum", "mean", "histogram", "quantile"]
    column: _Name | None = None
    group_by: Annotated[list[_Name], Field(max_length=8)] = []
    quantile: float | None = Field(default=None, description="With quantile: 0 to 1")
    epsilon: float | None = Field(default=None, description="The ε to spend (> 0)")
    error: float | None = Field(
        default=None, description="Preview only: the error wanted, instead of epsilon"
    )
    confidence: float = Field(default=0.95, description="Of the error, in (0, 1)")

    def query(self) -> StatQuery:
        return StatQuery(
            self.dataset,
            self.statistic,
            self.column,
            tuple(self.group_by),
            self.quantile,
            self.epsilon,
            self.error,
            self.confidence,
        )


# The service's Preview and Release dataclasses are read attribute by attribute.
_FROM_SERVICE = ConfigDict(from_attributes=True)


class PreviewResponse(BaseModel):
    model_config = _FROM_SERVICE

    epsilon: float
    confidence: float
    error: float | None = Field(
        description="With probability ≥ confidence, |released - true| ≤ error (per group); "
        "null for mean (its error depends on the released count: each release states it) "
        "and quantile (its error in value units depends on the private data)"
    )
    epsilon_remaining: float
    warning: str | None = None


class ReleaseResponse(BaseModel):
    model_config = _FROM_SERVICE

    value: Number | dict[str, Number | None] | None = Field(
        description="The released number, or one per group (a mean is null where its noisy "
        "count is not positive)"
    )
    error: float | dict[str, float | None] | None = Field(
        description="With probability ≥ confidence, |released - true| ≤ error (per group): "
        "one number for every group, or for a grouped mean one per group; null where none "
        "is stated (quantile; a mean whose noisy count is too small)"
    )
    confidence: float
    epsilon_spent: float
    epsilon_remaining: float
    mechanism: str
    ledger_index: int
    warning: str | None = None


class BudgetResponse(BaseModel):
    epsilon_total: float
    epsilon_spent: float
    epsilon_remaining: float
    delta_total: float | None = None
    delta_spent: float | None = None
    delta_remaining: float | None = None


@router.post("/stats:preview", response_model=PreviewResponse, responses=_ERRORS)
def preview(body: StatsRequest, analyst: AnalystCaller, services: ServicesDep) -> PreviewResponse:
    """The error a release at `epsilon` would have (or, given `error`, the ε it needs).
    Spends nothing and writes nothing."""
    return PreviewResponse.model_validate(services.stats.preview(analyst, body.query()))


@router.post("/stats", response_model=ReleaseResponse, responses=_ERRORS)
def release(body: StatsRequest, analyst: AnalystCaller, services: ServicesDep) -> ReleaseResponse:
    """Release the statistic: the budget is spent and the `dp_release` ledger entry written
    in one transaction before the answer is sent. Over budget: 403 `budget_exceeded`."""
    return ReleaseResponse.model_validate(services.stats.release(analyst, body.query()))


@router.get(
    "/stats/budget",
    response_model=BudgetResponse,
    response_model_exclude_none=True,
    responses=_ERRORS,
)
def budget(analyst: AnalystCaller, services: ServicesDep) -> BudgetResponse:
    """The analyst's ε (and δ, where granted): total, spent, remaining."""
    b = services.stats.budget(analyst)
    with_delta = b.delta_total > 0
    return BudgetResponse(
        epsilon_total=float(b.epsilon_total),
        epsilon_spent=float(b.epsilon_spent),
        epsilon_remaining=float(b.epsilon_remaining),
        delta_total=float(b.delta_total) if with_delta else None,
        delta_spent=float(b.delta_spent) if with_delta else None,
        delta_remaining=float(b.delta_remaining) if with_delta else None,
    )
