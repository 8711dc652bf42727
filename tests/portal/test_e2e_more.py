"""End-to-end, in Chinese on a desktop: the trail keeps department names on one line
after the in-browser check, its downloads arrive as files, and error pages are pages."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.support.browser import LiveServer, open_page, screenshot, sign_in

pytestmark = pytest.mark.slow

# How many line boxes each department cell's text takes.
_LINES_PER_DEPARTMENT = """() => [...document.querySelectorAll('table.trail td.who')]
    .filter(td => td.firstChild && td.firstChild.nodeType === Node.TEXT_NODE)
    .map(td => {
        const range = document.createRange();
        range.selectNodeContents(td);
        const tops = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
        return [td.textContent.trim(), tops.size];
    })"""


def test_chinese_trail_after_verify_and_downloads(browser: Any, live_server: LiveServer) -> None:
    """After Verify on every row, each department name (投资顾问部) still sits on one
    line at 1280 px; the CSV and JSON links download the client's trail."""
    base = live_server.url
    cid, username, password = live_server.new_client("zhtrail")
    page = open_page(browser, locale="zh-CN")
    try:
        sign_in(page, base, username, password)
        page.goto(f"{base}/portal/trail")
        rows = page.locator("tr[data-index]")
        for i in range(rows.count()):
            row = rows.nth(i)
            row.locator("button[data-verify]").click()
            expect(row.locator("output")).to_contain_text("已在您的浏览器中验证")
        lines = page.evaluate(_LINES_PER_DEPARTMENT)
        assert ["投资顾问部", 1] in lines
        assert all(n == 1 for _, n in lines), lines
        screenshot(page, "desktop-zh-trail-verified")

        with page.expect_download() as csv_info:
            page.click("#download-csv")
        text = Path(csv_info.value.path()).read_text(encoding="utf-8-sig")
        assert csv_info.value.suggested_filename.endswith(".csv")
        table = text.partition("\r\n\r\n")[0]
        rows_read = list(csv.DictReader(io.StringIO(table)))
        assert rows_read and {r["department"] for r in rows_read} >= {"投资顾问部"}
        with page.expect_download() as json_info:
            page.click("#download-json")
        body = json.loads(Path(json_info.value.path()).read_text(encoding="utf-8"))
        assert body["client_id"] == cid and body["checkpoint"]["tree_size"] > 0

        page.goto(f"{base}/portal/nonexistent")
        expect(page.locator("h1")).to_have_text("找不到页面")
        screenshot(page, "desktop-zh-not-found")
    finally:
        page.context.close()
