"""Settings of the consent ledger, from ``CUSTOS_*`` environment variables.

Built by :func:`ledger_settings`, never at import time, so tests and the CLI can pass their own.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = ["DEFAULT_DATABASE_URL", "LedgerSettings", "ledger_settings"]

DEFAULT_DATABASE_URL = "sqlite:///./custos.db"


class LedgerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CUSTOS_", extra="ignore")

    database_url: str = DEFAULT_DATABASE_URL
    # Key files (master key, checkpoint signing key) live here, outside the database, so a
    # copy of the database alone can neither decrypt the vault nor forge checkpoints.
    data_dir: Path = Path(".custos")
    ledger_origin: str = Field(default="custos.local/ledger", pattern=r"^[^\s+]+$")

    @field_validator("database_url")
    @classmethod
    def _plain_path_is_sqlite(cls, value: str) -> str:
        # A plain path (what the documented default "./custos.db" invites: --db custos.db,
        # CUSTOS_DATABASE_URL=/srv/custos.db) names a SQLite file; only a URL has a scheme.
        if "://" in value:
            return value
        return f"sqlite:///{Path(value).expanduser()}" if value else value

    @property
    def master_key_path(self) -> Path:
        return self.data_dir / "master.key"

    @property
    def signing_key_path(self) -> Path:
        return self.data_dir / "ledger-signing.key"


def ledger_settings(**overrides: object) -> LedgerSettings:
    """Settings from the environment, with explicit overrides (``None`` means keep)."""
    given = {k: v for k, v in overrides.items() if v is not None}
    return LedgerSettings(**given)  # type: ignore[arg-type]
