"""The releasable datasets (``policies/datasets.yaml``): load, validate, and say where it is wrong.

A dataset is a table of one row per client, each column read from one catalogue category
(directly, or through a named derivation below), with its public bounds (integer columns)
or public category set (categorical columns), and the departments that may query it. These
are public facts, chosen by the operator: nothing here ever looks at the private data.

Derivations (pure functions of one client's stored value, applied in ``privacy/dp``):

- ``questionnaire_sum``: the sum of the ten ``user.financial.risk_questionnaire`` answers
  (each 1..5), so 10..50; a list that is not ten integers 1..5 gives no value.
- ``age_band``: the age in whole years on the release date (UTC) from
  ``user.demographic.date_of_birth`` (ISO date), placed in the band whose label is
  ``"A-B"`` (A ≤ age ≤ B) or ``"A+"`` (A ≤ age); an age in no band gives no value.

Problems are reported like the policy loader's: ``FILE:LINE:COL: path: what``, all at once,
in file order.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
    StringConstraints,
)

from consent_ledger.catalogue import Catalogue
from policies._checks import Loc
from policies.errors import PolicyInvalid
from policies.loader import read_file, validate_yaml

__all__ = [
    "DEFAULT_DATASETS_PATH",
    "Column",
    "Dataset",
    "Datasets",
    "Derivation",
    "age_bands",
    "load_datasets",
    "parse_datasets",
]

DEFAULT_DATASETS_PATH = Path(__file__).resolve().parent / "datasets.yaml"

Derivation = Literal["questionnaire_sum", "age_band"]
_Name = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*$")]
_Key = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
]
_Label = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
_Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
_BAND = re.compile(r"^(\d{1,3})(?:-(\d{1,3})|\+)$")
# The derivation, the category it reads and the column type it yields.
_DERIVATIONS: dict[str, tuple[str, str]] = {
    "questionnaire_sum": ("user.financial.risk_questionnaire", "integer"),
    "age_band": ("user.demographic.date_of_birth", "categorical"),
}
# Integer sums of up to ten million clients must stay exactly representable (ledger integers
# are limited to 2**53 - 1).
_MAX_ABS_BOUND = 10**8


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _ColumnDoc(_Strict):
    category: _Key
    type: Literal["integer", "categorical"]
    derivation: Derivation | None = None
    bounds: tuple[StrictInt, StrictInt] | None = None
    categories: Annotated[tuple[_Label, ...], Field(min_length=1, max_length=1000)] | None = None
    why: _Text


class _DatasetDoc(_Strict):
    description: _Text
    departments: Annotated[tuple[_Name, ...], Field(min_length=1)]
    max_epsilon_per_release: Annotated[StrictFloat | StrictInt, Field(gt=0, le=100)]
    public_size: Annotated[StrictInt, Field(ge=1)] | None = None
    columns: Annotated[dict[_Name, _ColumnDoc], Field(min_length=1)]


class _Document(_Strict):
    version: StrictInt
    datasets: Annotated[dict[_Name, _DatasetDoc], Field(min_length=1)]


@dataclass(frozen=True)
class Column:
    """One column: where it comes from, its type and its public bounds or key set."""

    name: str
    category: str
    level: int
    type: Literal["integer", "categorical"]
    derivation: Derivation | None
    bounds: tuple[int, int] | None
    categories: tuple[str, ...] | None

    @property
    def numeric(self) -> bool:
        return self.type == "integer"


@dataclass(frozen=True)
class Dataset:
    name: str
    departments: frozenset[str]
    max_epsilon_per_release: float
    public_size: int | None
    columns: Mapping[str, Column]

    @property
    def categories(self) -> tuple[str, ...]:
        """Every catalogue category some column reads, sorted."""
        return tuple(sorted({c.category for c in self.columns.values()}))


@dataclass(frozen=True)
class Datasets:
    source: str
    datasets: Mapping[str, Dataset]


def age_bands(labels: tuple[str, ...]) -> tuple[tuple[str, int, int | None], ...]:
    """``(label, lowest age, highest age or None)`` for each ``"A-B"`` / ``"A+"`` label."""
    out = []
    for label in labels:
        m = _BAND.match(label)
        if m is None:
            raise ValueError(f"age band {label!r} is not 'A-B' or 'A+'")
        low = int(m.group(1))
        high = None if m.group(2) is None else int(m.group(2))
        out.append((label, low, high))
    return tuple(out)


def load_datasets(path: Path, catalogue: Catalogue, departments: Collection[str]) -> Datasets:
    """Load and check ``path`` against the catalogue and the policy's departments; raises
    ``PolicyInvalid`` listing every problem with its line."""
    return parse_datasets(read_file(path, "datasets file"), str(path), catalogue, departments)


def parse_datasets(
    text: str, source: str, catalogue: Catalogue, departments: Collection[str]
) -> Datasets:
    doc, where = validate_yaml(text, source, _Document)
    problems = [where.problem(loc, msg) for loc, msg in _problems(doc, catalogue, departments)]
    if problems:
        raise PolicyInvalid(where.ordered(problems))
    return Datasets(
        source, {name: _dataset(name, d, catalogue) for name, d in doc.datasets.items()}
    )


def _problems(
    doc: _Document, catalogue: Catalogue, departments: Collection[str]
) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    for name, ds in doc.datasets.items():
        at: Loc = ("datasets", name)
        for n, dept in enumerate(ds.departments):
            if dept not in departments:
                known = ", ".join(sorted(departments))
                out.append(((*at, "departments", n), f"department {dept!r} is not one of {known}"))
        for col_name, col in ds.columns.items():
            out.extend(_column_problems((*at, "columns", col_name), col, catalogue))
    return out


def _column_problems(at: Loc, col: _ColumnDoc, catalogue: Catalogue) -> list[tuple[Loc, str]]:
    out: list[tuple[Loc, str]] = []
    if col.category not in catalogue.category_map:
        out.append(((*at, "category"), f"category {col.category!r} is not in the catalogue"))
    if col.derivation is not None:
        reads, yields = _DERIVATIONS[col.derivation]
        if col.category != reads:
            out.append(((*at, "derivation"), f"{col.derivation} reads {reads}, not {col.category}"))
        if col.type != yields:
            out.append(((*at, "type"), f"{col.derivation} yields a {yields} column"))
    if col.type == "integer":
        if col.bounds is None:
            out.append((at, "an integer column needs public bounds: [low, high]"))
        elif not col.bounds[0] < col.bounds[1]:
            out.append(((*at, "bounds"), "the lower bound must be below the upper bound"))
        elif max(abs(b) for b in col.bounds) > _MAX_ABS_BOUND:
            out.append(((*at, "bounds"), f"bounds are limited to ±{_MAX_ABS_BOUND}"))
        if col.categories is not None:
            out.append(((*at, "categories"), "an integer column has bounds, not categories"))
    else:
        if col.categories is None:
            out.append((at, "a categorical column needs its public category set: categories"))
        elif len(set(col.categories)) != len(col.categories):
            out.append(((*at, "categories"), "a category is listed twice"))
        elif col.derivation == "age_band":
            try:
                age_bands(col.categories)
            except ValueError as exc:
                out.append(((*at, "categories"), str(exc)))
        if col.bounds is not None:
            out.append(((*at, "bounds"), "a categorical column has categories, not bounds"))
    return out


def _dataset(name: str, d: _DatasetDoc, catalogue: Catalogue) -> Dataset:
    columns = {
        col_name: Column(
            col_name,
            c.category,
            catalogue.category(c.category).level,
            c.type,
            c.derivation,
            c.bounds,
            c.categories,
        )
        for col_name, c in d.columns.items()
    }
    return Dataset(
        name, frozenset(d.departments), float(d.max_epsilon_per_release), d.public_size, columns
    )
