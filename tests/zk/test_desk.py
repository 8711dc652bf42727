"""The KYC desk: attestations, openings in the vault, re-attestation, key rotation; and the
provable attributes file and the proof rule's checks against it."""

from __future__ import annotations

import stat
from datetime import date
from pathlib import Path

import pytest

from consent_ledger.catalogue import load_catalogue
from policies.attributes import AttributeDef, default_attributes, encode, parse_attributes
from policies.errors import PolicyInvalid
from policies.loader import DEFAULT_POLICY_PATH, parse_policy
from privacy.zk import pedersen
from privacy.zk.attestation import parse_attestation
from privacy.zk.desk import Desk
from privacy.zk.flow_errors import AttestationMissing
from tests.zk.flow_world import AUM, RICH_AUM, Flow, flow

__all__ = ["flow"]

CATALOGUE = load_catalogue()


def test_each_provable_attribute_held_is_attested_with_its_opening_in_the_vault(
    flow: Flow,
) -> None:
    desk = flow.services.zk.desk
    with flow.services.custos.db.read() as tx:
        for name in ("assets_under_management", "date_of_birth", "risk_score"):
            att = desk.current(tx, flow.rich, name)
            opening = desk.opening(tx, flow.rich, name)
            assert pedersen.commit(opening.value % pedersen.ORDER, opening.blinding) == (
                att.commitment
            )
        aum = desk.opening(tx, flow.rich, "assets_under_management").value
        dob = desk.opening(tx, flow.rich, "date_of_birth").value
        score = desk.opening(tx, flow.rich, "risk_score").value
        # household_income was never collected: nothing to attest.
        assert (
            tx.one(
                "SELECT 1 FROM zk_attestations WHERE client_id = ? AND attribute = ?",
                (flow.rich, "household_income"),
            )
            is None
        )
        ciphertexts = b"".join(bytes(r[0]) for r in tx.all("SELECT ciphertext FROM vault_values"))
        documents = "".join(r[0] for r in tx.all("SELECT document FROM zk_attestations"))
    assert (aum, dob, score) == (RICH_AUM, (date(1961, 4, 30) - date(1970, 1, 1)).days, 41)
    assert dob < 0  # before 1970: committed as ORDER - days
    assert str(RICH_AUM).encode() not in ciphertexts and str(RICH_AUM) not in documents
    issued = [(t, s, b) for _, t, s, b in flow.entries() if t == "attestation_issued"]
    assert len(issued) == 6 and {s for _, s, _ in issued} == {flow.rich, flow.poor}
    assert str(RICH_AUM) not in repr(issued)
    assert {b["category"] for _, _, b in issued} == {
        AUM,
        "user.demographic.date_of_birth",
        "user.financial.risk_questionnaire",
    }


def test_attesting_again_renews_and_supersedes(flow: Flow) -> None:
    desk = flow.services.zk.desk
    with flow.services.custos.db.read() as tx:
        before = desk.current(tx, flow.rich, "assets_under_management")
    start = flow.size()
    renewed = desk.attest(flow.rich, [AUM])
    assert [a.attribute for a in renewed] == ["assets_under_management"]
    (entry,) = flow.entries(start)
    assert entry[1] == "attestation_renewed" and entry[3]["supersedes"] == before.attestation_id
    with flow.services.custos.db.read() as tx:
        assert not desk.is_current(tx, before.attestation_id)
        now = desk.current(tx, flow.rich, "assets_under_management")
    # A fresh blinding: the new commitment does not reveal that the value is unchanged.
    assert now.commitment != before.commitment


def test_rotating_the_desk_key_retires_it_and_re_signs_every_attestation(
    flow: Flow, tmp_path: Path
) -> None:
    desk = flow.services.zk.desk
    with flow.services.custos.db.read() as tx:
        (old_key,) = desk.keys(tx)
        old = desk.current(tx, flow.rich, "assets_under_management")
    start = flow.size()
    new_id = desk.rotate()
    entries = flow.entries(start)
    assert entries[0][1:] == ("key_rotated", None, {"kind": "zk_desk", "account_id": new_id})
    assert [e[1] for e in entries[1:]] == ["attestation_renewed"] * 6
    with flow.services.custos.db.read() as tx:
        keys = {k.key_id: k for k in desk.keys(tx)}
        again = desk.current(tx, flow.rich, "assets_under_management")
    assert keys[old_key.key_id].valid_until is not None and keys[new_id].valid_until is None
    assert again.key_id == new_id and again.commitment == old.commitment
    key_file = tmp_path / "keys" / "zk-desk.key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert (tmp_path / "keys" / "zk-desk.old").exists()
    assert parse_attestation(again.to_json()) == again


def test_the_shipped_attributes_match_the_catalogue() -> None:
    attrs = default_attributes(CATALOGUE)
    aum = attrs.get("assets_under_management")
    assert aum == AttributeDef("assets_under_management", AUM, "integer", 40, 2)
    assert attrs.get("household_income") is not None
    assert attrs.get("household_income").level == 4  # type: ignore[union-attr]
    assert attrs.get("date_of_birth").level == 1  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "version: 1\nattributes:\n  x:\n    category: user.nope\n    encoding: integer\n"
            "    bits: 8\n",
            "a.yaml:4:15: attributes.x.category: category 'user.nope' is not a catalogue",
        ),
        (
            "version: 1\nattributes:\n  x:\n    category: user.name\n    encoding: integer\n"
            "    bits: 41\n",
            "a.yaml:6:11: attributes.x.bits: Input should be less than or equal to 40",
        ),
        (
            "version: 1\nattributes:\n  x:\n    category: user.name\n    encoding: float\n"
            "    bits: 8\n",
            "a.yaml:5:15: attributes.x.encoding: Input should be 'integer'",
        ),
        (
            "version: 1\nattributes:\n  x:\n    category: user.name\n    encoding: integer\n"
            "    bits: 8\n    level: 2\n",
            "a.yaml:7:5: attributes.x: unknown key 'level'",
        ),
        (
            "version: 1\nattributes:\n  x: {category: user.name, encoding: integer, bits: 8}\n"
            "  x: {category: user.name, encoding: integer, bits: 8}\n",
            "a.yaml:4:3: duplicate key 'x'",
        ),
    ],
)
def test_attribute_file_problems_name_file_and_line(text: str, problem: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_attributes(text, "a.yaml", CATALOGUE)
    assert caught.value.problems[0].startswith(problem), caught.value.problems


def test_encoding_checks_the_value_without_naming_it() -> None:
    aum = AttributeDef("aum", AUM, "integer", 40, 2)
    assert encode(aum, 3_000_000) == 3_000_000
    for bad in (-1, 2**40, "3000000", 3.5, True):
        with pytest.raises(ValueError) as caught:
            encode(aum, bad)
        assert str(bad) not in str(caught.value)
    score = AttributeDef("s", "user.financial.risk_questionnaire", "questionnaire_sum", 8, 2)
    assert encode(score, [5] * 10) == 50
    with pytest.raises(ValueError):
        encode(score, [])
    dob = AttributeDef("d", "user.demographic.date_of_birth", "days_since_epoch", 20, 1)
    assert encode(dob, "1970-01-02") == 1 and encode(dob, "1969-12-31") == -1
    with pytest.raises(ValueError):
        encode(dob, "31/12/1969")


def _policy_with(proof_lines: str) -> str:
    text = DEFAULT_POLICY_PATH.read_text(encoding="utf-8")
    old = "    attribute: assets_under_management\n    predicate: {at_least: 3000000}\n"
    assert old in text
    return text.replace(old, proof_lines)


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        (
            "    attribute: net_worth\n    predicate: {at_least: 3000000}\n",
            "proofs[0].attribute: attribute 'net_worth' is not in attributes.yaml",
        ),
        (
            "    attribute: household_income\n    predicate: {at_least: 3000000}\n",
            "proofs[0].attribute: the rule's categories do not cover",
        ),
        (
            "    attribute: assets_under_management\n    predicate: {age_at_least: 18}\n",
            "proofs[0].predicate: age_at_least needs a date of birth",
        ),
        (
            "    attribute: assets_under_management\n    predicate: {at_least: -5}\n",
            "proofs[0].predicate: the predicate's bounds must lie in 0..",
        ),
        (
            "    attribute: assets_under_management\n    predicate: {at_least: 5, at_most: 9}\n",
            "proofs[0].predicate: give exactly one of",
        ),
    ],
)
def test_a_proof_rule_is_checked_against_the_attributes(lines: str, problem: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(_policy_with(lines), "firm.yaml", CATALOGUE)
    assert any(problem in p for p in caught.value.problems), caught.value.problems
    assert all(p.startswith("firm.yaml:") for p in caught.value.problems)


def test_a_rotation_by_another_process_is_picked_up(flow: Flow) -> None:
    """The server's desk caches its key; after a rotation elsewhere (the CLI) it reads the
    new key file instead of failing or signing with the retired key."""
    server_desk = flow.services.zk.desk
    other = Desk(flow.services.custos, server_desk.attributes, flow.clock)
    new_id = other.rotate()
    (att, *_) = server_desk.attest(flow.rich, [AUM])
    assert att.key_id == new_id


def test_a_key_file_of_another_installation_is_refused(flow: Flow, tmp_path: Path) -> None:
    key_file = tmp_path / "keys" / "zk-desk.key"
    key_file.unlink()
    stranger = Desk(flow.services.custos, flow.services.zk.desk.attributes, flow.clock)
    with pytest.raises(AttestationMissing, match="not this installation's desk key"):
        stranger.attest(flow.rich)
