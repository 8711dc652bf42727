"""The same policy written as Cedar policies and entities, for cross-checking and benchmarks.

The translation works from the policy's rules, not from the compiled tables, so a Cedar
answer is an independent check of ``compile_policy`` and ``decide``: parent keys become
Cedar's entity hierarchy (``resource in Category::"user.financial"``), levels become a
``level`` attribute, and the consent is an attribute of a ``Client`` entity named in the
context. Cedar has no NOT_APPLICABLE: both that and DENY are Cedar's default deny.

Only text and JSON are produced here; the caller hands them to ``cedarpy``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from consent_ledger.consent import Consent
from policies.compiled import CompiledPolicy
from policies.decision import App, Request
from policies.model import Forbid, ProofRule

__all__ = ["cedar_entities", "cedar_policies", "cedar_requests", "micros"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def micros(t: datetime) -> int:
    """Microseconds since the epoch, exactly (Cedar compares Longs, not times)."""
    return (t - _EPOCH) // timedelta(microseconds=1)


def cedar_policies(compiled: CompiledPolicy) -> str:
    """Cedar policy text equivalent to the policy's permits, forbids and proof rules."""
    doc = compiled.policy.document
    out: list[str] = []
    for dept, ddef in doc.departments.items():
        for permit in ddef.permits:
            for purpose in permit.purposes:
                out.append(_permit(permit.id, dept, purpose, permit.categories))
    out += [_forbid(f) for f in doc.forbids]
    out += [_proof(r) for r in doc.proofs]
    return "\n\n".join(out) + "\n"


def _permit(rule_id: str, dept: str, purpose: str, categories: Sequence[str]) -> str:
    consent = "context.client.consent"
    conditions = [
        _categories(categories),
        "context.client has consent",
        f"(!({consent} has expires_at) || context.now < {consent}.expires_at)",
        f"{consent}.purposes.contains({_str(purpose)})",
        f"resource.level <= {consent}.level",
    ]
    return (
        f'@id("{rule_id}/{purpose}")\n'
        f"permit (principal in Department::{_str(dept)}, action == Action::{_str(purpose)}, "
        f"resource)\nwhen {{\n  " + " &&\n  ".join(conditions) + "\n};"
    )


def _forbid(f: Forbid) -> str:
    conditions = []
    if f.departments is not None:
        conditions.append(_any("principal in Department::{}", f.departments))
    if f.purposes is not None:
        conditions.append(_actions(f.purposes))
    if f.except_purposes is not None:
        conditions.append(f"!({_actions(f.except_purposes)})")
    if f.categories is not None:
        conditions.append(_categories(f.categories))
    if f.min_level is not None:
        conditions.append(f"resource.level >= {f.min_level}")
    if f.access is not None:
        conditions.append(f"context.access == {_str(f.access)}")
    if f.stages is not None:
        conditions.append(_stages(f.stages))
    return _forbid_text(f.id, conditions)


def _proof(r: ProofRule) -> str:
    conditions = [_actions(r.purposes), _categories(r.categories), _stages(r.stages)]
    if r.departments is not None:
        conditions.insert(0, _any("principal in Department::{}", r.departments))
    conditions.append(f"!context.proven.contains({_str(r.id)})")
    return _forbid_text(r.id, conditions)


def _forbid_text(rule_id: str, conditions: list[str]) -> str:
    body = " &&\n  ".join(conditions) or "true"
    return f'@id("{rule_id}")\nforbid (principal, action, resource)\nwhen {{\n  {body}\n}};'


def _str(value: str) -> str:
    return json.dumps(value)  # a JSON string literal is a valid Cedar string literal


def _any(template: str, names: Iterable[str]) -> str:
    return "(" + " || ".join(template.format(_str(n)) for n in names) + ")"


def _actions(purposes: Iterable[str]) -> str:
    return "action in [" + ", ".join(f"Action::{_str(p)}" for p in purposes) + "]"


def _categories(keys: Iterable[str]) -> str:
    return _any("resource in Category::{}", keys)


def _stages(stages: Iterable[str]) -> str:
    listed = ", ".join(_str(s) for s in stages)
    return f"(context has stage && [{listed}].contains(context.stage))"


def cedar_entities(
    compiled: CompiledPolicy, consents: Mapping[str, Consent | None], apps: Iterable[App]
) -> list[dict[str, Any]]:
    """Departments, apps (children of their department), categories (children of their
    dotted parent, with their level) and clients (with their consent, if they have one)."""
    entities: list[dict[str, Any]] = [
        _entity("Department", d) for d in compiled.policy.document.departments
    ]
    entities += [
        _entity("App", a.app_id, parents=[_uid("Department", a.department)])
        for a in {a.app_id: a for a in apps}.values()
    ]
    levels = {c.key: c.level for c in compiled.catalogue.categories}
    keys = sorted({".".join(k.split(".")[:n]) for k in levels for n in range(1, k.count(".") + 2)})
    for key in keys:
        parent = key.rpartition(".")[0]
        attrs = {"level": levels[key]} if key in levels else {}
        entities.append(
            _entity("Category", key, attrs, [_uid("Category", parent)] if parent else [])
        )
    for client_id, consent in consents.items():
        entities.append(_entity("Client", client_id, _consent_attrs(consent)))
    return entities


def _consent_attrs(consent: Consent | None) -> dict[str, Any]:
    if consent is None:
        return {}
    record: dict[str, Any] = {"level": consent.level, "purposes": sorted(consent.purposes)}
    if consent.expires_at is not None:
        record["expires_at"] = micros(consent.expires_at)
    return {"consent": record}


def _uid(kind: str, name: str) -> dict[str, str]:
    return {"type": kind, "id": name}


def _entity(
    kind: str, name: str, attrs: dict[str, Any] | None = None, parents: list[Any] | None = None
) -> dict[str, Any]:
    return {"uid": _uid(kind, name), "attrs": attrs or {}, "parents": parents or []}


def cedar_requests(request: Request) -> list[dict[str, Any]]:
    """One Cedar request per requested category; ours is allowed iff Cedar allows them all."""
    ctx = request.context
    context: dict[str, Any] = {
        "client": {"__entity": _uid("Client", request.resource.client_id)},
        "now": micros(ctx.now),
        "access": ctx.access,
        "proven": sorted(ctx.proven),
    }
    if ctx.stage is not None:
        context["stage"] = ctx.stage
    principal = _uid("App", request.principal.app_id)
    action = _uid("Action", request.action)
    return [
        {
            "principal": principal,
            "action": action,
            "resource": _uid("Category", key),
            "context": context,
        }
        for key in request.resource.categories
    ]
