"""The DPV export: every catalogue category and purpose mapped, in valid JSON-LD shape."""

from __future__ import annotations

import json
import re

from policies import dpv_export
from tests.policies.support import CATALOGUE, POLICY

EXPORT = dpv_export(POLICY, CATALOGUE)
NODES = {node["@id"]: node for node in EXPORT["@graph"]}


def test_every_category_and_purpose_has_a_dpv_concept() -> None:
    """Each catalogue category and purpose appears once, linked to a DPV term with a declared
    prefix, exactly or (with a note saying why) as the closest broader concept."""
    keys = [f"custos:category/{c.key}" for c in CATALOGUE.categories]
    keys += [f"custos:purpose/{p.key}" for p in CATALOGUE.purposes]
    for key in keys:
        node = NODES[key]
        (relation,) = {"skos:exactMatch", "skos:broadMatch"} & set(node)
        prefix = node[relation]["@id"].split(":", 1)[0]
        assert prefix in EXPORT["@context"]
        assert (relation == "skos:broadMatch") == ("skos:note" in node)


def test_permits_become_processes_with_consent_as_legal_basis() -> None:
    """Each permit is a dpv:PersonalDataProcess naming its purposes and the catalogue
    categories it covers (parent keys expanded), with consent as its legal basis."""
    node = NODES["custos:rule/risk-monitoring"]
    assert node["@type"] == "dpv:PersonalDataProcess"
    assert node["dpv:hasLegalBasis"] == {"@id": "dpv:Consent"}
    assert node["dpv:hasPurpose"] == [{"@id": "custos:purpose/risk_monitoring"}]
    covered = {ref["@id"] for ref in node["dpv:hasPersonalData"]}
    assert "custos:category/user.financial.tax_records" in covered
    assert "custos:category/user.contact.email" not in covered


def test_export_is_json_and_names_the_version() -> None:
    """The export serialises to JSON and carries the policy's content-hash version."""
    text = json.dumps(EXPORT)
    assert EXPORT["custos:version"] == POLICY.version
    assert re.fullmatch(r"custos:policy/[0-9a-f]{64}", EXPORT["@id"])
    assert json.loads(text) == EXPORT
