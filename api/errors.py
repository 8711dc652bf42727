"""The API's own exceptions; problems.py maps their codes (and every other CustosError's)."""

from __future__ import annotations

from consent_ledger.errors import CustosError

__all__ = ["AccessDenied", "AccessRefused", "Forbidden", "Unauthenticated", "UnknownDecision"]


class Unauthenticated(CustosError):
    """No key, a malformed key, or an unknown or revoked one (never saying which)."""

    code = "unauthenticated"


class Forbidden(CustosError):
    """The caller is authenticated but its role may not use this endpoint."""

    code = "forbidden"


class UnknownDecision(CustosError):
    """No decision with that id was made for this app."""

    code = "unknown_decision"


class AccessRefused(CustosError):
    """A decision exists but does not cover what is being done with it."""

    code = "decision_not_usable"


class AccessDenied(CustosError):
    """The policy denied the access the request needed."""

    code = "access_denied"
