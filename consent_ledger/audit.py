"""The audit index: a query projection of the ledger, derived on demand.

Before answering a query the index catches up on entries appended since its last run
(in chunks, under its own lock), so the append path never pays for it; the index can be
dropped and rebuilt from the entries at any time. Queries return the ledger's own entries,
decoded, with their indices, so each answer can be checked against an inclusion proof.
"""

from __future__ import annotations

import threading
from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from consent_ledger.catalogue import Catalogue
from consent_ledger.db import Database, Tx
from consent_ledger.encoding import decode_entry
from consent_ledger.entries import EntryType, parse_body
from consent_ledger.errors import UnknownName

__all__ = ["AuditIndex", "TrailEntry", "TrailQuery"]

_CHUNK = 5000
_PG_INDEX_LOCK = 0x6175646974  # "audit"
_COLUMNS = ("subject", "app_id", "department", "purpose", "category", "outcome", "entry_type")


@dataclass(frozen=True)
class TrailQuery:
    subject: str | None = None
    app_id: str | None = None
    department: str | None = None
    purpose: str | None = None
    category: str | None = None
    outcome: str | None = None
    entry_type: str | None = None
    since: str | None = None
    until: str | None = None
    after: int = -1
    limit: int = 100

    def check(self, catalogue: Catalogue, departments: Collection[str]) -> TrailQuery:
        """This query, if every name it filters by exists; UnknownName (naming the field and
        what would be accepted) otherwise, so a typo is not mistaken for "no entries"."""
        named = [
            ("department", self.department, sorted(departments)),
            ("purpose", self.purpose, sorted(catalogue.purpose_map)),
            ("category", self.category, None),
            ("type", self.entry_type, sorted(t.value for t in EntryType)),
        ]
        for field, value, known in named:
            if value is None:
                continue
            if known is None:
                if value not in catalogue.category_map:
                    raise UnknownName(f"category {value!r} is not in the catalogue", field=field)
            elif value not in known:
                raise UnknownName(
                    f"{field} {value!r} is not one of: {', '.join(known)}", field=field
                )
        return self


@dataclass(frozen=True)
class TrailEntry:
    index: int
    timestamp: str
    type: str
    subject: str | None
    body: Mapping[str, Any]


def _rows_for(idx: int, raw: bytes) -> Iterator[tuple[Any, ...]]:
    """The index rows of one entry: one per category it concerns (at least one). The facts
    come from the entry's typed body, so every writer's entries are filed the same way."""
    e = decode_entry(raw)
    facts = parse_body(idx, e.type, e.body).facts()
    for seq, category in enumerate(facts.categories or (None,)):
        yield (
            idx,
            seq,
            e.type,
            e.subject,
            facts.app_id,
            facts.department,
            facts.purpose,
            category,
            facts.outcome,
            e.timestamp,
        )


class AuditIndex:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._lock = threading.Lock()

    def catch_up(self) -> int:
        """Index every entry not yet indexed; returns how many entries were added."""
        added = 0
        with self._lock:
            while True:
                with self.db.write() as tx:
                    if tx.dialect == "postgresql":
                        tx.execute("SELECT pg_advisory_xact_lock(?)", (_PG_INDEX_LOCK,))
                    done = tx.one("SELECT MAX(idx) FROM audit_index")
                    start = -1 if done is None or done[0] is None else int(done[0])
                    entries = tx.all(
                        "SELECT idx, leaf FROM ledger_entries WHERE idx > ? ORDER BY idx LIMIT ?",
                        (start, _CHUNK),
                    )
                    rows = [r for idx, leaf in entries for r in _rows_for(int(idx), bytes(leaf))]
                    tx.executemany(
                        "INSERT INTO audit_index (idx, seq, entry_type, subject, app_id,"
                        " department, purpose, category, outcome, recorded_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                added += len(entries)
                if len(entries) < _CHUNK:
                    return added

    def latest_index(self, subject: str, type_prefix: str) -> int | None:
        """The newest ledger index about ``subject`` whose type starts with ``type_prefix``."""
        self.catch_up()
        with self.db.read() as tx:
            row = tx.one(
                "SELECT MAX(idx) FROM audit_index"
                " WHERE subject = ? AND entry_type LIKE ? ESCAPE '\\'",
                (subject, type_prefix.replace("_", r"\_") + "%"),
            )
        return None if row is None or row[0] is None else int(row[0])

    def query(self, q: TrailQuery) -> list[TrailEntry]:
        self.catch_up()
        where = ["idx > ?"]
        params: list[Any] = [q.after]
        for column in _COLUMNS:
            value = getattr(q, column)
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        if q.since is not None:
            where.append("recorded_at >= ?")
            params.append(q.since)
        if q.until is not None:
            where.append("recorded_at < ?")
            params.append(q.until)
        sql = (
            "SELECT DISTINCT idx FROM audit_index WHERE "  # noqa: S608 - fixed column names, ? values
            + " AND ".join(where)
            + " ORDER BY idx LIMIT ?"
        )
        params.append(q.limit)
        with self.db.read() as tx:
            indices = [int(r[0]) for r in tx.all(sql, params)]
            return _entries(tx, indices)


def _entries(tx: Tx, indices: list[int]) -> list[TrailEntry]:
    if not indices:
        return []
    marks = ",".join("?" * len(indices))
    rows = tx.all(
        f"SELECT idx, leaf FROM ledger_entries WHERE idx IN ({marks}) ORDER BY idx",  # noqa: S608 - ? marks only
        indices,
    )
    out = []
    for idx, leaf in rows:
        e = decode_entry(bytes(leaf))
        out.append(TrailEntry(int(idx), e.timestamp, e.type, e.subject, e.body))
    return out
