"""The facts a proof can state about a committed integer v.

Every predicate is a frozen dataclass with ``holds(v)`` (the plain meaning, used by the
prover before it proves anything), ``to_json()`` and, through ``predicate_from_json``, a
strict inverse. Range predicates reduce to one or two statements "d ∈ [0, 2^bits)" over a
commitment derived from C by the homomorphism (``ranges()``): v ≥ t is d = v - t, v ≤ t is
d = t - v. ``AgeAtLeast`` is ``AtMost`` over a date of birth committed as days since
1970-01-01.
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, TypeAlias

from privacy.zk.errors import InvalidStatement

__all__ = [
    "MAX_ONE_OF",
    "MAX_PARAMETER",
    "AgeAtLeast",
    "AtLeast",
    "AtMost",
    "Between",
    "Equals",
    "OneOf",
    "Opening",
    "Predicate",
    "Range",
    "cutoff_date",
    "days_since_epoch",
    "or_values",
    "predicate_from_json",
]

# Public parameters are bounded so a hostile statement cannot smuggle huge integers into
# the arithmetic; every attribute Custos commits to (amounts, scores, days) fits easily.
MAX_PARAMETER = 2**62
MAX_ONE_OF = 32
EPOCH = dt.date(1970, 1, 1)

# A range statement: (sign, offset) means d = sign·(v - offset) ∈ [0, 2^bits).
Range: TypeAlias = tuple[int, int]


def days_since_epoch(day: dt.date) -> int:
    return (day - EPOCH).days


def cutoff_date(years: int, on: dt.date) -> dt.date:
    """The latest birth date of someone who is at least ``years`` old on ``on`` (a
    29 February birthday counts as reached on 28 February of a common year)."""
    year = on.year - years
    return dt.date(year, on.month, min(on.day, calendar.monthrange(year, on.month)[1]))


@dataclass(frozen=True, slots=True)
class Opening:
    """Knowledge of an opening of C: the value stays entirely hidden."""

    kind: ClassVar[str] = "opening"

    def holds(self, value: int) -> bool:
        return True

    def ranges(self) -> tuple[Range, ...]:
        return ()

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind}


@dataclass(frozen=True, slots=True)
class Equals:
    value: int
    kind: ClassVar[str] = "equals"

    def holds(self, value: int) -> bool:
        return value == self.value

    def ranges(self) -> tuple[Range, ...]:
        return ()

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "value": self.value}


@dataclass(frozen=True, slots=True)
class OneOf:
    values: tuple[int, ...]
    kind: ClassVar[str] = "one_of"

    def holds(self, value: int) -> bool:
        return value in self.values

    def ranges(self) -> tuple[Range, ...]:
        return ()

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "values": list(self.values)}


@dataclass(frozen=True, slots=True)
class AtLeast:
    threshold: int
    kind: ClassVar[str] = "at_least"

    def holds(self, value: int) -> bool:
        return value >= self.threshold

    def ranges(self) -> tuple[Range, ...]:
        return ((1, self.threshold),)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "threshold": self.threshold}


@dataclass(frozen=True, slots=True)
class AtMost:
    threshold: int
    kind: ClassVar[str] = "at_most"

    def holds(self, value: int) -> bool:
        return value <= self.threshold

    def ranges(self) -> tuple[Range, ...]:
        return ((-1, self.threshold),)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "threshold": self.threshold}


@dataclass(frozen=True, slots=True)
class Between:
    """low ≤ v ≤ high."""

    low: int
    high: int
    kind: ClassVar[str] = "between"

    def holds(self, value: int) -> bool:
        return self.low <= value <= self.high

    def ranges(self) -> tuple[Range, ...]:
        return ((1, self.low), (-1, self.high))

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "low": self.low, "high": self.high}


@dataclass(frozen=True, slots=True)
class AgeAtLeast:
    """At least ``years`` old on ``on``, over a committed date of birth (days since
    1970-01-01): the same proof as AtMost(days of the cutoff date)."""

    years: int
    on: dt.date
    kind: ClassVar[str] = "age_at_least"

    @property
    def cutoff_days(self) -> int:
        return days_since_epoch(cutoff_date(self.years, self.on))

    def holds(self, value: int) -> bool:
        return value <= self.cutoff_days

    def ranges(self) -> tuple[Range, ...]:
        return ((-1, self.cutoff_days),)

    def to_json(self) -> dict[str, Any]:
        return {"type": self.kind, "years": self.years, "on": self.on.isoformat()}


Predicate: TypeAlias = Opening | Equals | OneOf | AtLeast | AtMost | Between | AgeAtLeast


def or_values(p: Predicate) -> tuple[int, ...]:
    """The public values of an equality (one) or one-of claim: its OR proof's branches."""
    if isinstance(p, Equals):
        return (p.value,)
    if isinstance(p, OneOf):
        return p.values
    return ()


_MEMBERS: dict[str, frozenset[str]] = {
    "opening": frozenset({"type"}),
    "equals": frozenset({"type", "value"}),
    "one_of": frozenset({"type", "values"}),
    "at_least": frozenset({"type", "threshold"}),
    "at_most": frozenset({"type", "threshold"}),
    "between": frozenset({"type", "low", "high"}),
    "age_at_least": frozenset({"type", "years", "on"}),
}


def _int(obj: Mapping[str, Any], key: str, field: str) -> int:
    value = obj[key]
    # bool is an int subclass; a predicate parameter is never a truth value.
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidStatement(f"{field}.{key} must be an integer", field=f"{field}.{key}")
    if not -MAX_PARAMETER <= value <= MAX_PARAMETER:
        raise InvalidStatement(f"{field}.{key} is out of range", field=f"{field}.{key}")
    return value


def predicate_from_json(obj: Any, *, field: str = "predicate") -> Predicate:
    """The predicate a JSON object describes; raises InvalidStatement naming the member."""
    if not isinstance(obj, Mapping):
        raise InvalidStatement(f"{field} must be an object", field=field)
    kind = obj.get("type")
    if not isinstance(kind, str) or kind not in _MEMBERS:
        raise InvalidStatement(
            f"{field}.type must be one of {sorted(_MEMBERS)}", field=f"{field}.type"
        )
    if set(obj) != _MEMBERS[kind]:
        raise InvalidStatement(
            f"{field} of type {kind!r} has exactly the members {sorted(_MEMBERS[kind])}",
            field=field,
        )
    if kind == "opening":
        return Opening()
    if kind == "equals":
        return Equals(_int(obj, "value", field))
    if kind == "one_of":
        values = obj["values"]
        if not isinstance(values, list) or not 1 <= len(values) <= MAX_ONE_OF:
            raise InvalidStatement(
                f"{field}.values must be a list of 1 to {MAX_ONE_OF} integers",
                field=f"{field}.values",
            )
        parsed = tuple(_int({"values": v}, "values", field) for v in values)
        if len(set(parsed)) != len(parsed):
            raise InvalidStatement(f"{field}.values has duplicates", field=f"{field}.values")
        return OneOf(parsed)
    if kind in ("at_least", "at_most"):
        cls = AtLeast if kind == "at_least" else AtMost
        return cls(_int(obj, "threshold", field))
    if kind == "between":
        low, high = _int(obj, "low", field), _int(obj, "high", field)
        if low > high:
            raise InvalidStatement(f"{field}: low must not exceed high", field=f"{field}.low")
        return Between(low, high)
    years = _int(obj, "years", field)
    if not 0 <= years <= 200:
        raise InvalidStatement(f"{field}.years must be 0..200", field=f"{field}.years")
    on = obj["on"]
    try:
        if not isinstance(on, str) or len(on) != 10:
            raise ValueError(on)
        day = dt.date.fromisoformat(on)
    except ValueError:
        raise InvalidStatement(
            f"{field}.on must be an ISO date (YYYY-MM-DD)", field=f"{field}.on"
        ) from None
    if day.year - years < 1:
        raise InvalidStatement(f"{field}: the cutoff date is before year 1", field=field)
    return AgeAtLeast(years, day)
