"""Sign-in and session attacks at the front door: a cookie plus a stray Authorization
header, a concurrent burst of guesses, forged forwarded addresses, production headers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from api.server import uvicorn_options
from tests.portal.conftest import PortalWorld, csrf_from
from tests.support.server import serve_in_thread


@pytest.mark.parametrize("authorization", ["Basic Zm9vOmJhcg==", "Digest x", "Bearer "])
def test_a_signed_in_cookie_with_a_stray_authorization_header_changes_nothing(
    world: PortalWorld, authorization: str
) -> None:
    """The CSRF check used to be skipped whenever any Authorization header came along:
    erasure and revocation rode on the cookie alone. Now such a request is 401 and the
    client's data and consent are untouched."""
    world.sign_in()
    registry = world.services.custos.registry
    before = registry.current(world.alice)
    for path, body in (("/v1/me/erasure", None), ("/v1/me/consent/revoke", {})):
        r = world.http.post(path, json=body, headers={"Authorization": authorization})
        assert r.status_code == 401, (path, r.text)
    assert registry.current(world.alice) == before
    assert world.http.get("/v1/me/consent").json()["active"] is True


def _burst(base: str, token: str, cookies: dict[str, str], tries: int, **form: str) -> list[int]:
    def attempt(n: int) -> int:
        data = {"csrf_token": token, "password": "wrong-guess", **form}
        data.setdefault("username", "alice")
        headers = {"X-Forwarded-For": f"203.0.113.{n}"}
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as http:
            return http.post("/portal/sign-in", data=data, headers=headers).status_code

    with ThreadPoolExecutor(max_workers=tries) as pool:
        return list(pool.map(attempt, range(tries)))


def _presession(base: str) -> tuple[str, dict[str, str]]:
    with httpx.Client(base_url=base, timeout=60) as http:
        page = http.get("/portal/sign-in")
        return csrf_from(page.text), dict(http.cookies)


def test_a_concurrent_burst_of_guesses_is_limited_like_a_sequence(world: PortalWorld) -> None:
    """30 wrong passwords for one username sent at once: exactly the limit (3 here) are
    checked, every other one gets 429, however the requests interleave."""
    with serve_in_thread(world.http.app) as base:
        token, cookies = _presession(base)
        codes = _burst(base, token, cookies, 30)
    assert codes.count(401) == 3 and codes.count(429) == 27, codes


def test_forwarded_addresses_are_believed_only_from_configured_proxies(
    world: PortalWorld,
) -> None:
    """By default X-Forwarded-For is ignored, so rotating it does not reset the per-address
    limit; guesses at many usernames from one peer are still cut off."""
    with serve_in_thread(world.http.app) as base:
        token, cookies = _presession(base)
        codes = []
        for n in range(5):
            codes += _burst(base, token, cookies, 1, username=f"nobody{n}")
    assert codes == [401, 401, 401, 429, 429]


def test_uvicorn_trusts_forwarded_headers_only_when_told() -> None:
    """The options every server start uses: no proxy headers unless proxies are named."""
    assert uvicorn_options([])["proxy_headers"] is False
    named = uvicorn_options(["10.0.0.1", "10.0.0.2"])
    assert named["proxy_headers"] is True and named["forwarded_allow_ips"] == "10.0.0.1,10.0.0.2"


def test_production_responses_carry_hsts_and_docs_keep_their_headers(
    production_world: PortalWorld,
) -> None:
    """In production every response, API, portal and docs alike, carries
    Strict-Transport-Security; the docs pages carry CSP and frame protection."""
    http = production_world.http
    for path in ("/healthz", "/portal/sign-in", "/docs", "/openapi.json", "/v1/nowhere"):
        r = http.get(path)
        assert "max-age=" in r.headers.get("strict-transport-security", ""), path
    docs = http.get("/docs")
    assert "frame-ancestors 'none'" in docs.headers["content-security-policy"]


def test_development_responses_carry_no_hsts(world: PortalWorld) -> None:
    """HSTS over plain-http development would pin a browser to https on localhost."""
    assert "strict-transport-security" not in world.http.get("/healthz").headers
