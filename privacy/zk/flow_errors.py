"""Errors of the zero-knowledge flow (attestation, proving on a client's behalf, verifying).

Each is a CustosError with a stable code (api/problems.py maps it to HTTP; api/README.md
documents it). Messages name what is wrong and never carry a value or an opening.
"""

from __future__ import annotations

from custos_errors import CustosError

__all__ = [
    "AttestationInvalid",
    "AttestationMissing",
    "ConsentNotCovering",
    "ZkFlowError",
]


class ZkFlowError(CustosError):
    """Base of the flow's errors."""

    code = "zk_flow_error"


class AttestationInvalid(ZkFlowError):
    """An attestation document (or a parameters file) is malformed."""

    code = "attestation_invalid"


class AttestationMissing(ZkFlowError):
    """The desk holds no current attestation, or no opening, for the client's attribute
    (never attested, the value never collected, or the client erased)."""

    code = "attestation_missing"


class ConsentNotCovering(ZkFlowError):
    """The client's consent does not cover the proof asked for (its purpose, or the
    attribute's level): no proof is produced on their behalf."""

    code = "consent_not_covering"
