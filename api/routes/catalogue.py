"""The public catalogue: levels, categories and purposes in plain words."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from api.deps import ServicesDep

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/catalogue")
def catalogue(services: ServicesDep) -> dict[str, Any]:
    """What each authorization level includes and what each purpose means (en, zh)."""
    return services.custos.catalogue.model_dump(mode="json")
