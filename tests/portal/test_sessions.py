"""Sessions, CSRF protection and sign-in rate limiting, through the real app in process."""

from __future__ import annotations

import hashlib

from fastapi.testclient import TestClient

from api.portal.install import SECURITY_HEADERS
from api.portal.web import safe_next
from tests.portal.conftest import PortalWorld, csrf_from


def _session_rows(world: PortalWorld) -> list[tuple[bytes, str]]:
    with world.services.custos.db.read() as tx:
        return [
            (bytes(r[0]), r[1]) for r in tx.all("SELECT id_hash, client_id FROM portal_sessions")
        ]


def test_session_cookie_is_httponly_samesite_and_stored_only_as_a_hash(world: PortalWorld) -> None:
    """The cookie is HttpOnly and SameSite=Lax, not Secure in development, carries 256 bits,
    and the database holds only its SHA-256."""
    page = world.http.get("/portal/sign-in")
    response = world.http.post(
        "/portal/sign-in",
        data={
            "csrf_token": csrf_from(page.text),
            "username": "alice",
            "password": "alice-password-1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    header = next(h for h in response.headers.get_list("set-cookie") if "custos_session=" in h)
    assert "HttpOnly" in header and "SameSite=lax" in header and "Path=/" in header
    assert "Secure" not in header
    token = response.cookies["custos_session"]
    assert len(token) >= 43  # 32 random bytes, base64url
    rows = _session_rows(world)
    assert rows == [(hashlib.sha256(token.encode()).digest(), world.alice)]


def test_production_cookies_are_secure(production_world: PortalWorld) -> None:
    """With environment=production every cookie the portal sets is marked Secure."""
    http = production_world.http
    page = http.get("/portal/sign-in")
    assert all("Secure" in h for h in page.headers.get_list("set-cookie"))
    response = http.post(
        "/portal/sign-in",
        data={
            "csrf_token": csrf_from(page.text),
            "username": "alice",
            "password": "alice-password-1",
        },
        follow_redirects=False,
    )
    assert response.status_code == 303
    header = next(h for h in response.headers.get_list("set-cookie") if "custos_session=" in h)
    assert "Secure" in header and "HttpOnly" in header


def test_idle_session_expires_after_30_minutes(world: PortalWorld) -> None:
    """A session unused for more than 30 minutes no longer signs anyone in."""
    world.sign_in()
    world.advance(minutes=29)
    assert world.http.get("/portal/consent", follow_redirects=False).status_code == 200
    world.advance(minutes=31)
    response = world.http.get("/portal/consent", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/portal/sign-in")
    assert _session_rows(world) == []


def test_session_ends_after_12_hours_even_when_used(world: PortalWorld) -> None:
    """Activity extends the idle deadline, but never past 12 hours after sign-in."""
    world.sign_in()
    for _ in range(35):  # 35 times 20 min = 11 h 40 min, each step inside the idle window
        world.advance(minutes=20)
        assert world.http.get("/portal/consent", follow_redirects=False).status_code == 200
    world.advance(minutes=21)
    assert world.http.get("/portal/consent", follow_redirects=False).status_code == 303


def test_sign_out_deletes_the_session_so_a_copied_cookie_is_useless(world: PortalWorld) -> None:
    """After sign-out the row is gone; replaying the old cookie reaches nothing."""
    csrf = world.sign_in()
    stolen = world.http.cookies["custos_session"]
    response = world.http.post(
        "/portal/sign-out", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert response.status_code == 303
    assert _session_rows(world) == []
    with TestClient(world.http.app, base_url="http://127.0.0.1") as other:
        other.cookies.set("custos_session", stolen)
        assert other.get("/portal/trail", follow_redirects=False).status_code == 303
        assert other.get("/v1/me/consent").status_code == 401


def test_forged_or_missing_csrf_token_is_refused_and_changes_nothing(world: PortalWorld) -> None:
    """A state-changing form with a wrong or absent token gets 403 and the consent stays."""
    csrf = world.sign_in()
    form = {"level": "3", "purpose": ["kyc"], "duration": "keep"}
    for token in ("forged-" + csrf[7:], "", None):
        data = dict(form) if token is None else {**form, "csrf_token": token}
        response = world.http.post("/portal/consent", data=data, follow_redirects=False)
        assert response.status_code == 403
        assert "expired" in response.text
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.level == 2
    good = world.http.post(
        "/portal/consent", data={**form, "csrf_token": csrf}, follow_redirects=False
    )
    assert good.status_code == 303
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and consent.level == 3


def test_sign_in_form_needs_its_own_token(world: PortalWorld) -> None:
    """Sign-in is protected against login CSRF: a post without the pre-session token fails."""
    response = world.http.post(
        "/portal/sign-in",
        data={"username": "alice", "password": "alice-password-1", "csrf_token": "guess"},
        follow_redirects=False,
    )
    assert response.status_code == 403
    assert "custos_session" not in response.cookies


def test_cookie_authenticated_json_calls_need_the_csrf_header(world: PortalWorld) -> None:
    """/v1/me accepts the portal cookie, but a non-GET call riding on it must send
    X-CSRF-Token; a bearer token needs no CSRF token (a browser never sends one by itself)."""
    csrf = world.sign_in()
    assert world.http.get("/v1/me/consent").json()["client_id"] == world.alice
    refused = world.http.post("/v1/me/consent/revoke", json={"purposes": ["marketing"]})
    assert refused.status_code == 403
    wrong = world.http.post(
        "/v1/me/consent/revoke", json={"purposes": ["marketing"]}, headers={"X-CSRF-Token": "x"}
    )
    assert wrong.status_code == 403
    ok = world.http.post(
        "/v1/me/consent/revoke", json={"purposes": ["marketing"]}, headers={"X-CSRF-Token": csrf}
    )
    assert ok.status_code == 200
    consent = world.services.custos.registry.current(world.alice)
    assert consent is not None and "marketing" not in consent.purposes


def test_repeated_failures_are_rate_limited_with_a_clear_page(world: PortalWorld) -> None:
    """After the configured number of failures in a minute (3 here) the next attempt, even
    with the right password, gets 429, a Retry-After and a readable HTML message; a minute
    later signing in works again."""
    page = world.http.get("/portal/sign-in")
    token = csrf_from(page.text)

    def attempt(password: str) -> int:
        r = world.http.post(
            "/portal/sign-in",
            data={"csrf_token": token, "username": "alice", "password": password},
            follow_redirects=False,
        )
        if r.status_code == 429:
            assert r.headers["content-type"].startswith("text/html")
            assert "Too many attempts" in r.text
            assert 1 <= int(r.headers["Retry-After"]) <= 61
        status: int = r.status_code
        return status

    assert [attempt("wrong") for _ in range(3)] == [401, 401, 401]
    assert attempt("alice-password-1") == 429
    world.advance(seconds=61)
    assert attempt("alice-password-1") == 303


def test_rate_limit_also_counts_per_client_address(world: PortalWorld) -> None:
    """Guessing across many usernames from one address is limited too."""
    token = csrf_from(world.http.get("/portal/sign-in").text)
    codes = [
        world.http.post(
            "/portal/sign-in",
            data={"csrf_token": token, "username": f"nobody{n}", "password": "guess"},
            follow_redirects=False,
        ).status_code
        for n in range(4)
    ]
    assert codes == [401, 401, 401, 429]


def test_failures_never_reveal_whether_a_username_exists_or_echo_the_password(
    world: PortalWorld,
) -> None:
    """Unknown user and wrong password get the same answer, and no page echoes a password."""
    token = csrf_from(world.http.get("/portal/sign-in").text)
    answers = []
    for username in ("alice", "no-such-user"):
        r = world.http.post(
            "/portal/sign-in",
            data={"csrf_token": token, "username": username, "password": "Secret-Guess-42"},
        )
        assert "Secret-Guess-42" not in r.text
        message = r.text.split('id="signin-error">')[1].split("<")[0]
        answers.append((r.status_code, message))
    assert answers[0] == answers[1]


def test_portal_pages_carry_security_headers(world: PortalWorld) -> None:
    """CSP (self only, no inline script), frame denial, referrer and sniffing policies on
    every portal response, and no-store on pages with personal content."""
    world.sign_in()
    for path in (
        "/portal/sign-in",
        "/portal/consent",
        "/portal/trail",
        "/portal/static/portal.css",
    ):
        response = world.http.get(path)
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value, (path, name)
    assert "unsafe-inline" not in SECURITY_HEADERS["Content-Security-Policy"]
    assert world.http.get("/portal/trail").headers["Cache-Control"] == "no-store"


def test_next_parameter_cannot_redirect_off_the_portal() -> None:
    """Only portal paths are followed after sign-in; anything else goes to the consent page."""
    assert safe_next("/portal/trail?purpose=kyc") == "/portal/trail?purpose=kyc"
    for bad in (
        "https://evil.example/",
        "//evil.example",
        "/portal//evil.example",
        "/v1/me",
        "/portal/\\evil",
        "/portal/static/x",
        "",
        None,
        "/portal/x\r\nSet-Cookie: a=b",
    ):
        assert safe_next(bad) == "/portal/consent", bad
