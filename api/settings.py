"""API settings (``CUSTOS_API_*``), assembled with the ledger's own settings."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from consent_ledger.settings import LedgerSettings, ledger_settings

__all__ = ["ApiSettings", "api_settings"]

_DEV_SESSION_SECRET = "development-only-session-secret-change-me"  # noqa: S105 - refused outside development


class ApiSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOS_API_", extra="ignore")

    environment: str = Field(default="development", pattern=r"^(development|production)$")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    session_secret: str = _DEV_SESSION_SECRET
    policy_path: Path = Path(__file__).resolve().parent.parent / "policies" / "firm.yaml"
    decision_ttl_seconds: int = Field(default=300, ge=1)
    checkpoint_interval_seconds: float = Field(default=2.0, gt=0)
    sign_in_attempts_per_minute: int = Field(default=5, ge=1)
    # A full decision batch (500 items of 32 categories) is well under the default.
    max_body_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # Comma-separated addresses (or CIDR ranges) of reverse proxies whose X-Forwarded-For
    # and X-Forwarded-Proto are believed. Empty: none, the peer address is the client's.
    trusted_proxies: str = ""
    # Serve /docs, /redoc and /openapi.json (from the package's own assets, no CDN).
    docs: bool = True
    ledger: LedgerSettings = Field(default_factory=ledger_settings)

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @model_validator(mode="after")
    def _no_default_secrets_in_production(self) -> ApiSettings:
        if self.environment == "production" and self.session_secret == _DEV_SESSION_SECRET:
            raise ValueError("set CUSTOS_API_SESSION_SECRET: the default is for development only")
        return self


def api_settings(**overrides: object) -> ApiSettings:
    given = {k: v for k, v in overrides.items() if v is not None}
    return ApiSettings(**given)  # type: ignore[arg-type]
