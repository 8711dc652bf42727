"""JSON Lines export of ledger entries, self-contained for independent verification."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator

import orjson

from consent_ledger.encoding import decode_entry
from consent_ledger.entries import parse_body
from consent_ledger.ledger import StoredEntry

__all__ = ["export_lines"]


def export_lines(entries: Iterable[StoredEntry]) -> Iterator[bytes]:
    """Each line: ``index``, the decoded fields, and ``leaf``, the base64 of the exact bytes
    whose SHA-256(0x00 || bytes) is the entry's leaf hash. Every body is checked against its
    entry type first (``consent_ledger.entries``): an export never hands an auditor an entry
    of a shape the documentation does not describe."""
    for stored in entries:
        entry = decode_entry(stored.leaf)
        parse_body(stored.index, entry.type, entry.body)
        line = {
            "index": stored.index,
            "prev_hash": entry.prev_hash.hex(),
            "timestamp": entry.timestamp,
            "type": entry.type,
            "subject": entry.subject,
            "body": entry.body,
            "leaf_hash": stored.leaf_hash.hex(),
            "leaf": base64.b64encode(stored.leaf).decode(),
        }
        yield orjson.dumps(line) + b"\n"
