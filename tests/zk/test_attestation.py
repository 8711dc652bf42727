"""The attestation document: canonical bytes, Ed25519 signature, strict parsing, checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy.zk import pedersen
from privacy.zk.attestation import (
    SIGNING_TAG,
    Attestation,
    DeskKey,
    b64url,
    check_attestation,
    key_id_of,
    parse_attestation,
    parse_attestations,
    sign_attestation,
)
from privacy.zk.flow_errors import AttestationInvalid

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
KEY = Ed25519PrivateKey.from_private_bytes(bytes(range(32)))
PUBLIC = KEY.public_key().public_bytes_raw()
KEYS = {key_id_of(PUBLIC): DeskKey(key_id_of(PUBLIC), PUBLIC, NOW - timedelta(days=1), None)}
COMMITMENT = pedersen.commit(3_500_000, 12345)


def _attestation(**changes: object) -> Attestation:
    args: dict[str, object] = {
        "client": "c_00000000000000a1",
        "attribute": "assets_under_management",
        "category": "user.financial.assets_under_management",
        "bits": 40,
        "commitment": COMMITMENT,
        "issued": NOW,
        "expires": NOW + timedelta(days=365),
    } | changes
    return sign_attestation(KEY, **args)  # type: ignore[arg-type]


def test_a_signed_attestation_round_trips_and_checks() -> None:
    att = _attestation()
    again = parse_attestation(json.loads(att.canonical()))
    assert again == att
    assert check_attestation(again, KEYS, NOW, current_only=True) is None
    # The signed message is the tag and the sorted, compact JSON of every other member.
    unsigned = {k: v for k, v in att.to_json().items() if k != "signature"}
    expected = SIGNING_TAG + json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()
    assert att.message() == expected
    assert att.key_id == key_id_of(PUBLIC) and len(att.signature) == 64


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("client", "c_00000000000000b2"),
        ("attribute", "household_income"),
        ("category", "user.financial.household_income"),
        ("bits", 39),
        ("commitment", b64url(pedersen.commit(1, 2))),
        ("issued", "2026-06-01T09:00:01Z"),
        ("expires", "2099-01-01T00:00:00Z"),
        ("attestation_id", "at_" + "1" * 24),
    ],
)
def test_any_changed_member_breaks_the_signature(member: str, value: object) -> None:
    doc = _attestation().to_json() | {member: value}
    assert check_attestation(parse_attestation(doc), KEYS, NOW, current_only=True) == (
        "attestation_bad_signature"
    )


@settings(deadline=None, max_examples=60)
@given(st.integers(min_value=0, max_value=63), st.integers(min_value=1, max_value=255))
def test_a_flipped_signature_byte_is_refused(position: int, flip: int) -> None:
    att = _attestation()
    sig = bytearray(att.signature)
    sig[position] ^= flip
    forged = parse_attestation(att.to_json() | {"signature": b64url(bytes(sig))})
    assert check_attestation(forged, KEYS, NOW, current_only=True) == "attestation_bad_signature"


def test_unknown_retired_expired_and_future_attestations_are_refused() -> None:
    att = _attestation()
    assert check_attestation(att, {}, NOW, current_only=True) == "attestation_unknown_key"
    kid = key_id_of(PUBLIC)
    retired = {kid: DeskKey(kid, PUBLIC, NOW - timedelta(days=9), NOW + timedelta(hours=1))}
    assert check_attestation(att, retired, NOW, current_only=True) == "attestation_key_retired"
    # Offline, a key rotated out after the attestation was issued still vouches for it...
    assert check_attestation(att, retired, NOW, current_only=False) is None
    # ...but not for one issued after its retirement.
    gone = {kid: DeskKey(kid, PUBLIC, NOW - timedelta(days=9), NOW - timedelta(hours=1))}
    assert check_attestation(att, gone, NOW, current_only=False) == "attestation_key_retired"
    later = NOW + timedelta(days=366)
    assert check_attestation(att, KEYS, later, current_only=True) == "attestation_expired"
    early = NOW - timedelta(minutes=1)
    assert check_attestation(att, KEYS, early, current_only=True) == "attestation_not_yet_valid"
    # A key listed under another key's id is not that key.
    other = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
    wrong = {kid: DeskKey(kid, other, NOW - timedelta(days=1), None)}
    assert check_attestation(att, wrong, NOW, current_only=True) == "attestation_unknown_key"


@pytest.mark.parametrize(
    ("member", "value"),
    [
        ("format", "something-else"),
        ("version", 2),
        ("bits", 41),
        ("bits", True),
        ("commitment", "not base64!"),
        ("commitment", b64url(b"\x00" * 47)),
        ("client", "alice"),
        ("issued", "yesterday"),
        ("key_id", "XYZ"),
        ("signature", "a="),
    ],
)
def test_malformed_members_are_named(member: str, value: object) -> None:
    doc = _attestation().to_json() | {member: value}
    with pytest.raises(AttestationInvalid) as caught:
        parse_attestation(doc)
    assert caught.value.field is not None and caught.value.field.startswith("attestation")


def test_unknown_or_missing_members_are_refused() -> None:
    doc = _attestation().to_json()
    with pytest.raises(AttestationInvalid):
        parse_attestation(doc | {"value": 3_500_000})
    with pytest.raises(AttestationInvalid):
        parse_attestation({k: v for k, v in doc.items() if k != "expires"})
    with pytest.raises(AttestationInvalid):
        parse_attestations("[]")
    with pytest.raises(AttestationInvalid):
        parse_attestations("{")
