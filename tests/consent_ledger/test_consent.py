"""The consent state machine (pure)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consent_ledger import consent as sm
from consent_ledger.catalogue import load_catalogue
from consent_ledger.consent import ConsentEvent
from consent_ledger.errors import ConsentConflict, ConsentNotFound, InvalidRequest, UnknownName

CAT = load_catalogue()
NOW = datetime(2026, 3, 1, tzinfo=UTC)


def _granted(level: int = 2, purposes: tuple[str, ...] = ("kyc", "marketing")) -> sm.Consent:
    after = sm.grant(CAT, None, "c_1", level, purposes, NOW).after
    assert after is not None
    return after


def test_grant_creates_a_consent() -> None:
    """A first grant yields a consent with the level, purposes and expiry asked for."""
    exp = NOW + timedelta(days=30)
    t = sm.grant(CAT, None, "c_1", 3, ["kyc", "suitability"], NOW, exp)
    assert t.event is ConsentEvent.GRANTED
    assert t.after == sm.Consent("c_1", 3, frozenset({"kyc", "suitability"}), NOW, exp)
    assert t.ledger_body()["to"]["level"] == 3


def test_grant_twice_is_a_conflict() -> None:
    """An active consent must be changed, not granted again."""
    with pytest.raises(ConsentConflict):
        sm.grant(CAT, _granted(), "c_1", 1, ["kyc"], NOW)


def test_grant_after_expiry_is_allowed() -> None:
    """Once a consent has lapsed the client can grant afresh."""
    old = sm.Consent("c_1", 2, frozenset({"kyc"}), NOW - timedelta(days=9), NOW - timedelta(days=1))
    assert sm.grant(CAT, old, "c_1", 1, ["kyc"], NOW).event is ConsentEvent.GRANTED


@pytest.mark.parametrize(
    ("level", "purposes", "expires", "error"),
    [
        (0, ["kyc"], None, UnknownName),
        (5, ["kyc"], None, UnknownName),
        (1, ["gambling"], None, UnknownName),
        (1, [], None, InvalidRequest),
        (1, ["kyc"], NOW - timedelta(seconds=1), InvalidRequest),
        (1, ["kyc"], NOW, InvalidRequest),
        (1, ["kyc"], datetime(2027, 1, 1), InvalidRequest),
    ],
)
def test_grant_refuses_bad_input(
    level: int, purposes: list[str], expires: datetime | None, error: type[Exception]
) -> None:
    """Invalid level, unknown purpose, no purpose, past or naive expiry: each a clear error."""
    with pytest.raises(error):
        sm.grant(CAT, None, "c_1", level, purposes, NOW, expires)


def test_upgrade_and_downgrade() -> None:
    """Changing level up is an upgrade, down a downgrade; purposes carry over."""
    c = _granted(2)
    up = sm.change_level(CAT, c, 4, NOW)
    assert up.event is ConsentEvent.UPGRADED and up.after is not None and up.after.level == 4
    down = sm.change_level(CAT, up.after, 1, NOW)
    assert down.event is ConsentEvent.DOWNGRADED
    assert down.after is not None and down.after.purposes == c.purposes


def test_change_to_same_level_or_without_consent_fails() -> None:
    """A no-op change is a conflict; changing nothing that exists is not found."""
    with pytest.raises(ConsentConflict):
        sm.change_level(CAT, _granted(2), 2, NOW)
    with pytest.raises(ConsentNotFound):
        sm.change_level(CAT, None, 2, NOW)


def test_revoke_one_purpose_then_all() -> None:
    """Revoking marketing keeps the rest; revoking the last purpose ends the consent."""
    c = _granted(2, ("kyc", "marketing"))
    t = sm.revoke(CAT, c, NOW, ["marketing"])
    assert t.event is ConsentEvent.PURPOSES_CHANGED
    assert t.after is not None and t.after.purposes == {"kyc"}
    last = sm.revoke(CAT, t.after, NOW, ["kyc"])
    assert last.event is ConsentEvent.REVOKED and last.after is None


def test_revoke_missing_consent_or_purpose_fails() -> None:
    """Revoking what does not exist is an error, never a silent success."""
    with pytest.raises(ConsentNotFound):
        sm.revoke(CAT, None, NOW)
    with pytest.raises(ConsentNotFound):
        sm.revoke(CAT, _granted(2, ("kyc",)), NOW, ["marketing"])
    with pytest.raises(UnknownName):
        sm.revoke(CAT, _granted(), NOW, ["nonsense"])


def test_expired_consent_covers_nothing() -> None:
    """Expiry is checked at the moment of use, with no background job."""
    c = sm.Consent("c_1", 4, frozenset({"kyc"}), NOW, NOW + timedelta(hours=1))
    assert c.covers(4, "kyc", NOW)
    assert not c.covers(4, "kyc", NOW + timedelta(hours=1))
    assert sm.expire(c, NOW) is None
    lapsed = sm.expire(c, NOW + timedelta(hours=2))
    assert lapsed is not None and lapsed.event is ConsentEvent.EXPIRED


@given(
    level=st.integers(1, 4),
    asked=st.integers(1, 4),
    purpose=st.sampled_from(sorted(CAT.purpose_map)),
)
def test_a_level_includes_the_levels_below(level: int, asked: int, purpose: str) -> None:
    """Level L covers exactly the levels up to L, for the purposes granted."""
    c = sm.Consent("c_1", level, frozenset({purpose}), NOW, None)
    assert c.covers(asked, purpose, NOW) == (asked <= level)


def test_renew_sets_a_new_term_and_keeps_the_rest() -> None:
    """Renewal keeps level and purposes, restarts the grant time, and refuses a no-op."""
    c = sm.Consent("c_1", 3, frozenset({"kyc"}), NOW - timedelta(days=30), NOW + timedelta(days=1))
    t = sm.renew(c, NOW, NOW + timedelta(days=365))
    assert t.event is ConsentEvent.RENEWED
    assert t.after == sm.Consent("c_1", 3, frozenset({"kyc"}), NOW, NOW + timedelta(days=365))
    assert sm.renew(c, NOW, None).after is not None
    with pytest.raises(ConsentConflict):
        sm.renew(c, NOW, c.expires_at)
    with pytest.raises(InvalidRequest):
        sm.renew(c, NOW, NOW - timedelta(seconds=1))
    with pytest.raises(ConsentNotFound):
        sm.renew(None, NOW, None)
