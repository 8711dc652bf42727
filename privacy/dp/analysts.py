"""Analyst accounts: a key for one department and one dataset, with its ε (and δ) grant."""

from __future__ import annotations

import math
from datetime import datetime

from consent_ledger.accounts import AccountStore, IssuedKey
from consent_ledger.budgets import decimal_text
from policies.datasets import Datasets
from privacy.dp.errors import ColumnNotPermitted, InvalidStatistic, UnknownDataset

__all__ = ["create_analyst"]


def create_analyst(
    accounts: AccountStore,
    datasets: Datasets,
    name: str,
    department: str,
    dataset: str,
    epsilon: float,
    delta: float,
    now: datetime,
) -> IssuedKey:
    """Check the grant against the datasets file, then create the account, its budget and
    its ``analyst_created`` entry in one transaction."""
    found = datasets.datasets.get(dataset)
    if found is None:
        known = ", ".join(sorted(datasets.datasets))
        raise UnknownDataset(f"dataset {dataset!r} is not one of: {known}", field="dataset")
    if department not in found.departments:
        allowed = ", ".join(sorted(found.departments))
        raise ColumnNotPermitted(
            f"department {department!r} may not query {dataset}; it is for {allowed}",
            field="department",
        )
    if not math.isfinite(epsilon) or epsilon <= 0:
        raise InvalidStatistic("epsilon must be a finite number above 0", field="epsilon")
    if not math.isfinite(delta) or not 0 <= delta < 1:
        raise InvalidStatistic("delta must be at least 0 and below 1", field="delta")
    return accounts.create_analyst(
        name, department, dataset, decimal_text(epsilon), decimal_text(delta), now
    )
