"""Who is calling: the kinds of principal the API knows."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["Principal", "Role"]


class Role(StrEnum):
    APP = "app"
    AUDITOR = "auditor"
    CLIENT = "client"
    ANALYST = "analyst"  # a research analyst: differentially private statistics only


@dataclass(frozen=True)
class Principal:
    account_id: str
    role: Role
    name: str
    department: str | None = None  # apps and analysts: the one department the key acts for
    client_id: str | None = None  # clients only: the one client the token speaks for
