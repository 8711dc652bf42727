"""The seeded client population: reproducible, typed as the catalogue says, non-IID books."""

from __future__ import annotations

import random
import statistics
from collections import Counter
from datetime import date

from policies.population import (
    BOOKS,
    RISK_LEVELS,
    age_on,
    client_record,
    draw_book,
    suitability_level,
)

AS_OF = date(2026, 12, 1)


def _draw(n: int, seed: int) -> list[tuple[str, dict[str, object]]]:
    rng = random.Random(seed)  # noqa: S311 - the population is reproducible by design
    out = []
    for _ in range(n):
        book = draw_book(rng)
        out.append((book, client_record(rng, book, AS_OF)))
    return out


def test_same_seed_same_records() -> None:
    assert _draw(50, 3) == _draw(50, 3)
    assert _draw(50, 3) != _draw(50, 4)


def test_values_have_the_catalogue_types() -> None:
    for _, v in _draw(300, 1):
        date.fromisoformat(str(v["user.demographic.date_of_birth"]))
        assert isinstance(v["user.financial.assets_under_management"], int)
        assert v["user.financial.investment_experience"] in ("none", "basic", "experienced")
        answers = v["user.financial.risk_questionnaire"]
        assert isinstance(answers, list) and len(answers) == 10
        assert all(isinstance(a, int) and 1 <= a <= 5 for a in answers)
        assert isinstance(v["user.financial.investment_horizon"], int)
        assert v["user.financial.liquidity_needs"] in ("low", "medium", "high")
        assert v["user.financial.drawdown_behaviour"] in ("sold", "held", "bought_more")
        assert v["user.financial.risk_level"] in RISK_LEVELS
        assert v["user.demographic.marital_status"] in ("single", "married", "divorced")
        assert isinstance(v["user.demographic.dependents"], int)
        assert isinstance(v["user.financial.household_income"], int)
        assert isinstance(v["user.financial.liabilities"], int)


def test_books_are_not_identically_distributed() -> None:
    """Advisory skews to wealthy families, research to experienced traders, risk to clients
    under review; the recorded risk levels differ accordingly. With 6,000 draws each gap is
    many standard errors wide."""
    rows = _draw(6000, 11)
    by: dict[str, list[dict[str, object]]] = {b: [] for b in BOOKS}
    for book, v in rows:
        by[book].append(v)

    def mean(book: str, key: str) -> float:
        return statistics.fmean(float(v[key]) for v in by[book])  # type: ignore[arg-type]

    def share(book: str, key: str, value: object) -> float:
        return sum(v[key] == value for v in by[book]) / len(by[book])

    assert mean("advisory", "user.financial.assets_under_management") > 2 * mean(
        "research", "user.financial.assets_under_management"
    )
    assert (
        mean("advisory", "user.demographic.dependents")
        > mean("research", "user.demographic.dependents") + 0.5
    )
    assert share("research", "user.financial.investment_experience", "experienced") > 0.4
    assert share("risk", "user.financial.investment_experience", "experienced") < 0.25
    assert share("risk", "user.financial.drawdown_behaviour", "sold") > 2 * share(
        "research", "user.financial.drawdown_behaviour", "sold"
    )
    levels = {b: Counter(str(v["user.financial.risk_level"]) for v in by[b]) for b in BOOKS}
    low = {b: (levels[b]["C1"] + levels[b]["C2"]) / len(by[b]) for b in BOOKS}
    high = {b: (levels[b]["C4"] + levels[b]["C5"]) / len(by[b]) for b in BOOKS}
    assert low["risk"] > 0.5 > low["research"]
    assert high["research"] > high["advisory"] > high["risk"]
    assert all(len(levels[b]) == 5 for b in BOOKS)


def test_the_caps_of_the_suitability_rule() -> None:
    """High liquidity needs or an age of 75 or more never yield more than C3, whatever the
    score."""
    for _, v in _draw(2000, 5):
        bold = dict(v) | {"user.financial.risk_questionnaire": [5] * 10}
        capped = bold | {"user.financial.liquidity_needs": "high"}
        assert suitability_level(capped, AS_OF, noise=10.0) == "C3"
        old = age_on(str(v["user.demographic.date_of_birth"]), AS_OF) >= 75
        if old:
            assert suitability_level(bold, AS_OF, noise=10.0) == "C3"
        elif v["user.financial.liquidity_needs"] != "high":
            assert suitability_level(bold, AS_OF, noise=10.0) == "C5"
    assert suitability_level(v, AS_OF, noise=-10.0) == "C1"
