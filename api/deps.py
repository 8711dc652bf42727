"""Request dependencies as ``Annotated`` aliases: the services and the authenticated caller."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.state import Services
from consent_ledger.errors import Forbidden, Unauthenticated
from consent_ledger.principals import Principal, Role

__all__ = [
    "AnalystCaller",
    "AppCaller",
    "AuditorCaller",
    "ClientCaller",
    "ServicesDep",
]

_bearer = HTTPBearer(auto_error=False, description="An app, auditor or client key: cus_<role>_…")


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_principal(
    request: Request,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is not None:
        return services.accounts.authenticate(credentials.credentials)
    if "authorization" in request.headers:
        # Basic, Digest, an empty Bearer: never a reason to fall back to the session cookie.
        raise Unauthenticated("the Authorization header is not 'Bearer <key>'")
    session = getattr(request.state, "session_principal", None)
    if isinstance(session, Principal):
        return session
    raise Unauthenticated("send an API key as 'Authorization: Bearer <key>'")


def _role(role: Role) -> object:
    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.role is not role:
            raise Forbidden(f"this endpoint is for {role.value}s, not {principal.role.value}s")
        return principal

    return Depends(check)


AppCaller = Annotated[Principal, _role(Role.APP)]
AuditorCaller = Annotated[Principal, _role(Role.AUDITOR)]
ClientCaller = Annotated[Principal, _role(Role.CLIENT)]
AnalystCaller = Annotated[Principal, _role(Role.ANALYST)]
