"""End-to-end: the real server, driven by headless Chromium as a client would use it.
Screenshots of the main pages go to artifacts/screenshots/ for people to look at."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Route, expect

from consent_ledger.audit import TrailQuery
from consent_ledger.receipts import verify_receipt
from tests.support.browser import PHONE, LiveServer, open_page, screenshot, sign_in

pytestmark = pytest.mark.slow


def _no_sideways_scroll(page: Any) -> None:
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    if overflow > 0:
        widest = page.evaluate(
            """() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
                .slice(-3).map(e => e.tagName + '.' + e.className).join(', ')"""
        )
        pytest.fail(f"{page.url} is {overflow}px wider than the screen: {widest}")


def test_client_journey(page: Any, live_server: LiveServer) -> None:
    """Sign in, upgrade to L3, switch marketing off, see the trail and verify an entry in
    the browser, download a receipt and check its signature, sign out."""
    base, registry = live_server.url, live_server.services.custos.registry
    cid, username, password = live_server.new_client("journey")
    page.goto(f"{base}/portal/sign-in")
    screenshot(page, "desktop-sign-in")
    sign_in(page, base, username, password)
    expect(page.locator("#current-level")).to_contain_text("Level 2")
    screenshot(page, "desktop-consent")

    page.check("input[name=level][value='3']")
    page.select_option("#duration", "1y")
    page.click("#review")
    expect(page.locator("#review-headline")).to_contain_text("goes up from Level 2")
    expect(page.locator(".changes")).to_contain_text("Marital status")
    screenshot(page, "desktop-review-upgrade")
    page.click("#confirm")
    expect(page.locator("#done")).to_contain_text("in force now")
    expect(page.locator("#current-level")).to_contain_text("Level 3")
    consent = registry.current(cid)
    assert consent is not None and consent.level == 3 and consent.expires_at is not None

    page.uncheck("#purpose-marketing")
    page.click("#review")
    expect(page.locator(".change-minus")).to_contain_text("Marketing")
    page.click("#confirm")
    expect(page.locator("#current-purposes")).not_to_contain_text("Marketing")
    consent = registry.current(cid)
    assert consent is not None and "marketing" not in consent.purposes
    types = [e.type for e in live_server.services.audit.query(TrailQuery(subject=cid))]
    assert types[-2:] == ["consent_upgraded", "consent_purposes_changed"]

    page.click("nav >> text=Who used my data")
    expect(page.locator("table.trail")).to_contain_text("Advisory")
    expect(page.locator("table.trail")).to_contain_text("Denied")
    newest = page.locator("tr[data-index]").first
    index = int(newest.get_attribute("data-index"))
    newest.locator("button[data-verify]").click()
    expect(page.locator(f"#verify-{index}")).to_contain_text("Verified in your browser")
    oldest = page.locator("tr[data-index]").last
    oldest.locator("button[data-verify]").click()
    expect(oldest.locator("output")).to_contain_text("Verified in your browser")
    screenshot(page, "desktop-trail")

    page.click("nav >> text=Receipt")
    with page.expect_download() as download_info:
        page.click("#download-receipt")
    receipt = json.loads(Path(download_info.value.path()).read_text(encoding="utf-8"))
    key = live_server.services.custos.ledger.signer.verifier_key()
    assert receipt["piiPrincipalId"] == cid and receipt["authorizationLevel"] == 3
    assert verify_receipt(receipt, key)
    page.click("#verify-receipt")
    expect(page.locator("#receipt-result")).to_contain_text("Signature valid")
    screenshot(page, "desktop-receipt")

    page.click("text=Sign out")
    expect(page.locator("[role=status]")).to_contain_text("signed out")
    page.goto(f"{base}/portal/consent")
    assert "/portal/sign-in" in page.url


@pytest.mark.parametrize("tamper", ["proof hash", "checkpoint signature", "entry bytes"])
def test_tampered_proof_fails_verification(page: Any, live_server: LiveServer, tamper: str) -> None:
    """If anything between the server and the browser alters the proof, the checkpoint or
    the entry, the in-browser check shows a failure, not a tick."""
    base = live_server.url
    _, username, password = live_server.new_client("tamper")
    sign_in(page, base, username, password)

    def flip(route: Route) -> None:
        body = route.fetch().json()
        if tamper == "proof hash":
            first = body["proof"]["hashes"][0]
            body["proof"]["hashes"][0] = ("0" if first[0] != "0" else "1") + first[1:]
        elif tamper == "checkpoint signature":
            text, sig_line = body["checkpoint"].rsplit("\n\n", 1)
            name, sig = sig_line.rstrip("\n").rsplit(" ", 1)
            raw = bytearray(base64.b64decode(sig))
            raw[10] ^= 0x01
            body["checkpoint"] = f"{text}\n\n{name} {base64.b64encode(raw).decode()}\n"
        else:
            leaf = base64.b64decode(body["entry"]).replace(b'"type":"', b'"type":"x', 1)
            body["entry"] = base64.b64encode(leaf).decode()
        route.fulfill(json=body)

    page.route("**/portal/proof/*", flip)
    page.goto(f"{base}/portal/trail")
    row = page.locator("tr[data-index]").first
    row.locator("button[data-verify]").click()
    result = row.locator("output")
    expect(result).to_contain_text("Verification failed")
    expect(result).to_have_class("verify-result is-fail")
    if tamper == "checkpoint signature":
        expect(result).to_contain_text("signature is not valid")
        screenshot(page, "desktop-trail-tampered")


def test_other_clients_are_out_of_reach_by_editing_urls(page: Any, live_server: LiveServer) -> None:
    """Signed in as one client, URLs naming another client show only one's own data, and
    the other client's entries cannot be fetched for verification."""
    base, audit = live_server.url, live_server.services.audit
    mine, username, password = live_server.new_client("self")
    other, _, _ = live_server.new_client("other")
    sign_in(page, base, username, password)
    for path in (f"/portal/trail?client_id={other}", f"/portal/receipt?client_id={other}"):
        page.goto(base + path)
        expect(page.locator("main")).not_to_contain_text(other)
    page.goto(f"{base}/portal/receipt?client_id={other}")
    expect(page.locator("main")).to_contain_text(mine)
    other_entry = audit.query(TrailQuery(subject=other, limit=1))[0].index
    response = page.goto(f"{base}/portal/proof/{other_entry}")
    assert response is not None and response.status == 404
    mine_count = len(audit.query(TrailQuery(subject=mine, limit=1000)))
    page.goto(f"{base}/portal/trail?client_id={other}")
    assert page.locator("tr[data-index]").count() == mine_count


def test_forged_csrf_token_is_refused(page: Any, live_server: LiveServer) -> None:
    """A form whose CSRF token was tampered with changes nothing and says why; so does a
    script's cookie-authenticated JSON call without the X-CSRF-Token header."""
    base, registry = live_server.url, live_server.services.custos.registry
    cid, username, password = live_server.new_client("csrf")
    sign_in(page, base, username, password)
    page.goto(f"{base}/portal/consent/review?withdraw=all")
    page.evaluate(
        "document.querySelector('form[action=\"/portal/consent\"] input[name=csrf_token]')"
        ".value = 'forged-token'"
    )
    page.click("#confirm")
    expect(page.locator("h1")).to_contain_text("This form has expired")
    assert registry.current(cid) is not None
    status = page.evaluate(
        """async () => (await fetch('/v1/me/consent/revoke', {method: 'POST',
            headers: {'Content-Type': 'application/json'}, body: '{}'})).status"""
    )
    assert status == 403
    assert registry.current(cid) is not None


def test_erasure_from_the_portal(page: Any, live_server: LiveServer) -> None:
    """The erasure page says what is destroyed and kept; confirming erases and signs out."""
    base = live_server.url
    cid, username, password = live_server.new_client("erase")
    sign_in(page, base, username, password)
    page.click("nav >> text=Erasure")
    expect(page.locator(".list-kept")).to_contain_text("hold no personal values")
    screenshot(page, "desktop-erasure")
    page.check("#understand")
    page.click("#erase")
    expect(page.locator("h1")).to_contain_text("has been erased")
    erased = live_server.services.audit.query(TrailQuery(subject=cid, entry_type="data_erased"))
    assert len(erased) == 1
    page.goto(f"{base}/portal/sign-in")
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[type=submit]")
    expect(page.locator("#signin-error")).to_contain_text("not correct")


def test_phone_layout(browser: Any, live_server: LiveServer) -> None:
    """At 390px wide every main page fits the screen without sideways scrolling."""
    base = live_server.url
    _, username, password = live_server.new_client("phone")
    page = open_page(browser, viewport=PHONE)
    try:
        page.goto(f"{base}/portal/sign-in")
        _no_sideways_scroll(page)
        screenshot(page, "phone-sign-in")
        sign_in(page, base, username, password)
        for name, path in (
            ("consent", "/portal/consent"),
            ("review", "/portal/consent/review?level=1&purpose=kyc&duration=3m"),
            ("trail", "/portal/trail"),
            ("receipt", "/portal/receipt"),
            ("erasure", "/portal/erasure"),
        ):
            page.goto(base + path)
            _no_sideways_scroll(page)
            screenshot(page, f"phone-{name}")
        page.goto(f"{base}/portal/trail")
        row = page.locator("tr[data-index]").first
        row.locator("button[data-verify]").click()
        expect(row.locator("output")).to_contain_text("Verified")
    finally:
        page.context.close()


def test_chinese_pages(browser: Any, live_server: LiveServer) -> None:
    """A browser asking for Chinese gets Chinese pages, and the switch changes language."""
    base = live_server.url
    _, username, password = live_server.new_client("zh")
    page = open_page(browser, locale="zh-CN")
    try:
        page.goto(f"{base}/portal/sign-in")
        expect(page.locator("h1")).to_have_text("登录")
        screenshot(page, "desktop-zh-sign-in")
        sign_in(page, base, username, password)
        expect(page.locator("h1")).to_have_text("我的授权")
        expect(page.locator(".levels")).to_contain_text("家庭结构")
        screenshot(page, "desktop-zh-consent")
        page.goto(f"{base}/portal/trail")
        row = page.locator("tr[data-index]").first
        row.locator("button[data-verify]").click()
        expect(row.locator("output")).to_contain_text("已在您的浏览器中验证")
        screenshot(page, "desktop-zh-trail")
        page.click(".lang-switch")
        expect(page.locator("h1")).to_have_text("Who used my data")
    finally:
        page.context.close()
    phone = open_page(browser, viewport=PHONE, locale="zh-CN")
    try:
        sign_in(phone, base, username, password)
        _no_sideways_scroll(phone)
        screenshot(phone, "phone-zh-consent")
    finally:
        phone.context.close()
