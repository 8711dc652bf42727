"""Predicates: meaning, reduction to ranges, and the strict JSON round trip."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.zk.errors import InvalidStatement
from privacy.zk.predicates import (
    AgeAtLeast,
    AtLeast,
    AtMost,
    Between,
    Equals,
    OneOf,
    Opening,
    Predicate,
    cutoff_date,
    days_since_epoch,
    predicate_from_json,
)

params = st.integers(min_value=-(2**40), max_value=2**40)
predicates: st.SearchStrategy[Predicate] = st.one_of(
    st.just(Opening()),
    st.builds(Equals, params),
    st.lists(params, min_size=1, max_size=8, unique=True).map(lambda v: OneOf(tuple(v))),
    st.builds(AtLeast, params),
    st.builds(AtMost, params),
    st.tuples(params, params).map(lambda t: Between(min(t), max(t))),
    st.builds(
        AgeAtLeast,
        st.integers(min_value=0, max_value=120),
        st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2200, 12, 31)),
    ),
)


@settings(deadline=None)
@given(predicates)
def test_json_round_trip(p: Predicate) -> None:
    assert predicate_from_json(p.to_json()) == p


def _sign_offsets_hold(p: Predicate, v: int) -> bool:
    return all(sign * (v - offset) >= 0 for sign, offset in p.ranges())


@settings(deadline=None)
@given(p=predicates, v=params)
def test_ranges_mean_the_same_as_holds(p: Predicate, v: int) -> None:
    if p.ranges():
        assert _sign_offsets_hold(p, v) == p.holds(v)


def _age(birth: dt.date, on: dt.date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


@settings(deadline=None)
@given(
    birth=st.dates(min_value=dt.date(1900, 1, 1), max_value=dt.date(2100, 1, 1)),
    on=st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2150, 1, 1)),
    years=st.integers(min_value=0, max_value=100),
)
def test_age_at_least_is_calendar_age(birth: dt.date, on: dt.date, years: int) -> None:
    assert AgeAtLeast(years, on).holds(days_since_epoch(birth)) == (_age(birth, on) >= years)


def test_leap_day_cutoffs() -> None:
    assert cutoff_date(18, dt.date(2024, 2, 29)) == dt.date(2006, 2, 28)
    assert cutoff_date(4, dt.date(2024, 2, 29)) == dt.date(2020, 2, 29)
    assert days_since_epoch(dt.date(1969, 12, 31)) == -1


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ([], "predicate"),
        ({"type": "nope"}, "predicate.type"),
        ({"type": "equals"}, "predicate"),
        ({"type": "equals", "value": 1, "extra": 2}, "predicate"),
        ({"type": "equals", "value": True}, "predicate.value"),
        ({"type": "equals", "value": "1"}, "predicate.value"),
        ({"type": "equals", "value": 1.0}, "predicate.value"),
        ({"type": "at_least", "threshold": 2**63}, "predicate.threshold"),
        ({"type": "one_of", "values": []}, "predicate.values"),
        ({"type": "one_of", "values": [1, 1]}, "predicate.values"),
        ({"type": "one_of", "values": list(range(33))}, "predicate.values"),
        ({"type": "between", "low": 5, "high": 4}, "predicate.low"),
        ({"type": "age_at_least", "years": 18, "on": "2024-2-1"}, "predicate.on"),
        ({"type": "age_at_least", "years": 18, "on": "20240201"}, "predicate.on"),
        ({"type": "age_at_least", "years": -1, "on": "2024-02-01"}, "predicate.years"),
        ({"type": "opening", "value": 1}, "predicate"),
    ],
)
def test_malformed_predicates_are_refused(obj: Any, field: str) -> None:
    with pytest.raises(InvalidStatement) as info:
        predicate_from_json(obj)
    assert info.value.field == field
