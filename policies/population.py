"""A seeded generator of realistic client records, one department's book at a time.

Pure: every draw comes from the ``random.Random`` handed in, so a seed gives the same
records. The demo seed (``policies.seed``) stores what it draws in the vault like every
other personal value; the federated benchmark draws tens of thousands directly.

**Books.** Each client's record sits in exactly one department's book (``BOOKS``): the
union of the books has no duplicates. The books are deliberately *not* identically
distributed, as real ones are not:

- ``advisory`` skews to high-net-worth families (large assets, married, dependents, long
  horizons);
- ``research`` to active traders (young, experienced, short horizons, buy the dip);
- ``risk`` to clients under review (stretched liabilities, high liquidity needs, sold in
  the last drawdown) and retirees.

Each book is a mixture of the same five segments (``SEGMENTS``) with its own weights
(``BOOK_MIX``), so the feature distributions and the C1 to C5 label mix differ per book.

**The recorded risk level.** ``suitability_level`` is the rule the firm's suitability
assessment applies, with noise for the assessor's judgement:

    score = 1.10 * (questionnaire mean - 3)         # stated tolerance, the main driver
          + 0.45 * (40 - age) / 15                   # capacity shrinks with age
          + 0.35 * ln(1 + horizon years) - 0.60
          - 0.50 * [liquidity medium] - 1.00 * [liquidity high]
          + 0.30 * [experience basic] + 0.70 * [experience experienced]
          - 0.60 * [sold in a drawdown] + 0.40 * [bought more]
          - 0.15 * dependents
          + 0.25 * (log10 assets - 5.5) + 0.15 * (log10 income - 5.3)
          - 0.50 * min(liabilities / income, 3)
          + N(0, 0.6)                               # the assessor's judgement

cut at -3.0, -1.2, 0.6, 2.0 into C1..C5 (about the firm-wide 15th, 40th, 70th and 90th
percentiles of the score). Two regulatory caps follow the score: a client
with high liquidity needs or aged 75 or more is never above C3.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

__all__ = [
    "BOOKS",
    "BOOK_MIX",
    "RISK_LEVELS",
    "SEGMENTS",
    "Segment",
    "age_on",
    "client_record",
    "draw_book",
    "suitability_level",
]

BOOKS = ("advisory", "research", "risk")
RISK_LEVELS = ("C1", "C2", "C3", "C4", "C5")
# Shares of the firm's clients per book: advisory is the largest desk.
_BOOK_SHARE = (0.45, 0.25, 0.30)

_SURNAMES = ["Wang", "Li", "Zhang", "Liu", "Chen", "Müller", "Smith", "García", "Okafor", "Sato"]
_GIVEN = ["Wei", "Fang", "Jun", "Mei", "Anna", "James", "Lucía", "Chidi", "Yuki", "Lars"]


@dataclass(frozen=True)
class Segment:
    """One kind of client: the ranges its values are drawn from."""

    name: str
    age: tuple[float, float]  # mean, standard deviation (years), clipped to 18..95
    log10_assets: tuple[float, float]
    log10_income: tuple[float, float]
    debt_ratio: tuple[float, float]  # liabilities / income: mean, sd, clipped at 0
    tolerance: tuple[float, float]  # latent risk tolerance behind the questionnaire
    experience: tuple[float, float, float]  # weights of none, basic, experienced
    horizon: tuple[float, ...]  # weights of 1, 3, 5, 10, 20 years
    liquidity: tuple[float, float, float]  # weights of low, medium, high
    married: float  # probability
    dependents: float  # mean of a Poisson draw, clipped at 6


_HORIZONS = (1, 3, 5, 10, 20)

SEGMENTS: dict[str, Segment] = {
    s.name: s
    for s in (
        Segment(
            "hnw_family",
            (50, 9),
            (6.6, 0.45),
            (5.9, 0.35),
            (0.6, 0.5),
            (0.3, 0.8),
            (0.1, 0.45, 0.45),
            (0.05, 0.1, 0.2, 0.35, 0.3),
            (0.6, 0.3, 0.1),
            0.8,
            2.0,
        ),
        Segment(
            "active_trader",
            (34, 8),
            (5.6, 0.5),
            (5.4, 0.3),
            (0.4, 0.4),
            (1.1, 0.7),
            (0.05, 0.3, 0.65),
            (0.3, 0.35, 0.2, 0.1, 0.05),
            (0.5, 0.35, 0.15),
            0.35,
            0.4,
        ),
        Segment(
            "under_review",
            (52, 12),
            (5.0, 0.55),
            (5.0, 0.3),
            (2.2, 0.9),
            (-0.5, 0.9),
            (0.45, 0.4, 0.15),
            (0.35, 0.3, 0.2, 0.1, 0.05),
            (0.15, 0.35, 0.5),
            0.5,
            1.5,
        ),
        Segment(
            "retiree",
            (71, 7),
            (5.7, 0.5),
            (4.9, 0.25),
            (0.2, 0.3),
            (-0.8, 0.7),
            (0.3, 0.5, 0.2),
            (0.4, 0.35, 0.15, 0.08, 0.02),
            (0.3, 0.4, 0.3),
            0.6,
            0.2,
        ),
        Segment(
            "mass_retail",
            (42, 12),
            (5.0, 0.5),
            (5.2, 0.3),
            (0.8, 0.6),
            (0.0, 0.9),
            (0.4, 0.45, 0.15),
            (0.15, 0.25, 0.3, 0.2, 0.1),
            (0.35, 0.4, 0.25),
            0.5,
            1.0,
        ),
    )
}

# Weights of each segment in each book (same order as SEGMENTS).
BOOK_MIX: dict[str, tuple[float, ...]] = {
    "advisory": (0.60, 0.05, 0.02, 0.10, 0.23),
    "research": (0.10, 0.60, 0.03, 0.05, 0.22),
    "risk": (0.03, 0.05, 0.52, 0.22, 0.18),
}


def draw_book(rng: random.Random) -> str:
    """The department whose book a new client joins."""
    return rng.choices(BOOKS, weights=_BOOK_SHARE)[0]


def age_on(date_of_birth: str, as_of: date) -> float:
    """Age in years (fractional) on ``as_of`` of an ISO date of birth."""
    born = date.fromisoformat(date_of_birth)
    return (as_of - born).days / 365.25


def _clip(x: float, low: float, high: float) -> float:
    return min(max(x, low), high)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: the means here are small.
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def suitability_score(values: dict[str, Any], as_of: date) -> float:
    """The module docstring's score before the assessor's noise, for a full record."""
    answers = values["user.financial.risk_questionnaire"]
    age = age_on(values["user.demographic.date_of_birth"], as_of)
    income = max(values["user.financial.household_income"], 10_000)
    liquidity = values["user.financial.liquidity_needs"]
    experience = values["user.financial.investment_experience"]
    drawdown = values["user.financial.drawdown_behaviour"]
    score: float = (
        1.10 * (sum(answers) / len(answers) - 3)
        + 0.45 * (40 - age) / 15
        + 0.35 * math.log1p(values["user.financial.investment_horizon"])
        - 0.60
        - {"low": 0.0, "medium": 0.5, "high": 1.0}[liquidity]
        + {"none": 0.0, "basic": 0.3, "experienced": 0.7}[experience]
        + {"sold": -0.6, "held": 0.0, "bought_more": 0.4}[drawdown]
        - 0.15 * values["user.demographic.dependents"]
        + 0.25 * (math.log10(max(values["user.financial.assets_under_management"], 1000)) - 5.5)
        + 0.15 * (math.log10(income) - 5.3)
        - 0.50 * min(values["user.financial.liabilities"] / income, 3.0)
    )
    return score


def suitability_level(values: dict[str, Any], as_of: date, noise: float) -> str:
    """The recorded risk level for a full record (every category of the module docstring's
    rule present); ``noise`` is the assessor's N(0, 0.6) draw."""
    score = suitability_score(values, as_of) + noise
    age = age_on(values["user.demographic.date_of_birth"], as_of)
    level = sum(score > cut for cut in (-3.0, -1.2, 0.6, 2.0))
    if values["user.financial.liquidity_needs"] == "high" or age >= 75:
        level = min(level, 2)
    return RISK_LEVELS[level]


def client_record(rng: random.Random, book: str, as_of: date) -> dict[str, Any]:
    """One client of ``book``: a value for every seeded catalogue category (levels 1 to 4),
    the risk level included, as the vault stores them."""
    seg = SEGMENTS[rng.choices(list(SEGMENTS), weights=BOOK_MIX[book])[0]]
    given, surname = rng.choice(_GIVEN), rng.choice(_SURNAMES)
    age = _clip(rng.gauss(*seg.age), 18, 95)
    born = as_of - timedelta(days=int(age * 365.25))
    tolerance = rng.gauss(*seg.tolerance)
    experience = rng.choices(("none", "basic", "experienced"), weights=seg.experience)[0]
    answers = [int(_clip(round(3 + 1.1 * tolerance + rng.gauss(0, 0.8)), 1, 5)) for _ in range(10)]
    # How the client acted when markets last fell follows tolerance and experience.
    nerve = tolerance + (0.5 if experience == "experienced" else 0.0) + rng.gauss(0, 0.8)
    drawdown = "sold" if nerve < -0.5 else ("bought_more" if nerve > 1.0 else "held")
    income = round(10 ** rng.gauss(*seg.log10_income), -3)
    married = rng.random() < seg.married
    values: dict[str, Any] = {
        "user.name": f"{given} {surname}",
        "user.contact.email": f"{given.lower()}.{surname.lower()}{rng.randint(1, 99)}@example.com",
        "user.contact.phone_number": f"+86 1{rng.randint(30, 99)} {rng.randint(1000, 9999)} "
        f"{rng.randint(1000, 9999)}",
        "user.government_id": f"{rng.randint(110000, 659999)}{born:%Y%m%d}"
        f"{rng.randint(1000, 9999)}",
        "user.demographic.date_of_birth": born.isoformat(),
        "user.financial.assets_under_management": int(
            round(10 ** rng.gauss(*seg.log10_assets), -3)
        ),
        "user.financial.investment_experience": experience,
        "user.financial.risk_questionnaire": answers,
        "user.financial.investment_horizon": rng.choices(_HORIZONS, weights=seg.horizon)[0],
        "user.financial.liquidity_needs": rng.choices(
            ("low", "medium", "high"), weights=seg.liquidity
        )[0],
        "user.financial.drawdown_behaviour": drawdown,
        "user.demographic.marital_status": (
            "married" if married else rng.choice(("single", "single", "divorced"))
        ),
        "user.demographic.dependents": min(_poisson(rng, seg.dependents), 6),
        "user.financial.household_income": int(income),
        "user.financial.liabilities": int(round(income * max(rng.gauss(*seg.debt_ratio), 0.0), -3)),
    }
    values["user.financial.risk_level"] = suitability_level(values, as_of, rng.gauss(0, 0.6))
    return values
