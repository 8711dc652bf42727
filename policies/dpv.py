"""Export the policy in W3C Data Privacy Vocabulary terms, as JSON-LD.

Each catalogue category and purpose is linked to its DPV concept with ``skos:exactMatch``
or, where DPV has no exact term, ``skos:broadMatch`` (the policy file says why). Each permit
becomes a ``dpv:PersonalDataProcess`` with consent as its legal basis.
"""

from __future__ import annotations

from typing import Any

from consent_ledger.catalogue import Catalogue
from policies.compiled import covers
from policies.model import DpvTerm, Policy

__all__ = ["dpv_export"]

_SKOS = "http://www.w3.org/2004/02/skos/core#"


def dpv_export(policy: Policy, catalogue: Catalogue) -> dict[str, Any]:
    """A JSON-LD document (a plain dict, ready for ``json.dumps``) describing the policy."""
    doc = policy.document
    context: dict[str, str] = {**doc.dpv.prefixes, "skos": _SKOS, "custos": "urn:custos:"}
    graph: list[dict[str, Any]] = []
    for key, term in doc.dpv.categories.items():
        node = _concept(f"custos:category/{key}", key, term)
        node["custos:level"] = catalogue.category(key).level
        graph.append(node)
    graph += [_concept(f"custos:purpose/{k}", k, t) for k, t in doc.dpv.purposes.items()]
    for dept, ddef in doc.departments.items():
        for permit in ddef.permits:
            covered = [
                c.key
                for c in catalogue.categories
                if any(covers(k, c.key) for k in permit.categories)
            ]
            graph.append(
                {
                    "@id": f"custos:rule/{permit.id}",
                    "@type": "dpv:PersonalDataProcess",
                    "custos:department": dept,
                    "dpv:hasPurpose": [{"@id": f"custos:purpose/{p}"} for p in permit.purposes],
                    "dpv:hasPersonalData": [{"@id": f"custos:category/{k}"} for k in covered],
                    "dpv:hasLegalBasis": {"@id": "dpv:Consent"},
                    "skos:note": permit.why,
                }
            )
    return {
        "@context": context,
        "@id": f"custos:policy/{policy.version}",
        "custos:label": policy.label,
        "custos:version": policy.version,
        "@graph": graph,
    }


def _concept(node_id: str, key: str, term: DpvTerm) -> dict[str, Any]:
    relation = "skos:exactMatch" if term.match == "exact" else "skos:broadMatch"
    node: dict[str, Any] = {"@id": node_id, "skos:notation": key, relation: {"@id": term.term}}
    if term.note is not None:
        node["skos:note"] = term.note
    return node
