"""The policy package's exceptions, each with a stable machine-readable ``code``.

``api/`` maps the codes to HTTP problem responses in one place; every code is listed in
policies/README.md (a test checks it). Messages name what is wrong and never carry a
personal value.
"""

from __future__ import annotations

from consent_ledger.errors import CustosError

__all__ = [
    "InvalidDecisionRequest",
    "PolicyError",
    "PolicyInvalid",
    "UnknownCategory",
    "UnknownDepartment",
    "UnknownPurpose",
]


class PolicyError(CustosError):
    """Base of the policy package's errors."""

    code = "policy_error"


class PolicyInvalid(PolicyError):
    """The policy file is unreadable, malformed or contradicts the catalogue.

    ``problems`` holds one ``FILE:LINE:COL: what is wrong`` line per problem found.
    """

    code = "policy_invalid"

    def __init__(self, problems: tuple[str, ...]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


class UnknownDepartment(PolicyError):
    """A decision request names a department the policy does not define."""

    code = "unknown_department"


class UnknownPurpose(PolicyError):
    """A decision request names a purpose the catalogue does not define."""

    code = "unknown_purpose"


class UnknownCategory(PolicyError):
    """A decision request names a category that is not a catalogue category."""

    code = "unknown_category"


class InvalidDecisionRequest(PolicyError):
    """A decision request is malformed: a naive clock, no categories, another client's consent."""

    code = "invalid_decision_request"
