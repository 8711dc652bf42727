"""The compiled policy: what compile_policy resolves per cell, and the helpers it uses."""

from __future__ import annotations

import dataclasses

import pytest

from consent_ledger.catalogue import CategoryDef
from policies.compiled import covers, forbid_targets
from policies.decision import Context, Outcome, ReasonCode
from policies.model import Forbid
from tests.policies.support import CATALOGUE, COMPILED, NOW

_CATEGORIES = {c.key: c for c in CATALOGUE.categories}


def _category(key: str) -> CategoryDef:
    return _CATEGORIES[key]


@pytest.mark.parametrize(
    ("key", "category", "expected"),
    [
        ("user.name", "user.name", True),
        ("user", "user.name", True),
        ("user.financial", "user.financial.tax_records", True),
        ("user.fin", "user.financial.tax_records", False),  # a prefix, not a parent key
        ("user.financial.tax_records", "user.financial", False),
        ("user.contact", "user.name", False),
    ],
)
def test_a_key_covers_itself_and_what_is_beneath_it(
    key: str, category: str, expected: bool
) -> None:
    """A dotted key covers the same key and every key below it, never a mere text prefix."""
    assert covers(key, category) is expected


def _forbid(**conditions: object) -> Forbid:
    return Forbid.model_validate(
        {"id": "f", "code": "forbidden_by_policy", "why": "Because of a rule.", **conditions}
    )


@pytest.mark.parametrize(
    ("conditions", "department", "purpose", "category", "expected"),
    [
        ({"departments": ["research"]}, "research", "kyc", "user.name", True),
        ({"departments": ["research"]}, "advisory", "kyc", "user.name", False),
        ({"purposes": ["marketing"]}, "advisory", "marketing", "user.name", True),
        ({"purposes": ["marketing"]}, "advisory", "kyc", "user.name", False),
        ({"except_purposes": ["kyc"]}, "advisory", "kyc", "user.name", False),
        ({"except_purposes": ["kyc"]}, "advisory", "marketing", "user.name", True),
        ({"categories": ["user.financial"]}, "advisory", "kyc", "user.financial.liabilities", True),
        ({"categories": ["user.financial"]}, "advisory", "kyc", "user.name", False),
        ({"min_level": 2}, "advisory", "kyc", "user.financial.holdings_summary", True),  # level 2
        ({"min_level": 2}, "advisory", "kyc", "user.name", False),  # level 1
        ({"min_level": 4}, "advisory", "kyc", "user.financial.succession_wishes", False),  # 3
        # Every condition given must hold.
        ({"departments": ["research"], "purposes": ["kyc"]}, "research", "kyc", "user.name", True),
        (
            {"departments": ["research"], "purposes": ["kyc"]},
            "research",
            "marketing",
            "user.name",
            False,
        ),
        ({"purposes": ["kyc"], "min_level": 2}, "advisory", "kyc", "user.name", False),
        # Context-only conditions target every cell; they are checked per request.
        ({"access": "row"}, "advisory", "kyc", "user.name", True),
    ],
)
def test_a_forbid_targets_a_cell_when_every_condition_holds(
    conditions: dict[str, object], department: str, purpose: str, category: str, expected: bool
) -> None:
    """Each condition of a forbid narrows the cells it applies to; an absent one is any."""
    assert forbid_targets(_forbid(**conditions), department, purpose, _category(category)) is (
        expected
    )


def test_a_contextual_forbid_is_checked_per_request() -> None:
    """The research row-level forbid depends on the access mode, so its cell has no static
    decision; it fires on row access only."""
    cell = COMPILED.cells["research"]["research_analytics"]["user.financial.holdings_summary"]
    assert cell.static is None
    (forbid,) = cell.forbids
    assert forbid.contextual
    assert forbid.fires(Context(NOW, "row"))
    assert not forbid.fires(Context(NOW, "aggregate"))
    assert forbid.decision.reason_code is ReasonCode.FORBIDDEN_RESEARCH_ROW_LEVEL


def test_static_cells_hold_their_finished_decision() -> None:
    """A forbid without context conditions, or a missing permit, is decided at compile time;
    a permitted cell with no forbid is left to the consent."""
    tax = COMPILED.cells["advisory"]["marketing"]["user.financial.tax_records"]
    assert (
        tax.static is not None
        and tax.static.reason_code is ReasonCode.FORBIDDEN_TAX_RECORDS_KYC_ONLY
    )
    none = COMPILED.cells["compliance"]["marketing"]["user.name"]
    assert none.static is not None and none.static.outcome is Outcome.NOT_APPLICABLE
    assert (none.permit_id, none.in_scope) == (None, False)
    outside = COMPILED.cells["advisory"]["marketing"]["user.government_id"]
    assert outside.static is not None
    assert outside.static.reason_code is ReasonCode.CATEGORY_NOT_PERMITTED
    assert (outside.permit_id, outside.in_scope) == ("advisory-marketing", False)
    name = COMPILED.cells["advisory"]["marketing"]["user.name"]
    assert (name.static, name.structural, name.forbids) == (None, None, ())
    assert (name.permit_id, name.in_scope, name.level) == ("advisory-marketing", True, 1)
    assert name.allow.granted == ("user.name",)
    assert name.too_low.granted == ()


def test_the_compiled_policy_cannot_be_changed() -> None:
    """Cells, templates and the tables holding them are read-only: a decision can never be
    altered by mutating shared compiled state."""
    cell = COMPILED.cells["advisory"]["marketing"]["user.name"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.level = 4  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        cell.allow.text = "anything"  # type: ignore[misc]
    research = COMPILED.cells["research"]["research_analytics"]["user.financial.holdings_summary"]
    with pytest.raises(dataclasses.FrozenInstanceError):
        research.forbids[0].access = None  # type: ignore[misc]
    proof = COMPILED.cells["advisory"]["suitability"]["user.financial.assets_under_management"]
    assert proof.proof is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        proof.proof.rule_id = "x"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        COMPILED.policy = COMPILED.policy  # type: ignore[misc]
    with pytest.raises(TypeError):
        COMPILED.cells["advisory"]["marketing"]["user.name"] = cell  # type: ignore[index]
