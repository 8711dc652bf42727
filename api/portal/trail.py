"""'Who used my data': the signed-in client's ledger entries as rows people can read."""

from __future__ import annotations

import base64
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from api.portal.i18n import MESSAGES, Translator, localized, translator
from api.state import Services
from consent_ledger.audit import TrailEntry, TrailQuery
from consent_ledger.catalogue import Catalogue
from consent_ledger.entries import ConsentChanged, parse_body
from consent_ledger.merkle import leaf_hash

__all__ = [
    "CSV_COLUMNS",
    "PAGE_SIZE",
    "TrailFilters",
    "spreadsheet_safe",
    "trail_csv",
    "trail_export",
    "trail_rows",
]

PAGE_SIZE = 25
# A client's own trail is small (a few entries a day at most); reading all of it lets the
# page show newest first, which the index's ascending cursor cannot do on its own.
_MAX_ENTRIES = 20_000
_OUTCOMES = ("allow", "deny", "not_applicable")
_BY_CLIENT = frozenset(
    {
        "consent_granted",
        "consent_upgraded",
        "consent_downgraded",
        "consent_purposes_changed",
        "consent_revoked",
        "data_erased",
    }
)


@dataclass(frozen=True)
class TrailFilters:
    department: str | None = None
    purpose: str | None = None
    category: str | None = None
    outcome: str | None = None

    @classmethod
    def clean(
        cls, services: Services, department: str, purpose: str, category: str, outcome: str
    ) -> TrailFilters:
        """Known values only; anything else (an edited URL, say) means 'any'."""
        catalogue = services.custos.catalogue
        return cls(
            department if department in services.accounts.departments else None,
            purpose if purpose in catalogue.purpose_map else None,
            category if category in catalogue.category_map else None,
            outcome if outcome in _OUTCOMES else None,
        )

    @property
    def active(self) -> bool:
        return any(vars(self).values())

    def link(self, page: int, path: str = "/portal/trail") -> str:
        params = {k: v for k, v in vars(self).items() if v}
        if page > 1:
            params["page"] = str(page)
        return path + ("?" + urlencode(params) if params else "")

    def options(self, services: Services, lang: str) -> dict[str, list[tuple[str, str]]]:
        t = translator(lang)
        catalogue = services.custos.catalogue
        return {
            "department": [
                (d, department_name(t, d)) for d in sorted(services.accounts.departments)
            ],
            "purpose": [(p.key, localized(p.name, lang)) for p in catalogue.purposes],
            "category": [(c.key, localized(c.name, lang)) for c in catalogue.categories],
            "outcome": [(o, t(f"outcome_{o}")) for o in _OUTCOMES],
        }


def department_name(t: Translator, department: str) -> str:
    key = f"dept_{department}"
    return t(key) if key in MESSAGES else department


def _category_names(catalogue: Catalogue, keys: list[str], lang: str) -> str:
    out = []
    for key in keys:
        found = catalogue.category_map.get(key)
        out.append(localized(found.name, lang) if found else key)
    return ", ".join(out)


def _consent_change(
    body: Mapping[str, Any], catalogue: Catalogue, t: Translator, lang: str
) -> tuple[str, str]:
    """A consent entry's level and purposes, as the change it made: 'Level 2 → Level 3',
    'Off: Marketing', rather than the whole state before and after."""
    before, after = body.get("from") or {}, body.get("to") or {}
    state = after or before
    level = catalogue.level(int(state["level"])) if "level" in state else None
    data = t("level_n", n=level.level) + " · " + localized(level.name, lang) if level else ""
    if before and after and before.get("level") != after.get("level"):
        data = t("level_n", n=before["level"]) + " → " + data

    def names(keys: set[str]) -> str:
        return ", ".join(localized(p.name, lang) for p in catalogue.purposes if p.key in keys)

    old, new = set(before.get("purposes", [])), set(after.get("purposes", []))
    if before and after and old != new:
        changes = []
        if new - old:
            changes.append(t("trail_on", names=names(new - old)))
        if old - new:
            changes.append(t("trail_off", names=names(old - new)))
        return data, "; ".join(changes)
    return data, names(new or old)


def _row(entry: TrailEntry, catalogue: Catalogue, t: Translator, lang: str) -> dict[str, Any]:
    """One entry as a row, from its typed body (``consent_ledger.entries``)."""
    row, _ = _row_and_facts(entry, catalogue, t, lang)
    return row


@dataclass(frozen=True)
class _Keys:
    """The machine names behind a row's words, for the downloads."""

    department: str | None
    purpose: str | None
    categories: tuple[str, ...]


def _row_and_facts(
    entry: TrailEntry, catalogue: Catalogue, t: Translator, lang: str
) -> tuple[dict[str, Any], _Keys]:
    body = parse_body(entry.index, entry.type, entry.body)
    facts = body.facts()
    if isinstance(body, ConsentChanged):
        data, purpose = _consent_change(entry.body, catalogue, t, lang)
    else:
        data = _category_names(catalogue, list(facts.categories), lang)
        purpose = facts.purpose or ""
    if entry.type in _BY_CLIENT:
        who = t("you")
    else:
        who = department_name(t, facts.department) if facts.department else ""
    if purpose in catalogue.purpose_map:
        purpose = localized(catalogue.purpose_map[purpose].name, lang)
    event_key = f"ev_{entry.type}"
    row = {
        "index": entry.index,
        "when": entry.timestamp,
        "event": t(event_key) if event_key in MESSAGES else entry.type,
        "who": who,
        "data": data,
        "purpose": purpose,
        "outcome": facts.outcome if facts.outcome in _OUTCOMES else None,
    }
    return row, _Keys(facts.department, facts.purpose, tuple(facts.categories))


def _entries(services: Services, client_id: str, filters: TrailFilters) -> list[TrailEntry]:
    """The client's own entries that pass the filters, newest first. The subject is the
    session's client, never a request value, so no filter can reach another client."""
    entries = services.audit.query(
        TrailQuery(
            subject=client_id,
            department=filters.department,
            purpose=filters.purpose,
            category=filters.category,
            outcome=filters.outcome,
            after=-1,
            limit=_MAX_ENTRIES,
        )
    )
    entries.reverse()
    return entries


def trail_rows(
    services: Services, client_id: str, filters: TrailFilters, page: int, lang: str
) -> dict[str, Any]:
    """One page of the client's trail, newest first, with links to the pages around it."""
    entries = _entries(services, client_id, filters)
    pages = max(1, -(-len(entries) // PAGE_SIZE))
    page = min(page, pages)
    shown = entries[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    t = translator(lang)
    catalogue = services.custos.catalogue
    return {
        "rows": [_row(e, catalogue, t, lang) for e in shown],
        "total": len(entries),
        "page": page,
        "pages": pages,
        "newer": filters.link(page - 1) if page > 1 else None,
        "older": filters.link(page + 1) if page < pages else None,
    }


# -- downloads ------------------------------------------------------------------------

CSV_COLUMNS = (
    "ledger_index",
    "timestamp",
    "event",
    "entry_type",
    "department",
    "data",
    "categories",
    "purpose",
    "outcome",
    "leaf_hash",
    "checkpoint_tree_size",
)
# A cell that a spreadsheet would read as a formula (or as the start of one after a tab or
# line break): OWASP's list for CSV injection.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def spreadsheet_safe(value: object) -> str:
    """A CSV cell no spreadsheet runs as a formula: text starting with = + - @ (or a
    control character) gets a leading apostrophe, which spreadsheets show as text."""
    text = "" if value is None else str(value)
    if text.startswith(_FORMULA_START):
        return "'" + text
    return text


def _checkpoint(services: Services, entries: list[TrailEntry]) -> tuple[str, int]:
    """A signed checkpoint whose tree holds every entry: the latest one if it does, else a
    new one (signing adds no ledger entry, so a download changes nothing the client owns)."""
    ledger = services.custos.ledger
    newest = max((e.index for e in entries), default=-1)
    latest = ledger.latest_checkpoint()
    note = latest[1] if latest is not None and latest[0] > newest else ledger.checkpoint()
    return note, int(note.split("\n")[1])


def trail_export(
    services: Services, client_id: str, filters: TrailFilters, lang: str
) -> dict[str, Any]:
    """The whole filtered trail (not one page) with what an offline check needs: each entry's
    canonical bytes, leaf hash and RFC 9162 inclusion proof, and the signed checkpoint (C2SP
    note) and verifier key those proofs lead to."""
    entries = _entries(services, client_id, filters)
    note, size = _checkpoint(services, entries)
    ledger = services.custos.ledger
    t = translator(lang)
    catalogue = services.custos.catalogue
    items = []
    for entry in entries:
        stored = next(iter(ledger.entries(entry.index, entry.index + 1)))
        row, facts = _row_and_facts(entry, catalogue, t, lang)
        items.append(
            {
                "ledger_index": entry.index,
                "timestamp": entry.timestamp,
                "entry_type": entry.type,
                "event": row["event"],
                "department": facts.department,
                "who": row["who"],
                "purpose": facts.purpose,
                "purpose_name": row["purpose"],
                "categories": list(facts.categories),
                "data": row["data"],
                "outcome": row["outcome"],
                "entry": base64.b64encode(stored.leaf).decode(),
                "leaf_hash": leaf_hash(stored.leaf).hex(),
                "inclusion_proof": ledger.inclusion_proof(entry.index, size).as_json(),
            }
        )
    return {
        "client_id": client_id,
        "language": lang,
        "filters": {k: v for k, v in vars(filters).items() if v},
        "checkpoint": {
            "tree_size": size,
            "root_hash": note.split("\n")[2],
            "note": note,
            "verifier_key": ledger.signer.verifier_key(),
        },
        "entries": items,
    }


def trail_csv(export: Mapping[str, Any]) -> str:
    """The export as a spreadsheet: one row per entry with the tree size of the checkpoint
    it was proved against; after a blank line, the checkpoint itself. Every cell passes
    ``spreadsheet_safe``; a byte-order mark lets spreadsheet programs read UTF-8 (Chinese)."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    checkpoint = export["checkpoint"]
    for item in export["entries"]:
        writer.writerow(
            spreadsheet_safe(v)
            for v in (
                item["ledger_index"],
                item["timestamp"],
                item["event"],
                item["entry_type"],
                item["who"],
                item["data"],
                " ".join(item["categories"]),
                item["purpose_name"],
                item["outcome"] or "",
                item["leaf_hash"],
                checkpoint["tree_size"],
            )
        )
    writer.writerow([])
    for name in ("tree_size", "root_hash", "note", "verifier_key"):
        writer.writerow(
            [spreadsheet_safe("checkpoint_" + name), spreadsheet_safe(checkpoint[name])]
        )
    return out.getvalue()
