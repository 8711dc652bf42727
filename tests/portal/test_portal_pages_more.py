"""More of the portal in process: confirmations that name every entry, error pages in the
visitor's language, the firm's details in both languages, the erasure's next step, and
trail downloads."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from pathlib import Path
from typing import Any

import pytest
from starlette.exceptions import HTTPException

from api.portal import routes
from api.portal.i18n import MESSAGES
from api.portal.install import SECURITY_HEADERS
from api.portal.trail import CSV_COLUMNS, spreadsheet_safe, trail_csv
from api.portal.web import ERROR_PAGES
from consent_ledger.audit import TrailQuery
from consent_ledger.errors import CatalogueError, ConsentConflict, Forbidden
from consent_ledger.firm import load_firm_details
from consent_ledger.merkle import leaf_hash, verify_inclusion
from consent_ledger.note import NoteVerifier, open_checkpoint
from tests.portal.conftest import PortalWorld

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
FIRM_FILE = Path(__file__).resolve().parents[2] / "policies" / "firm_details.yaml"


def _own_indices(world: PortalWorld, client_id: str) -> set[int]:
    entries = world.services.audit.query(TrailQuery(subject=client_id, limit=10_000))
    return {e.index for e in entries}


def _upgrade_and_drop_marketing(world: PortalWorld, csrf: str) -> Any:
    return world.http.post(
        "/portal/consent",
        data={
            "csrf_token": csrf,
            "level": "3",
            "duration": "keep",
            "purpose": ["kyc", "suitability", "investment_advice"],
        },
        follow_redirects=False,
    )


# -- item 15: a confirm that writes two entries names both ----------------------------------


def test_a_confirm_that_writes_two_entries_names_both(world: PortalWorld) -> None:
    """An upgrade with a change of uses writes two entries; the banner names each, with
    what it is, in English and in Chinese."""
    csrf = world.sign_in()
    response = _upgrade_and_drop_marketing(world, csrf)
    assert response.status_code == 303
    upgraded, changed = sorted(_own_indices(world, world.alice))[-2:]
    entries = world.services.audit.query(
        TrailQuery(subject=world.alice, after=upgraded - 1, limit=2)
    )
    assert [e.type for e in entries] == ["consent_upgraded", "consent_purposes_changed"]
    page = world.http.get(response.headers["location"]).text
    banner = re.search(r'id="done">([^<]*)<', page)
    assert banner, "no confirmation banner"
    text = banner.group(1)
    assert f"#{upgraded} (Consent upgraded)" in text and f"#{changed} (Uses changed)" in text
    assert "2 entries" in text
    zh = world.http.get(response.headers["location"], headers=ZH).text
    assert f"第 {upgraded} 条（授权升级）" in zh  # noqa: RUF001 - Chinese punctuation
    assert f"第 {changed} 条（用途变更）" in zh  # noqa: RUF001 - Chinese punctuation


def test_the_banner_names_only_the_clients_own_entries(world: PortalWorld) -> None:
    """An edited done= list cannot make the page describe another client's entries."""
    world.sign_in()
    bobs = max(_own_indices(world, world.bob))
    page = world.http.get(f"/portal/consent?done={bobs}").text
    assert 'id="done"' not in page and f"#{bobs}" not in page


def test_a_change_refused_half_way_says_what_was_recorded(
    world: PortalWorld, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the second step is refused after the first was recorded, the page names the
    entry that was written and says the change was only partly made."""
    csrf = world.sign_in()
    registry = world.services.custos.registry

    def refuse(*_: object, **__: object) -> None:
        raise ConsentConflict("changed meanwhile")

    monkeypatch.setattr(registry, "set_purposes", refuse)
    response = _upgrade_and_drop_marketing(world, csrf)
    upgraded = max(_own_indices(world, world.alice))
    assert f"done={upgraded}" in response.headers["location"]
    page = world.http.get(response.headers["location"]).text
    assert f"#{upgraded} (Consent upgraded)" in page
    assert "Only part of the change was made" in page


# -- item 17: portal error pages ------------------------------------------------------------


def _assert_portal_page(response: Any, status: int) -> None:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("text/html")
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value
    assert response.headers["cache-control"] == "no-store"


def test_unknown_portal_page_is_a_page_in_the_visitors_language(world: PortalWorld) -> None:
    """/portal/nonexistent is an HTML 404 page, Chinese for a Chinese browser, with the
    portal's security headers; the API's unknown paths stay JSON problems."""
    en = world.http.get("/portal/nonexistent")
    _assert_portal_page(en, 404)
    assert "Page not found" in en.text
    zh = world.http.get("/portal/nonexistent", headers=ZH)
    _assert_portal_page(zh, 404)
    assert "找不到页面" in zh.text and "Not found" not in zh.text
    api = world.http.get("/v1/nonexistent", headers=ZH)
    assert api.status_code == 404
    assert api.headers["content-type"].startswith("application/problem+json")
    assert api.json()["code"] == "not_found"
    # Static files are still served by their own mount.
    assert world.http.get("/portal/static/portal.css").status_code == 200


def test_a_bad_query_is_a_400_page_not_json(world: PortalWorld) -> None:
    """/portal/consent/review?level=9 is a readable 400 page in Chinese, not a JSON
    validation problem; nothing is changed."""
    world.sign_in()
    response = world.http.get("/portal/consent/review?level=9", headers=ZH)
    _assert_portal_page(response, 400)
    assert "此链接无效" in response.text and "validation" not in response.text
    assert world.services.custos.registry.current(world.alice).level == 2  # type: ignore[union-attr]


def test_a_page_used_with_the_wrong_method_is_a_405_page(world: PortalWorld) -> None:
    """GET on a form-only address answers 405 with Allow, as a page."""
    response = world.http.get("/portal/sign-out")
    _assert_portal_page(response, 405)
    assert response.headers["allow"] == "POST"


@pytest.mark.parametrize(
    ("error", "status", "zh_title"),
    [
        (Forbidden("not yours"), 403, "无权访问"),
        (HTTPException(429, "slow down", headers={"Retry-After": "30"}), 429, "尝试次数过多"),
        (RuntimeError("secret-value-7"), 500, "我们这边出现了问题"),
    ],
)
def test_failures_inside_pages_are_pages(
    world: PortalWorld,
    monkeypatch: pytest.MonkeyPatch,
    error: Exception,
    status: int,
    zh_title: str,
) -> None:
    """Whatever a page fails with (a refusal, a rate limit, a bug) is answered with a page
    in the visitor's language, keeping a Retry-After, and never shows the internals."""
    world.sign_in()

    def fail(*_: object, **__: object) -> None:
        raise error

    monkeypatch.setattr(routes, "trail_rows", fail)
    response = world.http.get("/portal/trail", headers=ZH)
    _assert_portal_page(response, status)
    assert zh_title in response.text
    assert "secret-value-7" not in response.text and "Traceback" not in response.text
    if status == 429:
        assert response.headers["retry-after"] == "30"


def test_the_proof_endpoint_keeps_json_problems(world: PortalWorld) -> None:
    """The in-browser check reads JSON, so its errors stay problems."""
    world.sign_in()
    response = world.http.get("/portal/proof/999999")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


def test_every_error_page_has_both_languages() -> None:
    """Each status with a page has a title and a body in English and Chinese."""
    for status in ERROR_PAGES:
        for part in ("title", "body"):
            texts = MESSAGES[f"error_{status}_{part}"]
            assert texts["en"] and texts["zh"]


# -- item 18: the firm's details, the erasure's next step -------------------------------------


def test_receipt_states_the_firm_in_the_visitors_language(world: PortalWorld) -> None:
    """The controller's name, contact and address come from the firm details file, in
    Chinese on a Chinese page and in the signed receipt asked for in Chinese."""
    world.sign_in()
    zh = world.http.get("/portal/receipt", headers=ZH).text
    for english in ("Custos Wealth Partners", "1 Example Road", "Data Protection Officer"):
        assert english not in zh
    assert "数据保护官" in zh and "上海市示例路 1 号" in zh
    receipt = world.http.get("/portal/receipt.json", headers=ZH).json()
    assert receipt["piiControllers"][0]["contact"] == "数据保护官"
    en = world.http.get("/portal/receipt").text
    assert "Data Protection Officer" in en and "1 Example Road, Shanghai" in en


def test_firm_details_without_a_language_are_refused(tmp_path: Path) -> None:
    """A firm details file where a text lacks Chinese is refused, naming the field."""
    broken = FIRM_FILE.read_text(encoding="utf-8").replace('  zh: "数据保护官"\n', "", 1)
    path = tmp_path / "firm.yaml"
    path.write_text(broken, encoding="utf-8")
    with pytest.raises(CatalogueError, match="contact"):
        load_firm_details(path)
    assert load_firm_details(FIRM_FILE).text("contact", "zh") == "数据保护官"


@pytest.mark.parametrize(("headers", "words"), [({}, "What happens now"), (ZH, "接下来")])
def test_erasure_done_page_says_what_next(
    world: PortalWorld, headers: dict[str, str], words: str
) -> None:
    """After erasure the page says what happens now and links back to the start page."""
    csrf = world.sign_in()
    done = world.http.post(
        "/portal/erasure", data={"csrf_token": csrf, "understand": "yes"}, headers=headers
    )
    assert done.status_code == 200 and words in done.text
    assert re.search(r'<a [^>]*href="/portal/sign-in"[^>]*id="erased-next"', done.text)


# -- item 23: trail downloads ------------------------------------------------------------------


def _csv_rows(text: str) -> tuple[list[dict[str, str]], dict[str, str]]:
    assert text.startswith("\ufeff")
    table, _, tail = text[1:].partition("\r\n\r\n")
    rows = list(csv.DictReader(io.StringIO(table + "\r\n")))
    checkpoint = {r[0]: r[1] for r in csv.reader(io.StringIO(tail)) if r}
    return rows, checkpoint


def test_trail_csv_holds_only_the_clients_own_filtered_entries(world: PortalWorld) -> None:
    """The CSV download is an attachment of text/csv with the trail page's filters, only
    the signed-in client's entries (an edited client_id changes nothing) and the signed
    checkpoint they are proved against."""
    world.sign_in()
    response = world.http.get(f"/portal/trail.csv?client_id={world.bob}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert re.fullmatch(
        r'attachment; filename="custos-trail-\d{4}-\d\d-\d\d\.csv"',
        response.headers["content-disposition"],
    )
    rows, checkpoint = _csv_rows(response.text)
    assert list(rows[0]) == list(CSV_COLUMNS)
    assert {int(r["ledger_index"]) for r in rows} == _own_indices(world, world.alice)
    assert world.bob not in response.text
    size = int(checkpoint["checkpoint_tree_size"])
    assert size > max(int(r["ledger_index"]) for r in rows)
    verifier = NoteVerifier.parse(checkpoint["checkpoint_verifier_key"])
    assert open_checkpoint(checkpoint["checkpoint_note"], [verifier]).size == size
    denied, _ = _csv_rows(world.http.get("/portal/trail.csv?outcome=deny").text)
    assert denied and all(r["outcome"] == "deny" for r in denied)


def test_trail_json_entries_verify_against_its_checkpoint(world: PortalWorld) -> None:
    """Each entry in the JSON download carries its canonical bytes and an inclusion proof
    that leads to the root of the signed checkpoint it comes with."""
    world.sign_in()
    response = world.http.get("/portal/trail.json?department=advisory")
    assert response.headers["content-type"] == "application/json"
    assert response.headers["content-disposition"].startswith("attachment;")
    body = json.loads(response.text)
    assert body["client_id"] == world.alice and body["filters"] == {"department": "advisory"}
    checkpoint = body["checkpoint"]
    verifier = NoteVerifier.parse(checkpoint["verifier_key"])
    signed = open_checkpoint(checkpoint["note"], [verifier])
    assert signed.size == checkpoint["tree_size"]
    assert base64.b64encode(signed.root_hash).decode() == checkpoint["root_hash"]
    assert body["entries"] and all(e["department"] == "advisory" for e in body["entries"])
    for item in body["entries"]:
        leaf = base64.b64decode(item["entry"])
        assert leaf_hash(leaf).hex() == item["leaf_hash"]
        proof = item["inclusion_proof"]
        verify_inclusion(
            leaf_hash(leaf),
            item["ledger_index"],
            signed.size,
            [bytes.fromhex(h) for h in proof["hashes"]],
            signed.root_hash,
        )


def test_trail_downloads_need_a_session_and_are_linked_in_both_languages(
    world: PortalWorld,
) -> None:
    """Without a session the downloads send the visitor to sign in; the trail page links
    both, with its filters, in English and Chinese."""
    assert world.http.get("/portal/trail.csv", follow_redirects=False).status_code == 303
    world.sign_in()
    en = world.http.get("/portal/trail?outcome=deny").text
    assert 'href="/portal/trail.csv?outcome=deny"' in en
    assert 'href="/portal/trail.json?outcome=deny"' in en and "Download as CSV" in en
    zh = world.http.get("/portal/trail", headers=ZH).text
    assert "下载为 CSV" in zh and 'href="/portal/trail.json"' in zh
    assert (
        world.http.get("/portal/trail.csv").headers["cross-origin-resource-policy"] == "same-origin"
    )


def test_csv_cells_cannot_become_formulas() -> None:
    """Cells starting with = + - @ or a control character are prefixed with an apostrophe
    (OWASP CSV injection), in the rows and in the checkpoint block alike."""
    for bad in ('=HYPERLINK("http://x")', "+1", "-1+2", "@SUM(A1)", "\tx", "\rx"):
        assert spreadsheet_safe(bad) == "'" + bad
    assert spreadsheet_safe("Advisory") == "Advisory" and spreadsheet_safe(None) == ""
    export = {
        "checkpoint": {"tree_size": 3, "root_hash": "=x", "note": "@n", "verifier_key": "k"},
        "entries": [
            {
                "ledger_index": 1,
                "timestamp": "2026-06-01T09:00:00.000000Z",
                "event": "=cmd|' /C calc'!A0",
                "entry_type": "data_used",
                "who": "+dept",
                "data": "-data",
                "categories": ["user.name"],
                "purpose_name": "@purpose",
                "outcome": None,
                "leaf_hash": "ab",
            }
        ],
    }
    cells = [c for row in csv.reader(io.StringIO(trail_csv(export)[1:])) for c in row]
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@")]
