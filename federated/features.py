"""The model's features: which catalogue categories feed it, at which consent level, and
how a client's values become one row of numbers.

Pure (numpy only). The categories come in groups, one per consent level, because a
decision is asked per group (``federated.loader``): a client whose consent does not reach a
group's level, or whose department may not train on it (the risk desk's model-training
permit covers ``user.financial`` only), simply has no values for that group. Its features
are then zero and its ``missing`` indicator one, so every department sends a vector of the
same shape and the model learns what an absent group means. The ``profile`` group (level 2)
holds the label, the recorded risk level, so a client without it is skipped: there is
nothing to learn from.

Scaling uses fixed, documented constants instead of statistics of the data, so that no
department has to share its means with the others.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "CLASSES",
    "FEATURE_NAMES",
    "GROUPS",
    "LABEL",
    "FeatureGroup",
    "encode",
    "label_index",
]

LABEL = "user.financial.risk_level"
CLASSES = ("C1", "C2", "C3", "C4", "C5")


@dataclass(frozen=True)
class FeatureGroup:
    """Categories asked for in one decision; ``required``: a client without them is skipped."""

    name: str
    level: int
    categories: tuple[str, ...]
    required: bool = False


GROUPS = (
    FeatureGroup(
        "profile",
        2,
        (
            "user.financial.assets_under_management",
            "user.financial.drawdown_behaviour",
            "user.financial.investment_experience",
            "user.financial.investment_horizon",
            "user.financial.liquidity_needs",
            "user.financial.risk_level",
            "user.financial.risk_questionnaire",
        ),
        required=True,
    ),
    FeatureGroup("age", 1, ("user.demographic.date_of_birth",)),
    FeatureGroup("family", 3, ("user.demographic.dependents", "user.demographic.marital_status")),
    FeatureGroup("household", 4, ("user.financial.household_income", "user.financial.liabilities")),
)

FEATURE_NAMES = (
    "log10_assets",
    "experience_basic",
    "experience_experienced",
    *(f"questionnaire_{n}" for n in range(1, 11)),
    "log_horizon",
    "liquidity_medium",
    "liquidity_high",
    "drawdown_held",
    "drawdown_bought_more",
    "age",
    "age_missing",
    "married",
    "divorced",
    "dependents",
    "family_missing",
    "log10_income",
    "debt_ratio",
    "household_missing",
)

Vector = npt.NDArray[np.float64]


def _profile(v: Mapping[str, Any]) -> list[float]:
    exp = v["user.financial.investment_experience"]
    liq = v["user.financial.liquidity_needs"]
    dd = v["user.financial.drawdown_behaviour"]
    answers = v["user.financial.risk_questionnaire"]
    if len(answers) != 10:
        raise ValueError("the risk questionnaire has 10 answers")
    return [
        math.log10(max(float(v["user.financial.assets_under_management"]), 1000.0)) - 5.5,
        float(exp == "basic"),
        float(exp == "experienced"),
        *((float(a) - 3.0) / 2.0 for a in answers),
        math.log1p(float(v["user.financial.investment_horizon"])) - 1.8,
        float(liq == "medium"),
        float(liq == "high"),
        float(dd == "held"),
        float(dd == "bought_more"),
    ]


def _age(v: Mapping[str, Any] | None, as_of: date) -> list[float]:
    if v is None:
        return [0.0, 1.0]
    born = date.fromisoformat(v["user.demographic.date_of_birth"])
    return [((as_of - born).days / 365.25 - 50.0) / 15.0, 0.0]


def _family(v: Mapping[str, Any] | None) -> list[float]:
    if v is None:
        return [0.0, 0.0, 0.0, 1.0]
    status = v["user.demographic.marital_status"]
    dependents = float(v["user.demographic.dependents"])
    return [float(status == "married"), float(status == "divorced"), dependents / 2.0 - 0.5, 0.0]


def _household(v: Mapping[str, Any] | None) -> list[float]:
    if v is None:
        return [0.0, 0.0, 1.0]
    income = max(float(v["user.financial.household_income"]), 10_000.0)
    ratio = min(float(v["user.financial.liabilities"]) / income, 3.0)
    return [math.log10(income) - 5.3, ratio - 1.0, 0.0]


def encode(groups: Mapping[str, Mapping[str, Any] | None], as_of: date) -> Vector:
    """One client's row: ``groups`` maps each group name to the values redeemed for it, or
    None where the group was not granted. The ``profile`` group must be present."""
    profile = groups.get("profile")
    if profile is None:
        raise ValueError("the profile group is required")
    row = [
        *_profile(profile),
        *_age(groups.get("age"), as_of),
        *_family(groups.get("family")),
        *_household(groups.get("household")),
    ]
    return np.asarray(row, dtype=np.float64)


def label_index(profile: Mapping[str, Any]) -> int:
    """The class index (0 for C1 ... 4 for C5) of the recorded risk level."""
    return CLASSES.index(profile[LABEL])
