"""The consent registry: applies the consent state machine and the vault to the database,
recording every change on the ledger in the same transaction (all or nothing)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import structlog

from consent_ledger import consent as sm
from consent_ledger.catalogue import Catalogue
from consent_ledger.consent import Consent, Transition
from consent_ledger.db import Tx
from consent_ledger.encoding import format_timestamp
from consent_ledger.entries import ClientRegistered, ConsentChanged, DataCollected, DataErased
from consent_ledger.errors import InvalidRequest, UnknownClient
from consent_ledger.ledger import Appended, Ledger, NewEntry
from consent_ledger.vault import Vault

__all__ = ["ConsentRegistry", "Recorded", "new_client_id"]

log = structlog.get_logger(__name__)


def new_client_id() -> str:
    """A pseudonymous id: random, so it reveals nothing about the person."""
    return "c_" + secrets.token_hex(8)


def _parse_time(text: str | None) -> datetime | None:
    return None if text is None else datetime.fromisoformat(text)


@dataclass(frozen=True)
class Recorded:
    """A state change together with where the ledger put it."""

    transition: Transition
    entries: tuple[Appended, ...]

    @property
    def index(self) -> int:
        return self.entries[-1].index


def _consent(client_id: str, row: Any) -> Consent:
    """A Consent from (level, purposes JSON, granted_at, expires_at)."""
    granted = _parse_time(row[2])
    assert granted is not None
    return Consent(
        client_id, int(row[0]), frozenset(orjson.loads(row[1])), granted, _parse_time(row[3])
    )


def _changed(t: Transition) -> ConsentChanged:
    body = t.ledger_body()
    return ConsentChanged(t.event, body.get("from"), body.get("to"))


class ConsentRegistry:
    def __init__(self, ledger: Ledger, vault: Vault, catalogue: Catalogue) -> None:
        self.ledger = ledger
        self.vault = vault
        self.catalogue = catalogue

    @property
    def db(self) -> Any:
        return self.ledger.db

    def _now(self) -> datetime:
        return self.ledger.clock()

    # -- clients ------------------------------------------------------------------------

    def register_client(self, client_id: str | None = None) -> str:
        cid = client_id or new_client_id()
        now = format_timestamp(self._now())
        with self.db.write() as tx:
            if tx.one("SELECT 1 FROM clients WHERE id = ?", (cid,)) is not None:
                raise InvalidRequest(f"client {cid} already exists", field="client_id")
            tx.execute("INSERT INTO clients (id, created_at) VALUES (?, ?)", (cid, now))
            self.vault.create_key(tx, cid, now)
            self.ledger.append(tx, [ClientRegistered().entry(cid)])
        return cid

    def require_client(self, tx: Tx, client_id: str) -> None:
        row = tx.one("SELECT erased_at FROM clients WHERE id = ?", (client_id,))
        if row is None or row[0] is not None:
            raise UnknownClient(f"no client {client_id}", field="client_id")

    def collect(
        self,
        client_id: str,
        values: Mapping[str, Any],
        by: str,
        *,
        app_id: str | None = None,
        purpose: str | None = None,
        decision_id: str | None = None,
    ) -> Appended:
        """Store personal values in the vault; the ledger records only category names."""
        for category in values:
            self.catalogue.category(category)
        if not values:
            raise InvalidRequest("nothing to collect", field="values")
        record = DataCollected(tuple(sorted(values)), by, app_id, purpose, decision_id)
        with self.db.write() as tx:
            self.require_client(tx, client_id)
            self.vault.put(tx, client_id, values, format_timestamp(self._now()))
            appended = self.ledger.append(tx, [record.entry(client_id)])[0]
        # Category names only: the values themselves never reach a log line.
        log.debug(
            "data_collected", client_id=client_id, categories=sorted(values), index=appended.index
        )
        return appended

    def living_clients(self) -> list[tuple[str, bool]]:
        """Every client not erased, in id order, with whether they hold a consent."""
        with self.db.read() as tx:
            rows = tx.all(
                "SELECT c.id, s.client_id IS NOT NULL FROM clients c"
                " LEFT JOIN consents s ON s.client_id = c.id"
                " WHERE c.erased_at IS NULL ORDER BY c.id"
            )
        return [(str(r[0]), bool(r[1])) for r in rows]

    def read_values(self, client_id: str, categories: Iterable[str]) -> dict[str, Any]:
        with self.db.read() as tx:
            self.require_client(tx, client_id)
            return self.vault.get(tx, client_id, categories)

    def erase(self, client_id: str) -> Appended:
        """Crypto-shred the client: their key and values go, the ledger keeps its entries."""
        now = self._now()
        with self.db.write() as tx:
            self.require_client(tx, client_id)
            self.vault.shred(tx, client_id)
            tx.execute("DELETE FROM consents WHERE client_id = ?", (client_id,))
            tx.execute(
                "UPDATE clients SET erased_at = ? WHERE id = ?",
                (format_timestamp(now), client_id),
            )
            appended = self.ledger.append(tx, [DataErased().entry(client_id)])[0]
        self.db.purge_freed_pages()
        log.info("client_erased", client_id=client_id, index=appended.index)
        return appended

    # -- consent ------------------------------------------------------------------------

    def current(self, client_id: str) -> Consent | None:
        with self.db.read() as tx:
            return self.consent_of_client(tx, client_id)

    def load_consent(self, tx: Tx, client_id: str) -> Consent | None:
        row = tx.one(
            "SELECT level, purposes, granted_at, expires_at FROM consents WHERE client_id = ?",
            (client_id,),
        )
        return None if row is None else _consent(client_id, row)

    def consent_of_client(self, tx: Tx, client_id: str) -> Consent | None:
        """``require_client`` and ``load_consent`` in one query (the decision path)."""
        row = tx.one(
            "SELECT c.erased_at, s.level, s.purposes, s.granted_at, s.expires_at"
            " FROM clients c LEFT JOIN consents s ON s.client_id = c.id WHERE c.id = ?",
            (client_id,),
        )
        if row is None or row[0] is not None:
            raise UnknownClient(f"no client {client_id}", field="client_id")
        return None if row[1] is None else _consent(client_id, row[1:])

    def _store(self, tx: Tx, client_id: str, consent: Consent | None) -> None:
        tx.execute("DELETE FROM consents WHERE client_id = ?", (client_id,))
        if consent is not None:
            tx.execute(
                "INSERT INTO consents (client_id, level, purposes, granted_at, expires_at)"
                " VALUES (?, ?, ?, ?, ?)",
                (
                    client_id,
                    consent.level,
                    orjson.dumps(sorted(consent.purposes)).decode(),
                    format_timestamp(consent.granted_at),
                    None if consent.expires_at is None else format_timestamp(consent.expires_at),
                ),
            )

    def _apply(self, client_id: str, change: Any) -> Recorded:
        """Run one state-machine step; a lapsed consent is first recorded as expired."""
        now = self._now()
        with self.db.write() as tx:
            current = self.consent_of_client(tx, client_id)
            entries: list[NewEntry] = []
            lapsed = sm.expire(current, now)
            if lapsed is not None:
                entries.append(_changed(lapsed).entry(client_id))
                current = None
            transition: Transition = change(current, now)
            entries.append(_changed(transition).entry(client_id))
            self._store(tx, client_id, transition.after)
            appended = self.ledger.append(tx, entries)
        log.debug(
            "consent_changed",
            client_id=client_id,
            entry_type=transition.event.value,
            index=appended[-1].index,
        )
        return Recorded(transition, tuple(appended))

    def grant(
        self,
        client_id: str,
        level: int,
        purposes: Iterable[str],
        expires_at: datetime | None = None,
    ) -> Recorded:
        wanted = list(purposes)
        return self._apply(
            client_id,
            lambda cur, now: sm.grant(
                self.catalogue, cur, client_id, level, wanted, now, expires_at
            ),
        )

    def change_level(
        self, client_id: str, level: int, expires_at: datetime | None = None
    ) -> Recorded:
        return self._apply(
            client_id,
            lambda cur, now: sm.change_level(self.catalogue, cur, level, now, expires_at),
        )

    def renew(self, client_id: str, expires_at: datetime | None) -> Recorded:
        return self._apply(client_id, lambda cur, now: sm.renew(cur, now, expires_at))

    def set_purposes(self, client_id: str, purposes: Iterable[str]) -> Recorded:
        wanted = list(purposes)
        return self._apply(
            client_id, lambda cur, now: sm.set_purposes(self.catalogue, cur, wanted, now)
        )

    def revoke(self, client_id: str, purposes: Iterable[str] | None = None) -> Recorded:
        dropping = None if purposes is None else list(purposes)
        return self._apply(
            client_id, lambda cur, now: sm.revoke(self.catalogue, cur, now, dropping)
        )

    def expire_due(self) -> int:
        """Record every consent whose expiry has passed; decisions never wait for this."""
        now = self._now()
        cutoff = format_timestamp(now)
        count = 0
        with self.db.write() as tx:
            rows = tx.all(
                "SELECT client_id FROM consents WHERE expires_at IS NOT NULL AND expires_at <= ?"
                " ORDER BY client_id",
                (cutoff,),
            )
            entries = []
            for (client_id,) in rows:
                lapsed = sm.expire(self.load_consent(tx, client_id), now)
                if lapsed is not None:
                    entries.append(_changed(lapsed).entry(client_id))
                    self._store(tx, client_id, None)
                    count += 1
            self.ledger.append(tx, entries)
        return count
