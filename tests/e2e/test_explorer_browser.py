"""The explorer page in headless Chromium (Debian's `chromium`, driven by Python Playwright; never
`playwright install`): find an instance created over HTTP, read a Date and a Map, edit a number
that the next HTTP call sees, fire the alarm and see its effect; no console errors. The
screenshot goes to test-artifacts/explorer.png (or $TEST_ARTIFACTS_DIR), which CI keeps."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ROOT

pytestmark = pytest.mark.e2e

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def artifacts_dir() -> Path:
    path = Path(os.environ.get("TEST_ARTIFACTS_DIR") or ROOT / "test-artifacts")
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_explorer_page_reads_edits_and_fires(tmp_path: Path, node_modules: Path) -> None:
    if not Path(CHROMIUM).exists() or shutil.which("chromium") is None:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it: apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="pip install -e '.[test]' installs playwright")

    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    project = copy_project("explorer-lab", tmp_path)
    server = start_dev(project, env=env)
    try:
        explorer = server.wait_for(r"^Explorer on (http://127\.0\.0\.1:\d+)$", timeout=10).group(1)
        http = httpx.Client(base_url=server.url, timeout=30)
        close_http = http.close
        assert http.post("/wallets/browser-wallet/open", json={"amount": 100}).status_code == 200
        errors: list[str] = []
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                page.on("console", lambda m: errors.append(f"console.{m.type}: {m.text}") if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                page.goto(explorer)
                # The instance appears once the data plane reports it (live: no reload).
                page.click("#instances tbody tr[data-name='browser-wallet']", timeout=15_000)
                opened = page.locator("#kv tr[data-key='opened']")
                opened.wait_for()
                assert opened.locator(".type-tag").inner_text() == "Date"
                assert opened.locator("td.value").inner_text() == "2026-01-02T03:04:05.000Z"
                tags = page.locator("#kv tr[data-key='tags']")
                assert tags.locator(".type-tag").inner_text() == "Map"
                assert tags.locator("td.value").inner_text() == 'Map(2) {"tier" => "gold", "region" => "eu"}'

                balance = page.locator("#kv tr[data-key='balance']")
                assert balance.locator("td.value").inner_text() == "100"
                balance.locator("button.edit").click()
                page.fill("textarea[data-edit='balance']", "175")
                page.click("#kv button.save")
                sync_api.expect(page.locator("#message")).to_have_text("Saved balance")
                assert http.get("/wallets/browser-wallet/state").json()["balance"] == 175

                page.click("#alarm-fire")
                sync_api.expect(page.locator("#message")).to_have_text("Alarm fired")
                sync_api.expect(page.locator("#kv tr[data-key='alarms'] td.value")).to_have_text("1")
                assert http.get("/wallets/browser-wallet/state").json() == {"balance": 175, "alarms": 1}

                page.click("#tables button[data-table='ledger']")
                page.locator("#table-view table").wait_for()
                page.screenshot(path=str(artifacts_dir() / "explorer.png"), full_page=True)

                # What would hide or reorder text is shown escaped (a bidi override must not make
                # "evil" read "live"), and a long value is cut on the page (Edit has it whole).
                put = {"type": "Wallet", "name": "browser-wallet", "action": "put"}
                for key, value in (("bidi-\u202eevil", "\u202etxt.exe"), ("note", "n" * 5_000), ("memo", "m" * 100_000)):
                    r = httpx.post(f"{explorer}/api/actor/action", json={**put, "key": key, "value": value})
                    assert r.json() == {"ok": True}, r.text
                assert http.post("/wallets/spoof-%E2%80%AEevil%1B/open", json={"amount": 1}).status_code == 200
                bidi = page.locator("#kv tbody tr", has_text="bidi-\\u202Eevil")
                sync_api.expect(bidi.locator("td.value")).to_have_text('"\\u202Etxt.exe"')
                assert bidi.locator("td").first.inner_text() == "bidi-\\u202Eevil"
                note = page.locator("#kv tr[data-key='note'] td.value")
                sync_api.expect(note).to_contain_text("(5,002 characters; Edit shows it whole)")
                assert len(note.inner_text()) < 600
                # Past 64 KiB a value is not in the instance view (a view must fit the control
                # channel's frame): a preview, and Edit reads it whole.
                memo = page.locator("#kv tr[data-key='memo'] td.value")
                sync_api.expect(memo).to_contain_text("bytes; Edit loads it whole)")
                assert memo.inner_text().startswith('"mmm') and "Edit shows it whole" not in memo.inner_text()
                assert len(memo.inner_text()) < 650
                spoof = page.locator("#instances tbody tr", has_text="spoof-")
                sync_api.expect(spoof.locator("td").first).to_have_text("spoof-\\u202Eevil\\u001B", timeout=15_000)
                page.locator("#kv tr[data-key='memo'] button.edit").click()
                assert len(page.locator("textarea[data-edit='memo']").input_value()) == 100_002
                page.locator("#kv tr[data-key='memo'] button", has_text="Cancel").click()
                # A query cut at its row cap says so.
                page.fill("#query", "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c")
                page.click("#query-form button[type='submit']")
                sync_api.expect(page.locator("#query-result")).to_contain_text("The first 500 rows")

                # The runtime stops while the page is open: the page says so in words (the
                # browser logs each refused connection from here on: not the page's errors).
                while_running = list(errors)
                close(server)
                sync_api.expect(page.locator("#live")).to_contain_text("the explorer is not answering", timeout=10_000)
                page.locator("#kv tr[data-key='balance'] button.edit").click()
                page.fill("textarea[data-edit='balance']", "1")
                page.click("#kv button.save")
                sync_api.expect(page.locator("#message")).to_contain_text("is telnyx-edge dev (or serve) still running?")
            finally:
                browser.close()
                close_http()
        assert while_running == []
    finally:
        close(server)
