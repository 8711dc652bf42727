"""'Who used my data': the signed-in client's ledger entries as rows people can read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from api.portal.i18n import MESSAGES, Translator, localized, translator
from api.state import Services
from consent_ledger.audit import TrailEntry, TrailQuery
from consent_ledger.catalogue import Catalogue
from consent_ledger.entries import ConsentChanged, parse_body

__all__ = ["PAGE_SIZE", "TrailFilters", "trail_rows"]

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

    def link(self, page: int) -> str:
        params = {k: v for k, v in vars(self).items() if v}
        if page > 1:
            params["page"] = str(page)
        return "/portal/trail" + ("?" + urlencode(params) if params else "")

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
    return {
        "index": entry.index,
        "when": entry.timestamp,
        "event": t(event_key) if event_key in MESSAGES else entry.type,
        "who": who,
        "data": data,
        "purpose": purpose,
        "outcome": facts.outcome if facts.outcome in _OUTCOMES else None,
    }


def trail_rows(
    services: Services, client_id: str, filters: TrailFilters, page: int, lang: str
) -> dict[str, Any]:
    """One page of the client's trail, newest first, with links to the pages around it."""
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
