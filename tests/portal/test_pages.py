"""The portal's pages in process: isolation between clients, consent changes, the trail,
receipts, erasure and the two languages."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from api.portal.consent_forms import add_months
from api.portal.i18n import MESSAGES, format_time, negotiate
from consent_ledger.audit import TrailQuery
from consent_ledger.encoding import decode_entry
from consent_ledger.receipts import verify_receipt
from tests.portal.conftest import PortalWorld, csrf_from

TEMPLATES = Path(__file__).resolve().parents[2] / "api" / "portal" / "templates"
PORTAL_CODE = Path(__file__).resolve().parents[2] / "api" / "portal"


def _trail_indices(html: str) -> set[int]:
    return {int(i) for i in re.findall(r'<tr data-index="(\d+)"', html)}


def _own_indices(world: PortalWorld, client_id: str) -> set[int]:
    entries = world.services.audit.query(TrailQuery(subject=client_id, limit=10_000))
    return {e.index for e in entries}


def test_root_and_portal_lead_to_sign_in(world: PortalWorld) -> None:
    """/ redirects to the portal, and a visitor without a session is sent to sign in."""
    first = world.http.get("/", follow_redirects=False)
    assert first.status_code == 307 and first.headers["location"] == "/portal"
    page = world.http.get("/portal/trail", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"] == "/portal/sign-in?next=/portal/trail"


def test_editing_the_url_never_shows_another_clients_data(world: PortalWorld) -> None:
    """Every page takes the client from the session: a client_id (or anything else) in the
    URL is ignored, and another client's ledger entries cannot be fetched for verification."""
    world.sign_in("alice")
    alice, bob = _own_indices(world, world.alice), _own_indices(world, world.bob)
    for query in (f"?client_id={world.bob}", f"?subject={world.bob}", ""):
        html = world.http.get("/portal/trail" + query).text
        assert _trail_indices(html) == alice
        # Links may carry the edited query along (the language switch keeps filters); no
        # content may name bob.
        assert world.bob not in re.sub(r'href="[^"]*"', "", html)
    receipt = world.http.get(f"/portal/receipt?client_id={world.bob}").text
    assert world.alice in receipt and world.bob not in re.sub(r'href="[^"]*"', "", receipt)
    assert world.http.get(f"/portal/receipt.json?client_id={world.bob}").json()[
        "piiPrincipalId"
    ] == (world.alice)
    for index in sorted(bob)[:3]:
        assert world.http.get(f"/portal/proof/{index}").status_code == 404
    assert world.http.get(f"/portal/proof/{min(alice)}").status_code == 200
    assert world.http.get(f"/v1/me/trail?client_id={world.bob}").json()["items"][0]["subject"] == (
        world.alice
    )


def test_review_says_exactly_what_an_upgrade_changes_and_confirming_applies_it(
    world: PortalWorld,
) -> None:
    """The review page names the new categories and the end date; confirming records an
    upgrade on the ledger that takes effect at once."""
    csrf = world.sign_in()
    review = world.http.get(
        "/portal/consent/review?level=3&purpose=kyc&purpose=suitability"
        "&purpose=investment_advice&purpose=marketing&duration=6m"
    )
    assert "Your level goes up from Level 2" in review.text
    assert "Marital status" in review.text and "Succession wishes" in review.text
    assert "ends by itself on 1 Dec 2026" in review.text
    assert world.services.custos.registry.current(world.alice).level == 2  # type: ignore[union-attr]
    response = world.http.post(
        "/portal/consent",
        data={
            "csrf_token": csrf,
            "level": "3",
            "duration": "6m",
            "purpose": ["kyc", "suitability", "investment_advice", "marketing"],
        },
        follow_redirects=False,
    )
    index = int(response.headers["location"].split("done=")[1])
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.level == 3
    assert consent.expires_at == add_months(world.clock(), 6)
    (entry,) = world.services.audit.query(TrailQuery(subject=world.alice, after=index - 1, limit=1))
    assert entry.index == index and entry.type == "consent_upgraded"
    page = world.http.get(f"/portal/consent?done={index}").text
    assert f"entry #{index}" in page and "Level 3 · Family structure" in page


def test_switching_off_marketing_and_withdrawing_everything(world: PortalWorld) -> None:
    """Purpose switches change only purposes; 'withdraw everything' revokes the consent."""
    csrf = world.sign_in()
    review = world.http.get(
        "/portal/consent/review?level=2&purpose=kyc&purpose=suitability&purpose=investment_advice"
    ).text
    assert "Uses switched off" in review and "Marketing" in review
    world.http.post(
        "/portal/consent",
        data={
            "csrf_token": csrf,
            "level": "2",
            "duration": "keep",
            "purpose": ["kyc", "suitability", "investment_advice"],
        },
    )
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.purposes == {"kyc", "suitability", "investment_advice"}
    assert "withdraw all consent" in world.http.get("/portal/consent/review?withdraw=all").text
    world.http.post("/portal/consent", data={"csrf_token": csrf, "withdraw": "all"})
    assert world.services.custos.registry.current(world.alice) is None
    page = world.http.get("/portal/consent").text
    assert "You have no consent in force" in page
    assert "There is no" not in page
    assert "no consent in force" in world.http.get("/portal/receipt").text


def test_grant_after_withdrawal_with_a_duration_expires_by_itself(world: PortalWorld) -> None:
    """A new grant takes the chosen duration; once it passes, the consent is no longer in
    force and the page says so."""
    csrf = world.sign_in()
    world.http.post("/portal/consent", data={"csrf_token": csrf, "withdraw": "all"})
    world.http.post(
        "/portal/consent",
        data={"csrf_token": csrf, "level": "1", "duration": "3m", "purpose": ["kyc"]},
    )
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.level == 1
    assert consent.expires_at == add_months(world.clock(), 3)
    world.clock.now = consent.expires_at + timedelta(seconds=1)
    world.sign_in()  # the session idled out meanwhile
    assert "You have no consent in force" in world.http.get("/portal/consent").text


def test_review_refuses_empty_or_unchanged_requests(world: PortalWorld) -> None:
    """No purposes, or exactly the current consent, is explained and offers no confirm."""
    world.sign_in()
    empty = world.http.get("/portal/consent/review?level=2").text
    assert "Switch on at least one use" in empty and 'id="confirm"' not in empty
    same = world.http.get(
        "/portal/consent/review?level=2&purpose=kyc&purpose=suitability"
        "&purpose=investment_advice&purpose=marketing&duration=keep"
    ).text
    assert "Nothing to change" in same and 'id="confirm"' not in same


def test_trail_filters_and_rows(world: PortalWorld) -> None:
    """The trail shows departments, categories, purposes and outcomes, and filters by them;
    unknown filter values are ignored."""
    world.sign_in()
    html = world.http.get("/portal/trail").text
    assert "Advisory" in html and "Compliance" in html and "Holdings summary" in html
    assert "Allowed" in html and "Denied" in html
    denied = world.http.get("/portal/trail?outcome=deny").text
    assert "Denied" in denied and 'badge-allow"' not in denied
    kyc = _trail_indices(world.http.get("/portal/trail?purpose=kyc&department=compliance").text)
    assert len(kyc) == 1
    junk = world.http.get("/portal/trail?department=../../etc&outcome=<script>").text
    assert _trail_indices(junk) == _own_indices(world, world.alice)
    assert "<script>" not in junk


def test_proof_endpoint_gives_what_the_browser_checks(world: PortalWorld) -> None:
    """The proof answer holds the entry's exact bytes, an inclusion proof against a signed
    checkpoint that covers the entry, and the ledger's verifier key."""
    world.sign_in()
    index = max(_own_indices(world, world.alice))
    body = world.http.get(f"/portal/proof/{index}").json()
    ledger = world.services.custos.ledger
    assert body["proof"]["leaf_index"] == index
    assert int(body["checkpoint"].split("\n")[1]) == body["proof"]["tree_size"] > index
    assert body["verifier_key"] == ledger.signer.verifier_key()
    assert world.http.get("/portal/proof/999999").status_code == 404


def test_receipt_is_signed_and_readable(world: PortalWorld) -> None:
    """The JSON receipt verifies against the ledger key and downloads as an attachment; the
    HTML view shows its ID and the purposes in words."""
    world.sign_in()
    response = world.http.get("/portal/receipt.json")
    assert response.headers["content-disposition"].startswith("attachment;")
    receipt = response.json()
    assert verify_receipt(receipt, world.services.custos.ledger.signer.verifier_key())
    html = world.http.get("/portal/receipt").text
    assert "Investment advice" in html and "Kantara" in html
    assert 'id="receipt-data"' in html


def test_erasure_needs_the_tick_then_erases_and_signs_out(world: PortalWorld) -> None:
    """Without the confirmation box nothing happens; with it the client's key and consent
    are destroyed, the ledger records it, the session ends and the password stops working."""
    csrf = world.sign_in()
    refused = world.http.post("/portal/erasure", data={"csrf_token": csrf})
    assert refused.status_code == 400 and "Tick the box" in refused.text
    assert world.services.custos.registry.current(world.alice) is not None
    done = world.http.post("/portal/erasure", data={"csrf_token": csrf, "understand": "yes"})
    assert done.status_code == 200 and "has been erased" in done.text
    erased = world.services.audit.query(TrailQuery(subject=world.alice, entry_type="data_erased"))
    assert len(erased) == 1
    assert world.http.get("/portal/consent", follow_redirects=False).status_code == 303
    token = csrf_from(world.http.get("/portal/sign-in").text)
    again = world.http.post(
        "/portal/sign-in",
        data={"csrf_token": token, "username": "alice", "password": "alice-password-1"},
    )
    assert again.status_code == 401


def test_language_follows_accept_language_and_the_switch(world: PortalWorld) -> None:
    """Chinese for a zh Accept-Language, English otherwise; the switch's cookie wins."""
    zh = world.http.get("/portal/sign-in", headers={"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.5"})
    assert '<html lang="zh-Hans"' in zh.text and "登录" in zh.text
    en = world.http.get("/portal/sign-in", headers={"Accept-Language": "fr-FR,en;q=0.5"})
    assert '<html lang="en"' in en.text
    switched = world.http.get("/portal/lang/zh?next=/portal/sign-in", follow_redirects=False)
    assert switched.headers["location"] == "/portal/sign-in"
    assert "登录" in world.http.get("/portal/sign-in", headers={"Accept-Language": "en"}).text


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "en"),
        ("zh-CN", "zh"),
        ("en-US,zh;q=0.8", "en"),
        ("de,zh-TW;q=0.7,en;q=0.6", "zh"),
        ("zh;q=0.2,en;q=0.9", "en"),
        ("zh;q=abc, en", "en"),
    ],
)
def test_accept_language_negotiation(header: str | None, expected: str) -> None:
    """The highest-q supported language wins; ties go to the earlier tag."""
    assert negotiate(None, header) == expected


def test_every_message_used_exists_in_both_languages() -> None:
    """Each t('key') in the templates and code has English and Chinese text."""
    used: set[str] = set()
    for path in [*TEMPLATES.glob("*.html"), *PORTAL_CODE.glob("*.py")]:
        text = path.read_text("utf-8")
        used |= set(re.findall(r"""\bt\(\s*['"]([a-z_0-9]+)['"]\s*[,)]""", text))
        if path.suffix == ".html":
            # Keys the templates pass through lists, e.g. ('purpose', 'filter_purpose'):
            # in Jinja code every single-quoted snake_case word is a message key.
            used |= set(re.findall(r"'([a-z]+(?:_[a-z0-9]+)+)'", text))
    assert used, "found no message keys"
    missing = sorted(k for k in used if k not in MESSAGES)
    assert missing == []
    assert all(set(texts) == {"en", "zh"} for texts in MESSAGES.values())


def test_times_are_written_for_people() -> None:
    """Times read naturally in both languages and say they are UTC."""
    assert format_time("2026-06-01T09:05:00.000000Z", "en") == "1 Jun 2026, 09:05 UTC"
    assert format_time("2026-06-01T09:05:00.000000Z", "zh") == "2026年6月1日 09:05 UTC"


def test_a_new_end_date_alone_renews_the_consent(world: PortalWorld) -> None:
    """Same level and uses with a new duration is a renewal: the review says when it ends,
    confirming records consent_renewed and the consent now ends then."""
    csrf = world.sign_in()
    review = world.http.get(
        "/portal/consent/review?level=2&purpose=kyc&purpose=suitability"
        "&purpose=investment_advice&purpose=marketing&duration=6m"
    ).text
    assert 'id="confirm"' in review and "Nothing to change" not in review
    world.http.post(
        "/portal/consent",
        data={
            "csrf_token": csrf,
            "level": "2",
            "duration": "6m",
            "purpose": ["kyc", "suitability", "investment_advice", "marketing"],
        },
    )
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.level == 2
    assert consent.expires_at == add_months(world.clock(), 6)
    last = list(world.services.custos.ledger.entries())[-1]
    assert decode_entry(last.leaf).type == "consent_renewed"
