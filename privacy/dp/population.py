"""The clients of a dataset, columnar and current: one polars frame, advanced by the ledger.

Decrypting every client's values for every release would cost far more than the release
itself, so the population is read from the vault once and then kept current: before each
release, inside the release's transaction, the entries appended since (consent changes,
new values, erasures) name the clients whose rows are read again or dropped. Each row
carries its client's consent *class* (level, purposes, expiry): membership is decided by
the policy once per class, not once per client.

Rows hold the column values as stored (derivations that depend only on the value are
applied here; the age band, which depends on the release date, at the release).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Any

import polars as pl

from consent_ledger.consent import Consent
from policies.datasets import Column, Dataset, age_bands

__all__ = ["ClassKey", "Population", "key_dtype", "stored_value"]

ClassKey = tuple[int, tuple[str, ...], str | None]
_ID, _CLASS = "client_id", "consent_class"
_QUESTIONS = 10
_CACHED_SHAPES = 32
_MAX_CHUNKS = 64
# The one column of a count of every member (privacy.dp.mechanisms reads it by this name).
MEMBER = "member"


def _int(value: Any) -> int | None:
    return value if type(value) is int else None


def _questionnaire_sum(value: Any) -> int | None:
    if (
        isinstance(value, list)
        and len(value) == _QUESTIONS
        and all(type(a) is int and 1 <= a <= 5 for a in value)
    ):
        return sum(value)
    return None


def _birth_date(value: Any) -> date | None:
    if not isinstance(value, str):
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def stored_value(column: Column, values: Mapping[str, Any]) -> Any:
    """A column's cell from a client's vault values (None where there is no usable value)."""
    raw = values.get(column.category)
    if column.derivation == "questionnaire_sum":
        return _questionnaire_sum(raw)
    if column.derivation == "age_band":
        return _birth_date(raw)
    if column.numeric:
        return _int(raw)
    return raw if isinstance(raw, str) else None


def _dtype(column: Column) -> Any:
    if column.derivation == "age_band":
        return pl.Date
    return pl.Int64 if column.numeric else pl.String


def key_dtype(column: Column) -> pl.Enum:
    """A group key's type: an enum of its public categories. OpenDP copies the members'
    frame across its FFI on every release; one byte a row instead of a string makes a
    grouped release at 1M clients several times cheaper."""
    return pl.Enum(column.categories or ())


def age_band_expr(column: Column, on: date) -> pl.Expr:
    """Each birth date's band on ``on`` (whole years; a birthday not yet reached this year
    does not count), or null if the age is in no band."""
    dob = pl.col(column.name)
    before_birthday = (dob.dt.month() > on.month) | (
        (dob.dt.month() == on.month) & (dob.dt.day() > on.day)
    )
    age = pl.lit(on.year) - dob.dt.year().cast(pl.Int32) - before_birthday.cast(pl.Int32)
    expr: Any = pl.lit(None, dtype=pl.String)
    for label, low, high in reversed(age_bands(column.categories or ())):
        inside = age >= low if high is None else (age >= low) & (age <= high)
        expr = pl.when(inside).then(pl.lit(label)).otherwise(expr)
    band: pl.Expr = expr.alias(column.name)
    return band


class Population:
    """The rows of one dataset's clients, as of ledger size ``as_of``. ``update`` and
    ``members`` are serialised by a lock (releases run in the writer, one at a time, but
    tests and benchmarks drive it directly too)."""

    def __init__(self, dataset: Dataset, as_of: int) -> None:
        self.dataset = dataset
        self.as_of = as_of
        self._columns = tuple(dataset.columns.values())
        self._classes: dict[ClassKey, int] = {}
        self._representative: dict[int, Consent] = {}
        self._frame = pl.DataFrame(schema=self._schema())
        # The members' frame of recent query shapes, until the next change of any row.
        self._members: dict[tuple[Any, ...], pl.DataFrame] = {}
        self._lock = threading.Lock()

    def _schema(self) -> dict[str, Any]:
        return {_ID: pl.String, _CLASS: pl.Int64} | {c.name: _dtype(c) for c in self._columns}

    def __len__(self) -> int:
        return self._frame.height

    def _class_of(self, consent: Consent) -> int:
        expires = None if consent.expires_at is None else consent.expires_at.isoformat()
        key: ClassKey = (consent.level, tuple(sorted(consent.purposes)), expires)
        found = self._classes.get(key)
        if found is None:
            found = len(self._classes)
            self._classes[key] = found
            self._representative[found] = consent
        return found

    def update(
        self,
        changed: Iterable[tuple[str, tuple[Consent, Mapping[str, Any]] | None]],
        as_of: int,
    ) -> None:
        """Replace the rows of the clients named (None: the client left the data: no
        consent any more, or erased) and move the snapshot to ``as_of``."""
        with self._lock:
            drop: list[str] = []
            rows: list[tuple[Any, ...]] = []
            for client_id, state in changed:
                drop.append(client_id)
                if state is None:
                    continue
                consent, values = state
                cells = tuple(stored_value(c, values) for c in self._columns)
                rows.append((client_id, self._class_of(consent), *cells))
            if drop:
                kept = self._frame.filter(~pl.col(_ID).is_in(drop))
                fresh = pl.DataFrame(rows, schema=self._schema(), orient="row")
                frame = pl.concat([kept, fresh], rechunk=False)
                # Small updates append chunks; scans slow down once there are many.
                self._frame = frame.rechunk() if frame.n_chunks() > _MAX_CHUNKS else frame
                self._members.clear()
            self.as_of = as_of

    def classes(self) -> dict[int, Consent]:
        """Each consent class's id and one consent of that class (to decide it by)."""
        with self._lock:
            return dict(self._representative)

    def members(
        self,
        admitted: Iterable[int],
        columns: tuple[Column, ...],
        on: date,
        keys: tuple[Column, ...] = (),
    ) -> pl.DataFrame:
        """The rows of the admitted classes, only ``columns`` (derived for ``on``), and only
        clients with a value in every one of them: what the measurement reads. The ``keys``
        (group keys, among the columns) are enums of their categories; a client whose value
        is in no category is in no released group, so is left out."""
        wanted = sorted(admitted)
        key_names = frozenset(c.name for c in keys)
        key = (tuple(wanted), tuple(c.name for c in columns), on, key_names)
        with self._lock:
            found = self._members.get(key)
            if found is None:
                found = self._select(self._frame, wanted, columns, on, key_names)
                if len(self._members) >= _CACHED_SHAPES:
                    self._members.pop(next(iter(self._members)))
                self._members[key] = found
            return found

    @staticmethod
    def _select(
        frame: pl.DataFrame,
        wanted: list[int],
        columns: tuple[Column, ...],
        on: date,
        keys: frozenset[str],
    ) -> pl.DataFrame:
        admitted_rows = frame.filter(pl.col(_CLASS).is_in(wanted))
        if not columns:
            return admitted_rows.select(
                pl.repeat(True, admitted_rows.height, dtype=pl.Boolean).alias(MEMBER)
            )
        cells = [
            age_band_expr(c, on) if c.derivation == "age_band" else pl.col(c.name) for c in columns
        ]
        typed = [
            cell.cast(key_dtype(c), strict=False) if c.name in keys else cell
            for c, cell in zip(columns, cells, strict=True)
        ]
        return admitted_rows.select(typed).drop_nulls()

    def map_classes(self, decide: Callable[[Consent], bool]) -> list[int]:
        """The classes whose representative consent ``decide`` admits."""
        return [cls for cls, consent in self.classes().items() if decide(consent)]
