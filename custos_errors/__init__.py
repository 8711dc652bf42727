"""The one error base every Custos package raises from.

It lives in a package of its own, below every other, so that `privacy/`, `federated/` or
`policies/` can define their errors without importing the ledger. Each package keeps its own
small hierarchy of subclasses with stable ``code`` values; `api/problems.py` maps every code
to an HTTP problem in one place, and a test finds every subclass by walking the packages.
"""

from __future__ import annotations

__all__ = ["CustosError"]


class CustosError(Exception):
    """Base of every domain error; ``code`` is stable and documented.

    ``field`` names the request field at fault, where one is; messages name what is wrong
    and never carry a personal value.
    """

    code = "custos_error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
