"""The shape of a policy file (``policies/firm.yaml``), as strict pydantic models.

Unknown keys are errors, scalars are never coerced (``"2"`` is not a level, ``yes`` is not a
name) and every rule carries an ``id`` and a ``why``. Cross-references to the catalogue are
checked by the loader, which knows the catalogue and the line of every YAML node.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    StrictInt,
    StringConstraints,
    model_validator,
)

from policies.decision import (
    CONSENT_RULE_CODES,
    FORBID_CODES,
    Obligation,
    ObligationKind,
    ReasonCode,
)

__all__ = [
    "ConsentRule",
    "DepartmentDef",
    "DpvSection",
    "DpvTerm",
    "Forbid",
    "ObligationRule",
    "Permit",
    "Policy",
    "PolicyDocument",
    "PredicateSpec",
    "ProofRule",
]

Name = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*$")]
CategoryKey = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*$")
]
RuleId = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]*$", max_length=64)]
Text = Annotated[str, StringConstraints(strict=True, min_length=1)]
Curie = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9-]*:[A-Za-z][A-Za-z0-9]*$")
]
Iri = Annotated[str, StringConstraints(strict=True, pattern=r"^https://\S+[#/]$")]
Level = Annotated[StrictInt, Field(ge=1, le=4)]
Names = Annotated[tuple[Name, ...], Field(min_length=1)]
CategoryKeys = Annotated[tuple[CategoryKey, ...], Field(min_length=1)]


_POLICY_OBLIGATIONS = tuple(k for k in ObligationKind if k is not ObligationKind.REQUIRES_PROOF)


def _parse_obligation(raw: Any) -> Obligation:
    # requires_proof comes only from a `proofs` rule, in the stage that rule names; listed
    # here it would demand a proof everywhere without saying of what.
    if raw == ObligationKind.REQUIRES_PROOF.value:
        raise ValueError("requires_proof comes from a proofs rule, not an obligations rule")
    return Obligation.from_json(raw, _POLICY_OBLIGATIONS)


ObligationSpec = Annotated[
    Obligation,
    PlainValidator(_parse_obligation),
    PlainSerializer(lambda ob: ob.to_json(), return_type=Any),
]


def _code_in(allowed: frozenset[ReasonCode], what: str) -> Any:
    def parse(raw: Any) -> ReasonCode:
        if isinstance(raw, str) and raw in allowed:
            return ReasonCode(raw)
        known = ", ".join(sorted(allowed))
        raise ValueError(f"{raw!r} is not a {what} reason code; use one of {known}")

    return PlainValidator(parse)


_AS_TEXT = PlainSerializer(str, return_type=str)
ForbidCode = Annotated[ReasonCode, _code_in(FORBID_CODES, "forbid"), _AS_TEXT]
ConsentCode = Annotated[ReasonCode, _code_in(CONSENT_RULE_CODES, "consent rule"), _AS_TEXT]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Permit(_Strict):
    """The department may use these categories for these purposes, within the client's consent."""

    id: RuleId
    purposes: Names
    categories: CategoryKeys
    why: Text


class DepartmentDef(_Strict):
    description: Text
    permits: Annotated[tuple[Permit, ...], Field(min_length=1)]


class Forbid(_Strict):
    """Never, whatever the consent says, when every condition given holds (absent = any)."""

    id: RuleId
    code: ForbidCode
    why: Text
    departments: Names | None = None
    purposes: Names | None = None
    except_purposes: Names | None = None
    categories: CategoryKeys | None = None
    min_level: Level | None = None
    access: Literal["row", "aggregate"] | None = None
    stages: Names | None = None

    @model_validator(mode="after")
    def _conditions(self) -> Forbid:
        if self.purposes is not None and self.except_purposes is not None:
            raise ValueError("give purposes or except_purposes, not both")
        targets = (self.departments, self.purposes, self.except_purposes, self.categories)
        conditions = (self.min_level, self.access, self.stages)
        if all(t is None for t in targets + conditions):
            raise ValueError("a forbid with no condition would forbid everything")
        return self

    @property
    def contextual(self) -> bool:
        """True when the forbid depends on the request's context, not only on what is asked."""
        return self.access is not None or self.stages is not None


class ConsentRule(_Strict):
    """The purposes whose consent the regulation names explicitly, with the code to report."""

    id: RuleId
    purposes: Names
    code: ConsentCode
    why: Text


class PredicateSpec(_Strict):
    """The fact a proof rule asks for, over an attribute of ``attributes.yaml``: exactly one
    of these keys. ``age_at_least`` is over a date of birth, on the day the proof is asked."""

    equals: StrictInt | None = None
    one_of: Annotated[tuple[StrictInt, ...], Field(min_length=1, max_length=16)] | None = None
    at_least: StrictInt | None = None
    at_most: StrictInt | None = None
    between: tuple[StrictInt, StrictInt] | None = None
    age_at_least: Annotated[StrictInt, Field(ge=0, le=150)] | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> PredicateSpec:
        given = [k for k, v in self.model_dump().items() if v is not None]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of equals, one_of, at_least, at_most, between, age_at_least"
            )
        if self.between is not None and self.between[0] > self.between[1]:
            raise ValueError("between: the low bound is above the high bound")
        return self

    @property
    def kind(self) -> str:
        return next(k for k, v in self.model_dump().items() if v is not None)

    def bounds(self) -> tuple[int, ...]:
        """Every public number the predicate names (years for an age)."""
        raw = getattr(self, self.kind)
        return tuple(raw) if isinstance(raw, tuple) else (raw,)

    def describe(self, attribute: str) -> str:
        raw = getattr(self, self.kind)
        if self.kind == "between":
            return f"{attribute} between {raw[0]} and {raw[1]}"
        if self.kind == "one_of":
            return f"{attribute} one of {', '.join(map(str, raw))}"
        if self.kind == "age_at_least":
            return f"age at least {raw} (from {attribute})"
        return f"{attribute} {self.kind.replace('_', ' ')} {raw}"


class ProofRule(_Strict):
    """In these stages the app gets the fact from a ZK proof, never the raw value: the
    predicate over the attribute, proved to the department for this request only."""

    id: RuleId
    departments: Names | None = None
    purposes: Names
    categories: CategoryKeys
    stages: Names
    attribute: Name
    predicate: PredicateSpec
    why: Text


class ObligationRule(_Strict):
    id: RuleId
    departments: Names | None = None
    purposes: Names | None = None
    categories: CategoryKeys | None = None
    add: Annotated[tuple[ObligationSpec, ...], Field(min_length=1)]
    why: Text


class DpvTerm(_Strict):
    term: Curie
    match: Literal["exact", "broad"]
    note: Text | None = None

    @model_validator(mode="after")
    def _broad_says_why(self) -> DpvTerm:
        if self.match == "broad" and self.note is None:
            raise ValueError("a broad match needs a note saying why no exact term fits")
        return self


class DpvSection(_Strict):
    prefixes: dict[Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]*$")], Iri]
    categories: dict[CategoryKey, DpvTerm]
    purposes: dict[Name, DpvTerm]


class PolicyDocument(_Strict):
    """The whole policy file."""

    version: Text
    description: Text
    departments: Annotated[dict[Name, DepartmentDef], Field(min_length=1)]
    forbids: tuple[Forbid, ...] = ()
    consent_rules: tuple[ConsentRule, ...] = ()
    proofs: tuple[ProofRule, ...] = ()
    obligations: tuple[ObligationRule, ...] = ()
    dpv: DpvSection


@dataclass(frozen=True)
class Policy:
    """A validated policy. ``version`` is the sha256 of its canonical content, so two files
    that say the same thing (whatever their layout, comments or key order) share a version,
    and any change to what they say yields a new one; ``label`` is the file's own name for it.
    """

    document: PolicyDocument
    content_hash: str
    source: str

    @classmethod
    def from_document(cls, document: PolicyDocument, source: str) -> Policy:
        return cls(document, content_hash(document), source)

    @property
    def version(self) -> str:
        return self.content_hash

    @property
    def label(self) -> str:
        return self.document.version


def content_hash(document: PolicyDocument) -> str:
    """sha256 hex of the canonical JSON: sorted keys, no spaces, UTF-8, defaults left out
    (an absent optional key and its default are the same content)."""
    content = document.model_dump(mode="json", exclude_defaults=True)
    canonical = json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
