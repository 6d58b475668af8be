"""Projects written the way Telnyx's public examples are run unchanged: no node_modules, no
esbuild, `@telnyx/edge-runtime` not installable from npm, a placeholder func_id, `[telnyx]`.

The fixture `sms-notes` is such a project. The `[telnyx]` client talks to a stub of
`POST /v2/messages` on 127.0.0.1 (TELNYX_BASE_URL), so nothing leaves the machine.
"""

from __future__ import annotations

import json
import shutil
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from telnyx_edge import config
from tests.e2e.dev_helpers import PROJECTS, close, start_dev
from tests.harness import run_cli, start_server

pytestmark = pytest.mark.e2e

PLACEHOLDER_WARNING = "edge_compute.func_id: 'replace-with-your-function-id' is not a function id"


class TelnyxStub:
    """A stand-in for api.telnyx.com: answers `POST /v2/messages` and records each request."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                stub.requests.append({
                    "path": self.path, "authorization": self.headers.get("authorization"), "body": json.loads(body or b"{}"),
                })
                found = self.path == "/v2/messages"
                payload = {"data": {"id": "msg-0001", "record_type": "message"}} if found else {"errors": [{"detail": "not found"}]}
                data = json.dumps(payload).encode()
                self.send_response(200 if found else 404)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v2"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub() -> Iterator[TelnyxStub]:
    server = TelnyxStub()
    yield server
    server.close()


@pytest.fixture
def project(tmp_path: Path, edge_home: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of sms-notes with no node_modules at all (as after a failed `npm install`)."""
    monkeypatch.delenv("TELNYX_API_KEY", raising=False)
    monkeypatch.delenv("TELNYX_BASE_URL", raising=False)
    target = tmp_path / "sms-notes"
    shutil.copytree(PROJECTS / "sms-notes", target)
    assert not (target / "node_modules").exists()
    return target


def mint_func_id(tmp_path: Path) -> str:
    """A function on the account, made the way a user does it (`new-func`)."""
    result = run_cli("new-func", "--actor", "--name=sms-notes", "--no-install", "--dir", str(tmp_path / "minted"))
    assert result.returncode == 0, result.stderr
    manifest = config.load_manifest(tmp_path / "minted" / "sms-notes")
    assert manifest.func_id is not None
    return manifest.func_id


def text_notes(client: httpx.Client, phone: str) -> httpx.Response:
    assert client.post(f"/notes/{phone}", content="call back").json() == {"notes": ["call back"]}
    return client.post(f"/text/{phone}")


def test_a_project_without_node_modules_runs_under_dev_ships_and_serves(project: Path, tmp_path: Path, stub: TelnyxStub) -> None:
    # types: no node_modules needed.
    typed = run_cli("types", "-f", str(project))
    assert typed.returncode == 0, typed.stderr
    assert "NOTES: __TelnyxActorNamespace<NotesActor>;" in (project / "telnyx-env.d.ts").read_text()

    # dev: bundled with the toolchain's esbuild; the placeholder func_id is only a warning. The
    # key is an account secret (every secret reaches process.env, as on the platform).
    added = run_cli("secrets", "add", "TELNYX_API_KEY", "KEY-dev-123")
    assert added.returncode == 0, added.stderr
    assert "KEY-dev-123" not in added.stdout + added.stderr
    env = {"TELNYX_BASE_URL": stub.base_url}
    server = start_dev(project, "--no-watch", env=env)
    try:
        assert PLACEHOLDER_WARNING in server.output
        assert "TELNYX (telnyx)" not in server.output  # the one platform binding dev provides
        assert "MODULE_TYPELESS_PACKAGE_JSON" not in server.output  # package.json has no "type"
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/env").json() == {"hasKey": True, "baseUrl": stub.base_url}
            sent = text_notes(client, "+15557654321")
            assert (sent.status_code, sent.json()) == (200, {"sent": "msg-0001"})
    finally:
        assert close(server) == 0
    assert stub.requests == [{
        "path": "/v2/messages", "authorization": "Bearer KEY-dev-123",
        "body": {"from": "+15550001111", "to": "+15557654321", "text": "call back"},
    }]
    assert not (project / "node_modules").exists()  # nothing was installed into the project

    # ship: refuses the placeholder in one line, then ships once the function exists.
    refused = run_cli("ship", "-f", str(project))
    assert refused.returncode != 0
    assert refused.stderr.splitlines()[0] == (
        "❌ func_id 'replace-with-your-function-id' in telnyx.toml is a placeholder, not a function id"
    )
    config.write_edge_compute(project / "telnyx.toml", mint_func_id(tmp_path), "sms-notes")
    shipped = run_cli("ship", "-f", str(project))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr

    # serve runs the shipped revision with the same [telnyx] client; dev's state is its own.
    assert run_cli("secrets", "add", "TELNYX_API_KEY", "KEY-serve-456").returncode == 0  # add overwrites
    served = start_server(["serve", "--port", "0"], env={"TELNYX_BASE_URL": stub.base_url})
    try:
        host = next(line.split()[1].split("//")[1].split(":")[0] for line in served.lines if line.strip().startswith("sms-notes "))
        with httpx.Client(base_url=served.url, headers={"Host": host}, timeout=30) as client:
            sent = text_notes(client, "+15550002222")
            assert (sent.status_code, sent.json()) == (200, {"sent": "msg-0001"})
    finally:
        served.stop()
    assert "MODULE_TYPELESS_PACKAGE_JSON" not in served.output
    assert stub.requests[-1]["authorization"] == "Bearer KEY-serve-456"
    assert stub.requests[-1]["body"]["to"] == "+15550002222"


def test_no_key_is_a_one_line_error_and_a_foreign_edge_runtime_is_ignored(project: Path, stub: TelnyxStub) -> None:
    # node_modules holds some other @telnyx/edge-runtime (say, a stale real install): bundling,
    # the ship load check and the running isolate all use the runtime's own module.
    foreign = project / "node_modules" / "@telnyx" / "edge-runtime"
    foreign.mkdir(parents=True)
    (foreign / "package.json").write_text('{"name": "@telnyx/edge-runtime", "version": "0.9.9", "type": "module", "main": "index.js"}')
    (foreign / "index.js").write_text('throw new Error("the foreign @telnyx/edge-runtime was loaded");\n')
    checked = run_cli("ship", "--dry-run", "-f", str(project))
    assert checked.returncode == 0, checked.stdout + checked.stderr

    server = start_dev(project, "--no-watch", env={"TELNYX_BASE_URL": stub.base_url})
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.get("/env").json() == {"hasKey": False, "baseUrl": stub.base_url}
            failed = text_notes(client, "+15557654321")
    finally:
        assert close(server) == 0
    assert failed.status_code == 502
    message = failed.json()["error"]
    assert message == (
        "env.TELNYX: the TELNYX_API_KEY secret is not set; add it with `telnyx-edge secrets add TELNYX_API_KEY` "
        "(or export TELNYX_API_KEY before starting telnyx-edge) and restart"
    )
    assert stub.requests == []  # nothing was sent without a key
    assert "foreign" not in server.output


def test_a_missing_import_is_one_line(project: Path) -> None:
    index = project / "src" / "index.ts"
    index.write_text('import pad from "left-pad";\nexport const padded = pad;\n' + index.read_text())
    for args in (["ship", "--dry-run"], ["dev", "--port", "0", "--no-watch"]):
        result = run_cli(*args, "-f", str(project), timeout=60) if args[0] == "ship" else run_cli(*args, cwd=project, timeout=60)
        assert result.returncode == 8, result.stdout + result.stderr
        # dev warns about the manifest first; the error itself is the last line, and the only one.
        assert result.stderr.strip().splitlines()[-1] == (
            '❌ Cannot resolve import "left-pad" in src/index.ts:1:16: not found; add it with npm install left-pad'
        ), args
        assert [line for line in result.stderr.splitlines() if not line.startswith("⚠️")] == [
            '❌ Cannot resolve import "left-pad" in src/index.ts:1:16: not found; add it with npm install left-pad'
        ], args


@pytest.mark.slow  # npm install from the registry
def test_new_func_from_an_example_project_installs_and_ships(project: Path, tmp_path: Path) -> None:
    # The examples' README flow: mint a function from the project; its npm install must not 404.
    created = run_cli("new-func", "--from-dir", str(project), "--name=sms-notes", "--dir", str(tmp_path / "mine"), timeout=300)
    assert created.returncode == 0, created.stdout + created.stderr
    assert "✓ Installed dependencies" in created.stdout.splitlines()
    mine = tmp_path / "mine" / "sms-notes"
    assert (mine / "node_modules" / "@telnyx" / "edge-runtime" / "edge-runtime.d.ts").is_file()
    assert (mine / "node_modules" / "telnyx" / "package.json").is_file()  # everything else from the registry
    assert config.load_manifest(mine).func_id_placeholder is None
    shipped = run_cli("ship", "-f", str(mine))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
