"""The portal's proof-request page: what the client sees (never the value), approve and
decline with the session's CSRF token, and refusals as pages."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from policies.proof_requests import ProofRequest
from policies.service import DecisionAsk
from tests.portal.conftest import csrf_from
from tests.support.browser import LiveServer, screenshot, sign_in
from tests.zk.flow_world import AUM, POOR_AUM, RICH_AUM, STAGE, Flow, flow

__all__ = ["flow"]


@pytest.fixture
def signed_in(flow: Flow) -> Flow:
    for client, name in ((flow.rich, "rich"), (flow.poor, "poor")):
        flow.services.accounts.create_client_login(client, name, f"pw-{name}-12345", flow.clock())
    return flow


def _sign_in(f: Flow, name: str) -> str:
    page = f.http.get("/portal/sign-in")
    r = f.http.post(
        "/portal/sign-in",
        data={"csrf_token": csrf_from(page.text), "username": name, "password": f"pw-{name}-12345"},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    return csrf_from(f.http.get("/portal/consent").text)


def _stored(f: Flow, request: dict[str, Any]) -> ProofRequest:
    with f.services.custos.db.read() as tx:
        found = f.services.zk.requests.get(tx, request["request_id"])
    assert found is not None
    return found


def test_the_page_says_who_asks_which_fact_and_why_never_the_value(signed_in: Flow) -> None:
    f = signed_in
    request = f.proof_request(f.rich)
    _sign_in(f, "rich")
    page = f.http.get("/portal/proofs")
    assert page.status_code == 200
    text = page.text
    assert "Assets under management is at least 3,000,000" in text
    assert "Advisory" in text and "Investment advice" in text
    assert request["request_id"] in text and str(RICH_AUM) not in text
    assert f"{RICH_AUM:,}" not in text
    zh = f.http.get("/portal/lang/zh?next=/portal/proofs", follow_redirects=True)
    assert "管理资产规模不低于 3,000,000" in zh.text and "投资顾问部" in zh.text


def test_approving_produces_the_proof_for_the_department(signed_in: Flow) -> None:
    f = signed_in
    request = f.proof_request(f.rich)
    csrf = _sign_in(f, "rich")
    r = f.http.post(f"/portal/proofs/{request['request_id']}/approve", data={"csrf_token": csrf})
    assert r.status_code == 200 and 'id="done"' in r.text
    assert request["request_id"] not in r.text  # no longer pending
    stored = _stored(f, request)
    assert stored.status == "approved" and stored.envelope is not None
    assert f.verify(dict(stored.envelope))["valid"]


def test_without_the_csrf_token_nothing_changes(signed_in: Flow) -> None:
    f = signed_in
    request = f.proof_request(f.rich)
    _sign_in(f, "rich")
    r = f.http.post(f"/portal/proofs/{request['request_id']}/approve", data={"csrf_token": "x"})
    assert r.status_code == 403
    assert _stored(f, request).status == "pending"


def test_declining_ends_the_request(signed_in: Flow) -> None:
    f = signed_in
    request = f.proof_request(f.rich)
    csrf = _sign_in(f, "rich")
    r = f.http.post(f"/portal/proofs/{request['request_id']}/decline", data={"csrf_token": csrf})
    assert r.status_code == 200 and "Declined" in r.text
    assert _stored(f, request).status == "declined"
    again = f.http.post(
        f"/portal/proofs/{request['request_id']}/approve", data={"csrf_token": csrf}
    )
    assert again.status_code == 409 and _stored(f, request).status == "declined"


def test_another_clients_request_reads_as_unknown(signed_in: Flow) -> None:
    f = signed_in
    theirs = f.proof_request(f.rich)
    csrf = _sign_in(f, "poor")
    assert theirs["request_id"] not in f.http.get("/portal/proofs").text
    r = f.http.post(f"/portal/proofs/{theirs['request_id']}/approve", data={"csrf_token": csrf})
    assert r.status_code == 404 and _stored(f, theirs).status == "pending"


def test_a_fact_that_does_not_hold_or_is_not_consented_is_explained(signed_in: Flow) -> None:
    f = signed_in
    mine = f.proof_request(f.poor)
    csrf = _sign_in(f, "poor")
    r = f.http.post(f"/portal/proofs/{mine['request_id']}/approve", data={"csrf_token": csrf})
    assert r.status_code == 409 and "does not hold" in r.text and str(POOR_AUM) not in r.text
    assert _stored(f, mine).status == "pending"
    f.services.custos.registry.change_level(f.poor, 1)
    r = f.http.post(f"/portal/proofs/{mine['request_id']}/approve", data={"csrf_token": csrf})
    assert r.status_code == 403 and "consent does not cover" in r.text


@pytest.mark.slow
def test_approve_in_a_real_browser(page: Any, live_server: LiveServer) -> None:
    """Chromium against the real server: the client signs in, sees the request in plain
    words, approves; the department's verification of the proof then passes."""
    services = live_server.services
    cid, username, password = live_server.new_client("prover")
    services.custos.registry.collect(cid, {AUM: RICH_AUM}, by="compliance")
    services.zk.desk.attest(cid)
    key = services.accounts.create_app("advisory", "e2e advice", services.clock()).key
    app = services.accounts.authenticate(key)
    ask = DecisionAsk(cid, "investment_advice", (AUM,), "row", STAGE)
    (denied,) = services.decisions.decide(app, [ask])
    assert denied.proof_request is not None
    request_id = denied.proof_request.request_id
    sign_in(page, live_server.url, username, password)
    page.click("nav a[href='/portal/proofs']")
    card = page.locator(f"#request-{request_id}")
    expect(card).to_contain_text("Assets under management is at least 3,000,000")
    expect(card).to_contain_text("Advisory")
    screenshot(page, "desktop-proof-request")
    page.click(f"#approve-{request_id}")
    expect(page.locator("#done")).to_contain_text("Approved")
    expect(page.locator(f"#request-{request_id}")).to_have_count(0)
    fetched = services.zk.fetch(app, request_id)
    assert fetched.status == "approved" and fetched.envelope is not None
    assert services.zk.verify(app, dict(fetched.envelope)).valid
