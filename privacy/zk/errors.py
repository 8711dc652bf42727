"""Errors of the zero-knowledge core.

Each is a CustosError with a stable code that api/problems.py maps to an HTTP problem.
Messages name what is wrong and never carry a committed value or an opening.
"""

from __future__ import annotations

from custos_errors import CustosError

__all__ = [
    "BackendUnavailable",
    "InvalidEnvelope",
    "InvalidStatement",
    "PredicateFalse",
    "WorkCapExceeded",
    "ZkError",
]


class ZkError(CustosError):
    """Base of the zero-knowledge core's errors."""

    code = "zk_error"


class PredicateFalse(ZkError):
    """The witness does not open its commitment, or its value does not satisfy the
    predicate (or does not fit the claim's bit width): no proof can be produced."""

    code = "predicate_false"


class InvalidStatement(ZkError):
    """A claim or predicate is malformed: an unknown predicate, a bit width outside
    1..40, parameters outside what the scheme can prove, claims and witnesses that do
    not pair up."""

    code = "zk_invalid_statement"


class InvalidEnvelope(ZkError):
    """A proof envelope (or a point or scalar inside it) is not well formed.

    ``verify`` turns this into an invalid verdict; parsers raise it so that the reason
    names the member at fault."""

    code = "zk_invalid_envelope"


class WorkCapExceeded(InvalidEnvelope):
    """An envelope asks for more verification work than the caps allow (caps.py): refused
    before any curve arithmetic. Its code stays ``zk_invalid_envelope``: to a caller it is
    an envelope the verifier does not take."""


class BackendUnavailable(ZkError):
    """The requested curve backend is unknown or not installed."""

    code = "zk_backend_unavailable"
