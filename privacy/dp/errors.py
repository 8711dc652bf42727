"""The DP layer's refusals, each with a stable code (api/problems.py maps them to HTTP).

Every refusal is raised before anything is spent or written; over-budget is
``consent_ledger.budgets.BudgetExceeded``, raised in the release's own transaction.
"""

from __future__ import annotations

from custos_errors import CustosError

__all__ = ["ColumnNotPermitted", "InvalidStatistic", "UnknownColumn", "UnknownDataset"]


class UnknownDataset(CustosError):
    """No dataset of that name is declared in policies/datasets.yaml."""

    code = "unknown_dataset"


class UnknownColumn(CustosError):
    """The dataset declares no column of that name."""

    code = "unknown_column"


class ColumnNotPermitted(CustosError):
    """The analyst's department (or grant) may not query this dataset or column."""

    code = "column_not_permitted"


class InvalidStatistic(CustosError):
    """The statistic does not fit its column, grouping, parameters or ε."""

    code = "invalid_statistic"
