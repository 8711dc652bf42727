"""The consent ledger's exceptions, each with a stable machine-readable ``code``.

The API maps codes to HTTP problem responses in one place; the CLI prints the message
and exits non-zero. Messages name what is wrong and never carry a personal value.
"""

from __future__ import annotations

from custos_errors import CustosError

__all__ = [
    "CatalogueError",
    "ConsentConflict",
    "ConsentNotFound",
    "Forbidden",
    "InvalidRequest",
    "LedgerCorrupt",
    "NotACustosDatabase",
    "Unauthenticated",
    "UnknownClient",
    "UnknownName",
    "VaultError",
]


class InvalidRequest(CustosError):
    """A value is outside what the domain allows (a level of 7, an expiry in the past)."""

    code = "invalid_request"


class UnknownName(CustosError):
    """A level, category or purpose that the catalogue does not define."""

    code = "unknown_name"


class UnknownClient(CustosError):
    """No client with that pseudonymous id (or the client has been erased)."""

    code = "unknown_client"


class ConsentNotFound(CustosError):
    """The operation needs an active consent and there is none."""

    code = "consent_not_found"


class ConsentConflict(CustosError):
    """The operation does not fit the current consent (granting twice, upgrading down)."""

    code = "consent_conflict"


class CatalogueError(CustosError):
    """The catalogue file under policies/ is malformed."""

    code = "catalogue_invalid"


class NotACustosDatabase(CustosError):
    """The database holds other tables but not Custos' schema marker."""

    code = "not_a_custos_database"


class LedgerCorrupt(CustosError):
    """Stored ledger state contradicts itself (found while appending or proving)."""

    code = "ledger_corrupt"


class VaultError(CustosError):
    """A personal value cannot be stored or read (erased client, bad key)."""

    code = "vault_error"


class Unauthenticated(CustosError):
    """No key, a malformed key, or an unknown or revoked one (never saying which)."""

    code = "unauthenticated"


class Forbidden(CustosError):
    """The caller is authenticated but its role may not use this endpoint."""

    code = "forbidden"
