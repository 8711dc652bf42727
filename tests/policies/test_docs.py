"""policies/README.md documents every reason code, obligation and error code."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies import errors
from policies.decision import ObligationKind, ReasonCode

README = (Path(__file__).resolve().parents[2] / "policies" / "README.md").read_text(
    encoding="utf-8"
)
ERROR_CODES = sorted(
    cls.code
    for cls in vars(errors).values()
    if isinstance(cls, type) and issubclass(cls, errors.PolicyError)
)


@pytest.mark.parametrize(
    "name",
    [c.value for c in ReasonCode] + [o.value for o in ObligationKind] + ERROR_CODES,
)
def test_every_code_is_documented(name: str) -> None:
    """Each reason code, obligation name and error code has a row in a README table."""
    assert f"| `{name}` |" in README


def test_error_codes_are_distinct() -> None:
    """No two policy errors share a code, so the API can map each to its own response."""
    assert len(ERROR_CODES) == len(set(ERROR_CODES)) == 11
