"""``GET /v1/zk/parameters``: everything a verifier needs besides the envelope.

The commitment scheme's generators and domain-separation tag (anyone can recompute H from
them), the Bulletproofs vector generators with their tag and derivation
(``bulletproofs.public_parameters()``), the flow's protocol tag and context keys, the
attestation format, the provable attributes, and the desk's verification keys with the
time each was in force. An auditor saves this document once and checks any recorded proof
offline against it (``custos zk verify``, ``privacy.zk.offline``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from policies.attributes import Attributes
from policies.proof_requests import PROTOCOL
from privacy.zk import bulletproofs, pedersen
from privacy.zk.attestation import FORMAT, SCHEMA, SIGNING_TAG, DeskKey, b64url
from privacy.zk.service import CONTEXT_KEYS

__all__ = ["PARAMETERS_FORMAT", "parameters"]

PARAMETERS_FORMAT = "custos-zk-parameters"


def parameters(keys: Iterable[DeskKey], attributes: Attributes) -> dict[str, Any]:
    gens = pedersen.generators()
    return {
        "format": PARAMETERS_FORMAT,
        "version": 1,
        "curve": "BLS12-381 G1",
        "generators": {
            "g": b64url(gens.g),
            "h": b64url(gens.h),
            "dst": gens.dst.decode("ascii"),
            "h_message": gens.h_message.decode("ascii"),
        },
        "bulletproofs": bulletproofs.public_parameters(),
        "protocol": PROTOCOL,
        "context_keys": sorted(CONTEXT_KEYS),
        "attestation": {
            "format": FORMAT,
            "schema": SCHEMA,
            "signing_tag": SIGNING_TAG.decode("ascii"),
        },
        "attributes": [
            {
                "name": a.name,
                "category": a.category,
                "encoding": a.encoding,
                "bits": a.bits,
                "level": a.level,
            }
            for a in attributes.by_name.values()
        ],
        "desk_keys": [k.to_json() for k in keys],
    }
