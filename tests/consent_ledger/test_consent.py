"""The consent state machine (pure)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
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


@settings(deadline=None)  # a pure check: timing on a loaded machine must not fail it
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
    until_withdrawn = sm.renew(c, NOW, None)
    assert until_withdrawn.after == sm.Consent("c_1", 3, frozenset({"kyc"}), NOW, None)
    assert until_withdrawn.ledger_body()["to"]["expires_at"] is None
    with pytest.raises(ConsentConflict):
        sm.renew(c, NOW, c.expires_at)
    with pytest.raises(InvalidRequest):
        sm.renew(c, NOW, NOW - timedelta(seconds=1))
    with pytest.raises(ConsentNotFound):
        sm.renew(None, NOW, None)


EXPIRED = sm.Consent(
    "c_1", 3, frozenset({"kyc", "marketing"}), NOW - timedelta(days=9), NOW - timedelta(days=1)
)
AT_EXPIRY = sm.Consent("c_1", 3, frozenset({"kyc", "marketing"}), NOW - timedelta(days=9), NOW)


@pytest.mark.parametrize("lapsed", [EXPIRED, AT_EXPIRY], ids=["expired", "expiring-now"])
def test_an_expired_consent_cannot_be_changed(lapsed: sm.Consent) -> None:
    """A consent whose expiry is at or before now is gone: upgrading, downgrading, renewing,
    changing purposes or revoking it is ConsentNotFound, never a transition."""
    changes: list[Callable[[], object]] = [
        lambda: sm.change_level(CAT, lapsed, 4, NOW),
        lambda: sm.change_level(CAT, lapsed, 1, NOW),
        lambda: sm.renew(lapsed, NOW, NOW + timedelta(days=30)),
        lambda: sm.renew(lapsed, NOW, None),
        lambda: sm.set_purposes(CAT, lapsed, ["kyc"], NOW),
        lambda: sm.set_purposes(CAT, lapsed, [], NOW),
        lambda: sm.revoke(CAT, lapsed, NOW),
        lambda: sm.revoke(CAT, lapsed, NOW, ["marketing"]),
    ]
    for change in changes:
        with pytest.raises(ConsentNotFound, match=r"^the client has no active consent$"):
            change()
    # The same consent a moment before it lapses can still be changed.
    assert lapsed.expires_at is not None
    assert sm.change_level(CAT, lapsed, 4, lapsed.expires_at - timedelta(seconds=1)).after


def test_covers_depends_on_the_purpose() -> None:
    """A consent covers only the purposes it names, at any level it includes."""
    c = sm.Consent("c_1", 4, frozenset({"kyc"}), NOW, None)
    assert c.covers(1, "kyc", NOW)
    assert not c.covers(1, "marketing", NOW)
    assert not c.covers(5, "kyc", NOW)


def test_revoking_no_purposes_is_refused() -> None:
    """revoke(..., []) names no purpose: it is ConsentNotFound, not a whole revocation."""
    with pytest.raises(ConsentNotFound, match=r"purpose\(s\): \(none given\)$") as info:
        sm.revoke(CAT, _granted(), NOW, [])
    assert info.value.field == "purposes"
    with pytest.raises(ConsentNotFound, match=r"purpose\(s\): marketing$"):
        sm.revoke(CAT, _granted(2, ("kyc",)), NOW, ["kyc", "marketing"])


def test_revoking_without_purposes_withdraws_the_whole_consent() -> None:
    """revoke() with no purposes ends the consent, and the ledger records what it was."""
    c = _granted(2, ("kyc", "marketing"))
    t = sm.revoke(CAT, c, NOW)
    assert (t.event, t.before, t.after) == (ConsentEvent.REVOKED, c, None)
    assert t.ledger_body() == {
        "from": {
            "level": 2,
            "purposes": ["kyc", "marketing"],
            "granted_at": "2026-03-01T00:00:00Z",
            "expires_at": None,
        }
    }


def test_ledger_body_records_both_sides_of_a_change() -> None:
    """A change records the consent before and after it: levels, purposes and times in UTC."""
    c = sm.Consent("c_1", 2, frozenset({"kyc"}), NOW - timedelta(days=1), NOW + timedelta(days=2))
    t = sm.change_level(CAT, c, 3, NOW, NOW + timedelta(days=30))
    assert t.ledger_body() == {
        "from": {
            "level": 2,
            "purposes": ["kyc"],
            "granted_at": "2026-02-28T00:00:00Z",
            "expires_at": "2026-03-03T00:00:00Z",
        },
        "to": {
            "level": 3,
            "purposes": ["kyc"],
            "granted_at": "2026-03-01T00:00:00Z",
            "expires_at": "2026-03-31T00:00:00Z",
        },
    }


def test_changes_check_their_input() -> None:
    """An unknown level or purpose is refused by a change as by a grant; setting the purposes
    a consent already has is a conflict."""
    with pytest.raises(UnknownName):
        sm.change_level(CAT, _granted(2), 9, NOW)
    with pytest.raises(UnknownName):
        sm.set_purposes(CAT, _granted(), ["kyc", "gambling"], NOW)
    with pytest.raises(ConsentConflict, match="exactly these purposes") as info:
        sm.set_purposes(CAT, _granted(2, ("kyc", "marketing")), ["marketing", "kyc"], NOW)
    assert info.value.field == "purposes"
    changed = sm.set_purposes(CAT, _granted(2, ("kyc", "marketing")), ["kyc"], NOW)
    assert changed.event is ConsentEvent.PURPOSES_CHANGED
    assert changed.after == sm.Consent("c_1", 2, frozenset({"kyc"}), NOW, None)


def test_consents_and_transitions_are_immutable_values() -> None:
    """A consent cannot be altered once made, and equal consents hash alike (the engine
    caches their summaries)."""
    c = _granted()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.level = 4  # type: ignore[misc]
    assert hash(c) == hash(_granted())
    t = sm.revoke(CAT, c, NOW)
    with pytest.raises(dataclasses.FrozenInstanceError):
        t.after = c  # type: ignore[misc]
