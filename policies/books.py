"""Which department's book holds each client's record.

A client's record sits in exactly one department's book (``clients.book``, migration
0007): that department's federated-learning node trains on it and no other does, so the
union of the books has no duplicates. The book is a department name, not a personal value,
so it lives beside the pseudonym, outside the vault and off the ledger.
"""

from __future__ import annotations

from consent_ledger.db import Database
from consent_ledger.errors import InvalidRequest, UnknownClient

__all__ = ["assign_book", "clients_in_book"]


def assign_book(db: Database, client_id: str, department: str) -> None:
    """Put a registered client in ``department``'s book (moving it from any other)."""
    if not department:
        raise InvalidRequest("name the department whose book holds the client", field="book")
    with db.write() as tx:
        row = tx.one("SELECT erased_at FROM clients WHERE id = ?", (client_id,))
        if row is None or row[0] is not None:
            raise UnknownClient(f"no client {client_id}", field="client_id")
        tx.execute("UPDATE clients SET book = ? WHERE id = ?", (department, client_id))


def clients_in_book(db: Database, department: str) -> list[str]:
    """The pseudonyms of the living (not erased) clients in ``department``'s book, sorted."""
    with db.read() as tx:
        rows = tx.all(
            "SELECT id FROM clients WHERE book = ? AND erased_at IS NULL ORDER BY id",
            (department,),
        )
    return [str(r[0]) for r in rows]
