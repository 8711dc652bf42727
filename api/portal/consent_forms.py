"""The consent page's model and the plan of a change: what exactly a submitted form would
change, in words, computed from the consent in force at that moment."""

from __future__ import annotations

import calendar
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from api.portal.i18n import format_time, localized, translator
from api.state import Services
from consent_ledger.catalogue import Catalogue
from consent_ledger.consent import Consent
from custos_errors import CustosError

__all__ = [
    "DURATIONS",
    "ConsentForm",
    "PartlyApplied",
    "Plan",
    "consent_page_context",
    "make_plan",
]

# Choice → months; None lasts until withdrawn. "keep" (the current end date) is the default
# when a consent is already in force.
DURATIONS: dict[str, int | None] = {"none": None, "3m": 3, "6m": 6, "1y": 12, "2y": 24}


def add_months(t: datetime, months: int) -> datetime:
    """Calendar months, so '3 months' from 31 January ends on 30 April, not in May."""
    year, month0 = divmod(t.month - 1 + months, 12)
    year += t.year
    day = min(t.day, calendar.monthrange(year, month0 + 1)[1])
    return t.replace(year=year, month=month0 + 1, day=day)


@dataclass(frozen=True)
class ConsentForm:
    level: int | None
    purposes: tuple[str, ...]
    duration: str
    withdraw: bool


def _active(services: Services, client_id: str) -> Consent | None:
    consent = services.custos.registry.current(client_id)
    if consent is None or not consent.is_active(services.clock()):
        return None
    return consent


def _leaf_categories(catalogue: Catalogue, level: int) -> list[Any]:
    """The categories of one level, without parents whose children are listed too."""
    own = [c for c in catalogue.categories if c.level == level]
    return [c for c in own if not any(o.key.startswith(c.key + ".") for o in own)]


def consent_page_context(services: Services, client_id: str, lang: str) -> dict[str, Any]:
    catalogue = services.custos.catalogue
    consent = _active(services, client_id)
    current_level = consent.level if consent else 0
    levels = [
        {
            "n": lv.level,
            "name": localized(lv.name, lang),
            "description": localized(lv.description, lang),
            "examples": [localized(c.name, lang) for c in _leaf_categories(catalogue, lv.level)],
            "yours": lv.level == current_level,
            "included": 0 < lv.level < current_level,
        }
        for lv in sorted(catalogue.levels, key=lambda lv: lv.level)
    ]
    on = consent.purposes if consent else frozenset()
    purposes = [
        {
            "key": p.key,
            "name": localized(p.name, lang),
            "description": localized(p.description, lang),
            "on": p.key in on,
            "separate": p.separate_opt_in,
        }
        for p in catalogue.purposes
    ]
    durations = ([("keep", "duration_keep")] if consent else []) + [
        (key, f"duration_{key}") for key in DURATIONS
    ]
    return {
        "consent": consent,
        "current_level_name": localized(catalogue.level(current_level).name, lang)
        if consent
        else "",
        "current_purposes": [p["name"] for p in purposes if p["on"]],
        "levels": levels,
        "selected_level": current_level or 1,
        "purposes": [p for p in purposes if not p["separate"]],
        "separate_purposes": [p for p in purposes if p["separate"]],
        "durations": durations,
        "default_duration": "keep" if consent else "1y",
    }


@dataclass
class Plan:
    kind: Literal["grant", "change", "revoke", "none"]
    current: Consent | None
    level: int | None = None
    purposes: frozenset[str] = frozenset()
    duration: str = "keep"
    level_changed: bool = False
    purposes_changed: bool = False
    renewing: bool = False
    headline: str = ""
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    uses_on: list[str] = field(default_factory=list)
    uses_off: list[str] = field(default_factory=list)
    expiry: str = ""
    notes: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def _expires_at(self, now: datetime) -> datetime | None:
        if self.duration == "keep" and self.current is not None:
            return self.current.expires_at
        months = DURATIONS.get(self.duration)
        return None if months is None else add_months(now, months)

    def apply(self, services: Services, client_id: str) -> list[int]:
        """Make the change; returns the ledger index of every entry it wrote, in order.

        A change of level and of uses is two entries (an upgrade and a purpose change):
        the confirmation names both, so the client can find each on their trail. If a later
        step is refused after an earlier one was recorded, ``PartlyApplied`` says which
        entries were written, so the page never claims that nothing changed."""
        registry = services.custos.registry
        now = services.clock()
        if self.kind == "revoke":
            return [registry.revoke(client_id).index]
        assert self.level is not None
        if self.kind == "grant":
            expires = self._expires_at(now)
            return [registry.grant(client_id, self.level, self.purposes, expires).index]
        level = self.level
        steps: list[Callable[[], int]] = []
        if self.level_changed:
            steps.append(
                lambda: registry.change_level(client_id, level, self._expires_at(now)).index
            )
        if self.purposes_changed:
            steps.append(lambda: registry.set_purposes(client_id, self.purposes).index)
        if self.renewing:
            steps.append(lambda: registry.renew(client_id, self._expires_at(now)).index)
        written: list[int] = []
        for step in steps:
            try:
                written.append(step())
            except CustosError as exc:
                if written:
                    raise PartlyApplied(written) from exc
                raise
        return written


class PartlyApplied(Exception):
    """A change whose first entries were recorded before a later step was refused."""

    def __init__(self, written: list[int]) -> None:
        super().__init__(f"recorded {len(written)} entries before a step was refused")
        self.written = written


def make_plan(services: Services, client_id: str, form: ConsentForm, lang: str) -> Plan:
    t = translator(lang)
    catalogue = services.custos.catalogue
    current = _active(services, client_id)
    now = services.clock()

    def level_label(n: int) -> str:
        return t("level_n", n=n) + " · " + localized(catalogue.level(n).name, lang)

    def names(keys: set[str] | frozenset[str]) -> list[str]:
        return [localized(p.name, lang) for p in catalogue.purposes if p.key in keys]

    def categories(low: int, high: int) -> list[str]:
        return [
            localized(c.name, lang)
            for n in range(low + 1, high + 1)
            for c in _leaf_categories(catalogue, n)
        ]

    if form.withdraw:
        if current is None:
            return Plan("none", None, problems=["nothing_to_change"])
        return Plan(
            "revoke",
            current,
            headline=t("revoke_all"),
            lost=categories(0, current.level),
            uses_off=names(current.purposes),
        )

    wanted = frozenset(p for p in form.purposes if p in catalogue.purpose_map)
    duration = form.duration if form.duration in DURATIONS or form.duration == "keep" else "keep"
    plan = Plan("change" if current else "grant", current, form.level, wanted, duration)
    if form.level is None:
        plan.problems.append("need_level")
    if not wanted:
        plan.problems.append("need_purpose")
    if plan.problems:
        return plan
    level = form.level
    assert level is not None

    if current is None:
        plan.duration = "none" if duration == "keep" else duration
        plan.headline = t(
            "change_grant", n=level, name=localized(catalogue.level(level).name, lang)
        )
        plan.gained = categories(0, level)
        plan.uses_on = names(wanted)
    else:
        plan.level_changed = level != current.level
        plan.purposes_changed = wanted != current.purposes
        if plan.level_changed:
            key = "change_up" if level > current.level else "change_down"
            plan.headline = t(key, old=level_label(current.level), new=level_label(level))
            plan.gained = categories(current.level, level)
            plan.lost = categories(level, current.level)
        else:
            plan.headline = t("change_same_level", name=level_label(level))
            # A new term on its own is a renewal: same level and purposes, a new end date.
            plan.renewing = duration != "keep" and plan._expires_at(now) != current.expires_at
        plan.uses_on = names(wanted - current.purposes)
        plan.uses_off = names(current.purposes - wanted)
        if not (plan.level_changed or plan.purposes_changed or plan.renewing):
            plan.problems.append("nothing_to_change")
            return plan

    expires = plan._expires_at(now)
    term_unchanged = plan.duration == "keep" or not (plan.level_changed or plan.renewing)
    if plan.kind == "change" and term_unchanged:
        plan.expiry = t("expiry_kept")
    elif expires is None:
        plan.expiry = t("expiry_never")
    else:
        plan.expiry = t("expiry_on", date=format_time(expires, lang))
    capped = any(
        p.max_level is not None and level > p.max_level
        for p in catalogue.purposes
        if p.key in wanted
    )
    if capped and (current is None or plan.uses_on or plan.level_changed):
        plan.notes.append(t("marketing_capped"))
    return plan
