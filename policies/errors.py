"""The policy package's exceptions, each with a stable machine-readable ``code``.

``api/`` maps the codes to HTTP problem responses in one place; every code is listed in
policies/README.md (a test checks it). Messages name what is wrong and never carry a
personal value.
"""

from __future__ import annotations

from custos_errors import CustosError

__all__ = [
    "AccessDenied",
    "ConsentWithdrawn",
    "DecisionNotUsable",
    "InvalidDecisionRequest",
    "ObligationForbids",
    "PolicyError",
    "PolicyInvalid",
    "UnknownCategory",
    "UnknownDecision",
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


class UnknownDecision(PolicyError):
    """No decision with that id was made for this app."""

    code = "unknown_decision"


class DecisionNotUsable(PolicyError):
    """A decision exists but does not cover what is being done with it."""

    code = "decision_not_usable"


class AccessDenied(PolicyError):
    """The policy denied the access the request needed."""

    code = "access_denied"


class ConsentWithdrawn(PolicyError):
    """An allow is being acted on after the client withdrew, narrowed or let lapse the
    consent it rested on, or was erased: the consent of the moment decides, not the one the
    decision saw."""

    code = "consent_withdrawn"


class ObligationForbids(PolicyError):
    """An obligation of the allow rules out what is being done with it (``aggregate_only``
    read as a row, say); ``obligation`` names it."""

    code = "obligation_forbids"

    def __init__(self, message: str, *, obligation: str, field: str | None = None) -> None:
        super().__init__(message, field=field)
        self.obligation = obligation
