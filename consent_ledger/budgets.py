"""Differential-privacy budgets: each analyst's grant, what their releases spent, and the same
numbers re-derived from the ledger alone.

Releases compose sequentially: every release's ε and δ are subtracted in full. Amounts are
exact decimals (the ledger stores them as decimal strings, ``Fraction`` sums them), so the
sum of the ledger's releases is the spend to the last digit and a verifier gets the same
answer on any machine.

The ``dp_budgets`` row is a cache of the ledger, changed only inside the transaction that
appends the release's entry, after the ledger lock is taken (``spend``): so two releases of
one analyst, in any threads or processes, are checked and spent one after the other.
``rederive`` is a pure function of the ``analyst_created`` and ``dp_release`` bodies, which
``custos ledger verify`` runs to prove that no release ever exceeded its grant.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from custos_errors import CustosError

if TYPE_CHECKING:
    from consent_ledger.db import Tx

__all__ = [
    "Budget",
    "BudgetExceeded",
    "BudgetOverspent",
    "Derived",
    "NoBudget",
    "all_budgets",
    "amount",
    "decimal_text",
    "exact_text",
    "insert_budget",
    "load_budget",
    "rederive",
    "spend",
]


class BudgetExceeded(CustosError):
    """A release would spend more ε (or δ) than the analyst has left; nothing was spent."""

    code = "budget_exceeded"

    def __init__(self, message: str, *, epsilon_remaining: float, field: str = "epsilon") -> None:
        super().__init__(message, field=field)
        self.epsilon_remaining = epsilon_remaining


class NoBudget(CustosError):
    """The caller is not an analyst with a budget (or the budget was never created)."""

    code = "forbidden"


class BudgetOverspent(Exception):
    """The ledger shows a release that exceeded its analyst's grant (or no grant at all)."""

    def __init__(self, index: int, message: str) -> None:
        super().__init__(f"entry {index}: {message}")
        self.index = index
        self.message = message


def decimal_text(x: float) -> str:
    """The shortest decimal that reads back as ``x``: what the ledger records."""
    if not math.isfinite(x):
        raise ValueError("amounts are finite")
    return repr(float(x))


def amount(text: str) -> Fraction:
    """An exact amount from its decimal text; ValueError for anything else."""
    if not isinstance(text, str) or not text or text.strip() != text:
        raise ValueError(f"not a decimal amount: {text!r}")
    value = Fraction(text)
    if value < 0:
        raise ValueError(f"a negative amount: {text!r}")
    return value


@dataclass(frozen=True)
class Budget:
    analyst_id: str
    dataset: str
    department: str
    epsilon_total: Fraction
    delta_total: Fraction
    epsilon_spent: Fraction
    delta_spent: Fraction
    releases: int

    @property
    def epsilon_remaining(self) -> Fraction:
        return self.epsilon_total - self.epsilon_spent

    @property
    def delta_remaining(self) -> Fraction:
        return self.delta_total - self.delta_spent


def insert_budget(
    tx: Tx,
    analyst_id: str,
    dataset: str,
    department: str,
    epsilon: str,
    delta: str,
    created_at: str,
) -> None:
    tx.execute(
        "INSERT INTO dp_budgets (analyst_id, dataset, department, epsilon_total, delta_total,"
        " epsilon_spent, delta_spent, releases, created_at) VALUES (?, ?, ?, ?, ?, '0', '0', 0, ?)",
        (analyst_id, dataset, department, epsilon, delta, created_at),
    )


def _budget(row: Any) -> Budget:
    return Budget(
        str(row[0]),
        str(row[1]),
        str(row[2]),
        Fraction(row[3]),
        Fraction(row[4]),
        Fraction(row[5]),
        Fraction(row[6]),
        int(row[7]),
    )


_SELECT = (
    "SELECT analyst_id, dataset, department, epsilon_total, delta_total, epsilon_spent,"
    " delta_spent, releases FROM dp_budgets"
)


def load_budget(tx: Tx, analyst_id: str) -> Budget:
    row = tx.one(_SELECT + " WHERE analyst_id = ?", (analyst_id,))
    if row is None:
        raise NoBudget("this account has no privacy budget")
    return _budget(row)


def all_budgets(tx: Tx) -> list[Budget]:
    return [_budget(r) for r in tx.all(_SELECT + " ORDER BY created_at, analyst_id")]


def spend(tx: Tx, analyst_id: str, epsilon: Fraction, delta: Fraction) -> Budget:
    """Check and spend in the caller's transaction, which must hold the ledger lock (a
    writer job does): the budget after the spend, or BudgetExceeded with nothing spent."""
    budget = load_budget(tx, analyst_id)
    if epsilon > budget.epsilon_remaining:
        left = float(budget.epsilon_remaining)
        raise BudgetExceeded(
            f"the release needs ε = {float(epsilon)} but only ε = {left} remains",
            epsilon_remaining=left,
        )
    if delta > budget.delta_remaining:
        raise BudgetExceeded(
            f"the release needs δ = {float(delta)} but only δ = {float(budget.delta_remaining)}"
            " remains",
            epsilon_remaining=float(budget.epsilon_remaining),
            field="delta",
        )
    spent_e, spent_d = budget.epsilon_spent + epsilon, budget.delta_spent + delta
    tx.execute(
        "UPDATE dp_budgets SET epsilon_spent = ?, delta_spent = ?, releases = releases + 1"
        " WHERE analyst_id = ?",
        (exact_text(spent_e), exact_text(spent_d), analyst_id),
    )
    return Budget(
        budget.analyst_id,
        budget.dataset,
        budget.department,
        budget.epsilon_total,
        budget.delta_total,
        spent_e,
        spent_d,
        budget.releases + 1,
    )


def exact_text(x: Fraction) -> str:
    """The exact decimal text of a sum of decimal amounts (its denominator divides a power
    of ten, so the expansion ends): ``Fraction(exact_text(x)) == x``."""
    digits = 0
    while (x * 10**digits).denominator != 1:
        digits += 1
        if digits > 400:
            raise ValueError("not a sum of decimal amounts")
    scaled = x.numerator * 10**digits // x.denominator
    sign, scaled = ("-", -scaled) if scaled < 0 else ("", scaled)
    whole, frac = divmod(scaled, 10**digits)
    return f"{sign}{whole}" + (f".{frac:0{digits}d}" if digits else "")


@dataclass(frozen=True)
class Derived:
    """An analyst's budget as the ledger alone says it is."""

    epsilon_total: Fraction
    delta_total: Fraction
    epsilon_spent: Fraction = Fraction(0)
    delta_spent: Fraction = Fraction(0)
    releases: int = 0


def rederive(entries: Iterable[tuple[int, str, Mapping[str, Any]]]) -> dict[str, Derived]:
    """Every analyst's grant and spend from ``(index, type, body)`` of the ledger's entries
    in order (other types are skipped); BudgetOverspent names the first release that spent
    beyond its grant, had no grant, or recorded a remaining ε that is not the grant minus
    the releases so far."""
    state: dict[str, Derived] = {}
    for index, kind, body in entries:
        try:
            if kind == "analyst_created":
                analyst = str(body["analyst_id"])
                if analyst in state:
                    raise BudgetOverspent(index, f"analyst {analyst} is granted a budget twice")
                state[analyst] = Derived(amount(body["epsilon"]), amount(body["delta"]))
            elif kind == "dp_release":
                state_after = _released(index, state, body)
                state[str(body["analyst_id"])] = state_after
        except (KeyError, ValueError, TypeError, ZeroDivisionError) as exc:
            raise BudgetOverspent(index, f"not a well-formed {kind} body ({exc})") from exc
    return state


def _released(index: int, state: Mapping[str, Derived], body: Mapping[str, Any]) -> Derived:
    analyst = str(body["analyst_id"])
    before = state.get(analyst)
    if before is None:
        raise BudgetOverspent(index, f"a release by analyst {analyst}, who has no budget")
    eps, delta = amount(body["epsilon"]), amount(body["delta"])
    if eps <= 0:
        raise BudgetOverspent(index, "a release that spent no ε")
    after = Derived(
        before.epsilon_total,
        before.delta_total,
        before.epsilon_spent + eps,
        before.delta_spent + delta,
        before.releases + 1,
    )
    if after.epsilon_spent > after.epsilon_total:
        raise BudgetOverspent(
            index,
            f"analyst {analyst} spent ε = {float(after.epsilon_spent)} of a grant of "
            f"ε = {float(after.epsilon_total)}",
        )
    if after.delta_spent > after.delta_total:
        raise BudgetOverspent(
            index,
            f"analyst {analyst} spent δ = {float(after.delta_spent)} of a grant of "
            f"δ = {float(after.delta_total)}",
        )
    recorded = amount(body["epsilon_remaining"])
    if recorded != after.epsilon_total - after.epsilon_spent:
        raise BudgetOverspent(
            index,
            f"the release records ε remaining = {body['epsilon_remaining']}, but the grant "
            f"minus the releases is {float(after.epsilon_total - after.epsilon_spent)}",
        )
    return after
