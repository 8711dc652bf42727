"""The data catalogue: levels, categories and purposes, read from ``policies/catalogue.yaml``."""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from consent_ledger.errors import CatalogueError, UnknownName

__all__ = [
    "DEFAULT_CATALOGUE_PATH",
    "Catalogue",
    "CategoryDef",
    "LevelDef",
    "PurposeDef",
    "load_catalogue",
]

DEFAULT_CATALOGUE_PATH = Path(__file__).resolve().parent.parent / "policies" / "catalogue.yaml"

_MIN_LEVEL, _MAX_LEVEL = 1, 4


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Text(_Frozen):
    en: str
    zh: str


class LevelDef(_Frozen):
    level: int = Field(ge=_MIN_LEVEL, le=_MAX_LEVEL)
    key: str
    name: Text
    description: Text


class CategoryDef(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    level: int = Field(ge=_MIN_LEVEL, le=_MAX_LEVEL)
    name: Text


class PurposeDef(_Frozen):
    key: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    name: Text
    description: Text
    separate_opt_in: bool = False
    max_level: int | None = Field(default=None, ge=_MIN_LEVEL, le=_MAX_LEVEL)


class Catalogue(_Frozen):
    version: int
    levels: tuple[LevelDef, ...]
    categories: tuple[CategoryDef, ...]
    purposes: tuple[PurposeDef, ...]

    @field_validator("levels")
    @classmethod
    def _levels_complete(cls, levels: tuple[LevelDef, ...]) -> tuple[LevelDef, ...]:
        if sorted(lv.level for lv in levels) != list(range(_MIN_LEVEL, _MAX_LEVEL + 1)):
            raise ValueError("levels must define each of 1, 2, 3, 4 exactly once")
        return levels

    @model_validator(mode="after")
    def _unique_keys(self) -> Catalogue:
        for kind, keys in (
            ("category", [c.key for c in self.categories]),
            ("purpose", [p.key for p in self.purposes]),
        ):
            seen: set[str] = set()
            for key in keys:
                if key in seen:
                    raise ValueError(f"{kind} {key!r} is defined twice")
                seen.add(key)
        for cat in self.categories:
            parent = self._parent_of(cat.key)
            if parent is not None and parent.level > cat.level:
                raise ValueError(
                    f"category {cat.key!r} (level {cat.level}) sits under {parent.key!r} "
                    f"(level {parent.level}); a child cannot need less than its parent"
                )
        return self

    def _parent_of(self, key: str) -> CategoryDef | None:
        parts = key.split(".")
        for n in range(len(parts) - 1, 0, -1):
            found = self.category_map.get(".".join(parts[:n]))
            if found is not None:
                return found
        return None

    @cached_property
    def category_map(self) -> Mapping[str, CategoryDef]:
        return {c.key: c for c in self.categories}

    @cached_property
    def purpose_map(self) -> Mapping[str, PurposeDef]:
        return {p.key: p for p in self.purposes}

    def level(self, value: int) -> LevelDef:
        for lv in self.levels:
            if lv.level == value:
                return lv
        raise UnknownName(
            f"level {value} does not exist; levels are {_MIN_LEVEL} to {_MAX_LEVEL}",
            field="level",
        )

    def category(self, key: str) -> CategoryDef:
        found = self.category_map.get(key)
        if found is None:
            raise UnknownName(f"category {key!r} is not in the catalogue", field="category")
        return found

    def purpose(self, key: str) -> PurposeDef:
        found = self.purpose_map.get(key)
        if found is None:
            known = ", ".join(sorted(self.purpose_map))
            raise UnknownName(f"purpose {key!r} is not one of: {known}", field="purpose")
        return found

    def categories_up_to(self, level: int) -> tuple[CategoryDef, ...]:
        return tuple(c for c in self.categories if c.level <= level)


def load_catalogue(path: Path = DEFAULT_CATALOGUE_PATH) -> Catalogue:
    """Read and validate the catalogue; errors name the file and the offending entry."""
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogueError(f"{path}: cannot read catalogue: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise CatalogueError(f"{path}: not valid YAML: {exc}") from exc
    try:
        return Catalogue.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise CatalogueError(f"{path}: {where}: {first['msg']}") from exc
