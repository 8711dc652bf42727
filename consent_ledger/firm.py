"""The firm's details (controller, contact, address, policy URL) that consent receipts
state, read from ``policies/firm_details.yaml`` with English and Chinese texts.

They are data, not code, so a firm deploying Custos (or a translator) edits one file; the
loader refuses a file where a text lacks a language, so no receipt is half-translated.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from consent_ledger.catalogue import Text
from consent_ledger.errors import CatalogueError

__all__ = ["DEFAULT_FIRM_DETAILS_PATH", "FirmDetails", "default_firm_details", "load_firm_details"]

DEFAULT_FIRM_DETAILS_PATH = (
    Path(__file__).resolve().parent.parent / "policies" / "firm_details.yaml"
)


class FirmDetails(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    controller: Text
    contact: Text
    address: Text
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    phone: str = Field(min_length=1)
    policy_url: Text
    service: Text
    collection_method: Text

    def controller_in(self, lang: str) -> dict[str, str]:
        """The receipt's ``piiControllers`` item in ``lang`` (en or zh)."""
        return {
            "piiController": self.text("controller", lang),
            "contact": self.text("contact", lang),
            "address": self.text("address", lang),
            "email": self.email,
            "phone": self.phone,
        }

    def text(self, name: str, lang: str) -> str:
        value: Text = getattr(self, name)
        return value.zh if lang == "zh" else value.en


def load_firm_details(path: Path = DEFAULT_FIRM_DETAILS_PATH) -> FirmDetails:
    """Read and check the file; a malformed one is refused with what is wrong in it."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
        return FirmDetails.model_validate(raw)
    except OSError as exc:
        raise CatalogueError(f"cannot read the firm details {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path} is not valid YAML: {exc}") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the file"
        raise CatalogueError(f"{path}: {where}: {first['msg']}") from None


@lru_cache(maxsize=1)
def default_firm_details() -> FirmDetails:
    """The installed file, read once per process."""
    return load_firm_details()
