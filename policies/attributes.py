"""The provable attributes (``policies/attributes.yaml``): what the KYC desk commits to.

Each attribute names a catalogue category, how its stored value becomes the integer
committed to (``encoding``), and the bit width of every range proof over it. Its level is
the category's level in the catalogue, so a consent that does not reach that level never
lets a proof about it be produced. Problems are reported as ``FILE:LINE:COL: what``, like
the policy file's (``policies.loader``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StringConstraints

from consent_ledger.catalogue import Catalogue
from policies.errors import PolicyInvalid
from policies.loader import read_file, validate_yaml

__all__ = [
    "DEFAULT_ATTRIBUTES_PATH",
    "MAX_BITS",
    "AttributeDef",
    "Attributes",
    "default_attributes",
    "encode",
    "load_attributes",
    "parse_attributes",
]

DEFAULT_ATTRIBUTES_PATH = Path(__file__).resolve().parent / "attributes.yaml"
# The widest range proof privacy/zk produces.
MAX_BITS = 40
_EPOCH = date(1970, 1, 1)
Encoding = Literal["integer", "questionnaire_sum", "days_since_epoch"]


class _AttributeSpec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    category: Annotated[
        str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
    ]
    encoding: Encoding
    bits: Annotated[StrictInt, Field(ge=1, le=MAX_BITS)]


class _AttributesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: Literal[1]
    attributes: Annotated[
        dict[
            Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]{0,63}$")],
            _AttributeSpec,
        ],
        Field(min_length=1),
    ]


@dataclass(frozen=True, slots=True)
class AttributeDef:
    name: str
    category: str
    encoding: Encoding
    bits: int
    level: int

    @property
    def low(self) -> int:
        """The smallest encoded value a commitment may hold."""
        return -(1 << (self.bits - 1)) if self.encoding == "days_since_epoch" else 0

    @property
    def high(self) -> int:
        """The largest encoded value a commitment may hold."""
        if self.encoding == "days_since_epoch":
            return (1 << (self.bits - 1)) - 1
        return (1 << self.bits) - 1


@dataclass(frozen=True)
class Attributes:
    by_name: Mapping[str, AttributeDef]
    source: str

    def get(self, name: str) -> AttributeDef | None:
        return self.by_name.get(name)

    def of_category(self, category: str) -> tuple[AttributeDef, ...]:
        return tuple(a for a in self.by_name.values() if a.category == category)


def load_attributes(path: Path, catalogue: Catalogue) -> Attributes:
    """Load and check ``path``; raises ``PolicyInvalid`` listing every problem with its line."""
    return parse_attributes(read_file(path, "attributes file"), str(path), catalogue)


def parse_attributes(text: str, source: str, catalogue: Catalogue) -> Attributes:
    doc, where = validate_yaml(text, source, _AttributesFile)
    problems: list[str] = []
    found: dict[str, AttributeDef] = {}
    categories = {c.key: c for c in catalogue.categories}
    for name, spec in doc.attributes.items():
        cat = categories.get(spec.category)
        if cat is None:
            msg = f"category {spec.category!r} is not a catalogue category"
            problems.append(where.problem(("attributes", name, "category"), msg))
            continue
        found[name] = AttributeDef(name, spec.category, spec.encoding, spec.bits, cat.level)
    if problems:
        raise PolicyInvalid(where.ordered(problems))
    return Attributes(MappingProxyType(found), source)


@lru_cache(maxsize=8)
def default_attributes(catalogue: Catalogue) -> Attributes:
    """``attributes.yaml`` beside this module, checked against ``catalogue``."""
    return load_attributes(DEFAULT_ATTRIBUTES_PATH, catalogue)


def encode(attr: AttributeDef, value: Any) -> int:
    """The integer committed to for a stored value. ValueError says what is wrong with it,
    never what it is (the message may reach a log)."""
    if attr.encoding == "integer":
        if type(value) is not int:
            raise ValueError(f"{attr.name}: the stored value is not a whole number")
        encoded = value
    elif attr.encoding == "questionnaire_sum":
        if not (isinstance(value, list) and value and all(type(a) is int for a in value)):
            raise ValueError(f"{attr.name}: the stored answers are not a list of whole numbers")
        encoded = sum(value)
    else:
        if not isinstance(value, str):
            raise ValueError(f"{attr.name}: the stored value is not an ISO date")
        try:
            encoded = (date.fromisoformat(value) - _EPOCH).days
        except ValueError:
            raise ValueError(f"{attr.name}: the stored value is not an ISO date") from None
    if not attr.low <= encoded <= attr.high:
        raise ValueError(
            f"{attr.name}: the stored value is outside the attribute's {attr.bits} bits"
        )
    return encoded
