"""policies/datasets.yaml: the shipped file loads, and every mistake is reported at its
line, all at once."""

from __future__ import annotations

import pytest

from consent_ledger.catalogue import load_catalogue
from policies.datasets import DEFAULT_DATASETS_PATH, load_datasets, parse_datasets
from policies.errors import PolicyInvalid

CATALOGUE = load_catalogue()
TEXT = DEFAULT_DATASETS_PATH.read_text(encoding="utf-8")


def test_the_shipped_datasets_load_with_the_issue_columns() -> None:
    clients = load_datasets(DEFAULT_DATASETS_PATH, CATALOGUE, {"research"}).datasets["clients"]
    assert {
        "assets_under_management",
        "risk_score",
        "investment_experience",
        "age_band",
        "marital_status",
        "dependents",
        "household_income",
        "liabilities",
    } <= set(clients.columns)
    assert clients.departments == {"research"}
    assert clients.columns["household_income"].level == 4
    assert clients.columns["risk_score"].bounds == (10, 50)


def _problems(text: str, departments: set[str] | None = None) -> tuple[str, ...]:
    with pytest.raises(PolicyInvalid) as exc:
        parse_datasets(text, "d.yaml", CATALOGUE, departments or {"research"})
    return exc.value.problems


def _line(needle: str) -> int:
    return next(n for n, line in enumerate(TEXT.splitlines(), 1) if needle in line)


def test_semantic_mistakes_are_named_at_their_lines() -> None:
    broken = (
        TEXT.replace("bounds: [10, 50]", "bounds: [50, 10]")
        .replace("departments: [research]", "departments: [research, management]")
        .replace("category: user.demographic.dependents", "category: user.demographic.kids")
        .replace('categories: ["18-29"', 'categories: ["18 to 29"')
    )
    problems = _problems(broken)
    bands = _line('categories: ["18-29"')
    assert problems == (
        f"d.yaml:{_line('departments: [research]')}:29: datasets.clients.departments[1]: "
        "department 'management' is not one of research",
        f"d.yaml:{_line('bounds: [10, 50]')}:17: datasets.clients.columns.risk_score.bounds: "
        "the lower bound must be below the upper bound",
        f"d.yaml:{bands}:21: "
        "datasets.clients.columns.age_band.categories: age band '18 to 29' is not 'A-B' or 'A+'",
        f"d.yaml:{_line('user.demographic.dependents')}:19: "
        "datasets.clients.columns.dependents.category: "
        "category 'user.demographic.kids' is not in the catalogue",
    )


def test_shape_mistakes_and_duplicates_are_named_at_their_lines() -> None:
    line = _line("bounds: [0, 10]")
    problems = _problems(TEXT.replace("bounds: [0, 10]", "bounds: [0, 10]\n        colour: red"))
    assert problems == (
        f"d.yaml:{line + 1}:9: datasets.clients.columns.dependents: unknown key 'colour'",
    )
    dupe = TEXT.replace("bounds: [0, 10]", "bounds: [0, 10]\n        bounds: [0, 9]")
    assert _problems(dupe) == (
        f"d.yaml:{line + 1}:9: duplicate key 'bounds' (first given at line {line})",
    )
    no_bounds = TEXT.replace("        bounds: [0, 10]\n", "")
    (problem,) = _problems(no_bounds)
    assert "datasets.clients.columns.dependents: an integer column needs public bounds" in problem
