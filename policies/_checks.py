"""Checks a valid-looking policy document against the catalogue and against itself.

Each problem is a (location, message) pair; the loader turns the location into a line.
A location ending in ``"[key]"`` points at a mapping key rather than its value.
"""

from __future__ import annotations

from collections.abc import Sequence

from consent_ledger.catalogue import Catalogue, CategoryDef
from policies.compiled import covers, forbid_targets
from policies.model import (
    DpvTerm,
    Forbid,
    ObligationRule,
    Permit,
    PolicyDocument,
    ProofRule,
)

__all__ = ["Loc", "semantic_problems"]

Loc = tuple[str | int, ...]
Problems = list[tuple[Loc, str]]


def semantic_problems(doc: PolicyDocument, cat: Catalogue) -> Problems:
    out: Problems = []
    _unique_ids(doc, out)
    permitted: dict[tuple[str, str], str] = {}
    for dept, ddef in doc.departments.items():
        for i, permit in enumerate(ddef.permits):
            loc: Loc = ("departments", dept, "permits", i)
            _names_purposes(cat, (*loc, "purposes"), permit.purposes, out)
            _names_categories(cat, (*loc, "categories"), permit.categories, out)
            for j, purpose in enumerate(permit.purposes):
                first = permitted.setdefault((dept, purpose), permit.id)
                if first != permit.id:
                    msg = f"{dept} may already pursue {purpose} under rule {first}; merge the two"
                    out.append(((*loc, "purposes", j), msg))
                elif purpose in cat.purpose_map:
                    _within_catalogue(doc, cat, dept, purpose, permit, loc, out)
    for i, forbid in enumerate(doc.forbids):
        _check_forbid(doc, cat, ("forbids", i), forbid, out)
    consented: dict[str, str] = {}
    for i, rule in enumerate(doc.consent_rules):
        _names_purposes(cat, ("consent_rules", i, "purposes"), rule.purposes, out)
        for j, purpose in enumerate(rule.purposes):
            first = consented.setdefault(purpose, rule.id)
            if first != rule.id:
                msg = f"purpose {purpose!r} already has consent rule {first}"
                out.append((("consent_rules", i, "purposes", j), msg))
    for pdef in cat.purposes:
        if pdef.separate_opt_in and pdef.key not in consented:
            msg = f"the catalogue makes {pdef.key} a separate opt-in; a consent rule must name it"
            out.append((("consent_rules",), msg))
    targeted: list[tuple[str, Sequence[ProofRule | ObligationRule]]] = [
        ("proofs", doc.proofs),
        ("obligations", doc.obligations),
    ]
    for section, rules in targeted:
        for i, targeted_rule in enumerate(rules):
            _names_target(doc, cat, (section, i), targeted_rule, out)
    for i, proof in enumerate(doc.proofs):
        _check_proof_attribute(cat, ("proofs", i), proof, out)
    _check_dpv(doc, cat, out)
    return out


def _names_target(
    doc: PolicyDocument, cat: Catalogue, loc: Loc, rule: ProofRule | ObligationRule, out: Problems
) -> None:
    if rule.departments is not None:
        _names_departments(doc, (*loc, "departments"), rule.departments, out)
    if rule.purposes is not None:
        _names_purposes(cat, (*loc, "purposes"), rule.purposes, out)
    if rule.categories is not None:
        _names_categories(cat, (*loc, "categories"), rule.categories, out)


def _check_proof_attribute(cat: Catalogue, loc: Loc, rule: ProofRule, out: Problems) -> None:
    """The attribute must be declared in attributes.yaml, be one of the categories the rule
    covers, and the predicate's numbers must fit the attribute's range."""
    # Imported here: policies.attributes reads YAML through the loader, which imports us.
    from policies.attributes import default_attributes

    attr = default_attributes(cat).get(rule.attribute)
    if attr is None:
        known = ", ".join(default_attributes(cat).by_name)
        msg = f"attribute {rule.attribute!r} is not in attributes.yaml; it declares {known}"
        out.append(((*loc, "attribute"), msg))
        return
    if not any(covers(k, attr.category) for k in rule.categories):
        msg = f"the rule's categories do not cover {attr.category}, the category of {attr.name}"
        out.append(((*loc, "attribute"), msg))
    spec = rule.predicate
    if spec.kind == "age_at_least":
        if attr.encoding != "days_since_epoch":
            msg = f"age_at_least needs a date of birth; {attr.name} is encoded as {attr.encoding}"
            out.append(((*loc, "predicate"), msg))
    elif not all(attr.low <= b <= attr.high for b in spec.bounds()):
        msg = f"the predicate's bounds must lie in {attr.low}..{attr.high} ({attr.bits} bits)"
        out.append(((*loc, "predicate"), msg))


def _unique_ids(doc: PolicyDocument, out: Problems) -> None:
    rules: list[tuple[Loc, str]] = [
        (("departments", d, "permits", i), p.id)
        for d, ddef in doc.departments.items()
        for i, p in enumerate(ddef.permits)
    ]
    for section in ("forbids", "consent_rules", "proofs", "obligations"):
        rules += [((section, i), r.id) for i, r in enumerate(getattr(doc, section))]
    seen: dict[str, Loc] = {}
    for loc, rule_id in rules:
        first = seen.setdefault(rule_id, loc)
        if first != loc:
            where = _dotted(first)
            out.append(((*loc, "id"), f"rule id {rule_id!r} is already used by {where}"))


def _names_purposes(cat: Catalogue, loc: Loc, names: Sequence[str], out: Problems) -> None:
    for j, name in enumerate(names):
        if name not in cat.purpose_map:
            known = ", ".join(cat.purpose_map)
            out.append(((*loc, j), f"unknown purpose {name!r}; the catalogue has {known}"))


def _names_categories(cat: Catalogue, loc: Loc, keys: Sequence[str], out: Problems) -> None:
    for j, key in enumerate(keys):
        if not _covered(cat, (key,)):
            msg = f"unknown category {key!r}: no catalogue category is {key} or beneath it"
            out.append(((*loc, j), msg))


def _names_departments(doc: PolicyDocument, loc: Loc, names: Sequence[str], out: Problems) -> None:
    for j, name in enumerate(names):
        if name not in doc.departments:
            known = ", ".join(doc.departments)
            out.append(((*loc, j), f"unknown department {name!r}; the policy defines {known}"))


def _covered(cat: Catalogue, keys: Sequence[str]) -> list[CategoryDef]:
    return [c for c in cat.categories if any(covers(k, c.key) for k in keys)]


def _static_forbids(doc: PolicyDocument, dept: str, purpose: str, c: CategoryDef) -> list[str]:
    """Ids of the forbids that always fire on this cell, whatever the request's context."""
    return [f.id for f in doc.forbids if not f.contextual and forbid_targets(f, dept, purpose, c)]


def _within_catalogue(
    doc: PolicyDocument,
    cat: Catalogue,
    dept: str,
    purpose: str,
    permit: Permit,
    loc: Loc,
    out: Problems,
) -> None:
    """A permit must not reach past the catalogue's cap for its purpose, and must be able
    to allow something: a permit that every forbid swallows says the opposite of itself."""
    cap = cat.purpose_map[purpose].max_level
    for k, key in enumerate(permit.categories):
        over = [
            c
            for c in _covered(cat, (key,))
            if cap is not None and c.level > cap and not _static_forbids(doc, dept, purpose, c)
        ]
        if over:
            msg = (
                f"rule {permit.id} lets {dept} use {over[0].key} (level {over[0].level}) for "
                f"{purpose}, but the catalogue caps {purpose} at level {cap}; "
                "narrow the categories or add a forbid"
            )
            out.append(((*loc, "categories", k), msg))
    reachable = _covered(cat, permit.categories)
    blocking = {f for c in reachable for f in _static_forbids(doc, dept, purpose, c)}
    if reachable and all(_static_forbids(doc, dept, purpose, c) for c in reachable):
        msg = (
            f"rule {permit.id} can never allow {purpose}: every category it names is "
            f"forbidden by {', '.join(sorted(blocking))}"
        )
        out.append(((*loc, "id"), msg))


def _check_forbid(
    doc: PolicyDocument, cat: Catalogue, loc: Loc, forbid: Forbid, out: Problems
) -> None:
    if forbid.departments is not None:
        _names_departments(doc, (*loc, "departments"), forbid.departments, out)
    for field in ("purposes", "except_purposes"):
        names = getattr(forbid, field)
        if names is not None:
            _names_purposes(cat, (*loc, field), names, out)
    if forbid.categories is not None:
        _names_categories(cat, (*loc, "categories"), forbid.categories, out)
        covered = _covered(cat, forbid.categories)
        floor = forbid.min_level
        if floor is not None and covered and all(c.level < floor for c in covered):
            msg = (
                f"rule {forbid.id} never applies: the catalogue puts every category it "
                f"names below level {floor}"
            )
            out.append(((*loc, "min_level"), msg))


def _check_dpv(doc: PolicyDocument, cat: Catalogue, out: Problems) -> None:
    sections: tuple[tuple[str, str, dict[str, DpvTerm], Sequence[str]], ...] = (
        ("categories", "category", doc.dpv.categories, [c.key for c in cat.categories]),
        ("purposes", "purpose", doc.dpv.purposes, [p.key for p in cat.purposes]),
    )
    for name, kind, terms, wanted in sections:
        for key, term in terms.items():
            if key not in wanted:
                out.append((("dpv", name, key, "[key]"), f"{key!r} is not a catalogue {kind}"))
            prefix = term.term.split(":", 1)[0]
            if prefix not in doc.dpv.prefixes:
                msg = f"prefix {prefix!r} is not declared in dpv.prefixes"
                out.append((("dpv", name, key, "term"), msg))
        for key in wanted:
            if key not in terms:
                out.append((("dpv", name), f"no DPV term for catalogue {kind} {key!r}"))


def _dotted(loc: Loc) -> str:
    text = ""
    for p in loc:
        text += f"[{p}]" if isinstance(p, int) else (f".{p}" if text else str(p))
    return text
