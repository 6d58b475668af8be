"""`telnyx-edge dev` against the spec's section 9.1 Account project: the table, serialization,
durability across kill -9, and the missing-manifest message."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, start_dev
from tests.harness import ServerProcess, run_cli
from tests.killtrial import run_trial

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("account", tmp_path_factory.mktemp("dev-account"))
    proc = start_dev(project, "--no-watch")
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


QUICKSTART = [
    ("POST", "/accounts/alice/deposit", {"amount": 100}, '{"account":"alice","balance":100}'),
    ("POST", "/accounts/alice/debit", {"amount": 30}, '{"account":"alice","ok":true,"balance":70}'),
    ("POST", "/accounts/alice/debit", {"amount": 1000}, '{"account":"alice","ok":false,"balance":70}'),
    ("POST", "/accounts/bob/deposit", {"amount": 5}, '{"account":"bob","balance":5}'),
    ("GET", "/accounts/alice/balance", None, '{"account":"alice","balance":70}'),
    ("GET", "/accounts/bob/balance", None, '{"account":"bob","balance":5}'),
]


def test_quickstart_table(client: httpx.Client) -> None:
    for method, path, body, expected in QUICKSTART:
        response = client.request(method, path, json=body)
        assert (response.status_code, response.text) == (200, expected), f"{method} {path}"
        assert response.headers["content-type"].startswith("application/json")


def test_health_and_bad_input(client: httpx.Client) -> None:
    assert client.get("/health/liveness").text == "ok"
    assert client.get("/health/readiness").text == "ok"
    assert client.get("/nowhere").status_code == 404
    bad = client.post("/accounts/zed/deposit", content=b"not json")
    assert bad.status_code == 400
    assert bad.json() == {"error": "amount (number) required"}


def test_malformed_http_and_oversized_bodies_get_4xx_and_the_runtime_keeps_serving(
    server: ServerProcess, client: httpx.Client
) -> None:
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as raw:
        raw.sendall(b"THIS IS NOT HTTP\r\n\r\n")
        assert raw.recv(200).startswith(b"HTTP/1.1 400")
    too_big = client.post("/accounts/zed/deposit", content=b"x" * (10 * 1024 * 1024 + 1))
    assert too_big.status_code == 413
    assert client.get("/accounts/alice/balance").status_code == 200


def test_concurrent_debits_never_overdraw(server: ServerProcess) -> None:
    async def scenario() -> tuple[list[dict[str, object]], dict[str, object]]:
        limits = httpx.Limits(max_connections=200)
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=30) as client:
            deposited = await client.post("/accounts/carol/deposit", json={"amount": 100})
            assert deposited.json() == {"account": "carol", "balance": 100}
            replies = await asyncio.gather(
                # debit-after-pause waits between its check and its write: turns that
                # interleaved would spend one balance twice.
                *(client.post("/accounts/carol/debit-after-pause", json={"amount": 1}) for _ in range(200))
            )
            balance = (await client.get("/accounts/carol/balance")).json()
        return [r.json() for r in replies], balance

    replies, balance = asyncio.run(scenario())
    assert sum(1 for r in replies if r["ok"] is True) == 100
    assert [(r["ok"], r["balance"]) for r in replies if r["ok"] is not True] == [(False, 0)] * 100
    assert balance == {"account": "carol", "balance": 0}
    # Every successful debit saw a distinct balance: the turns ran one at a time.
    assert sorted(r["balance"] for r in replies if r["ok"]) == list(range(100))


@pytest.mark.parametrize("project_name", ["account", "account-sql"], ids=["kv", "sql"])
@pytest.mark.parametrize("trial", [1, 2])
def test_no_acknowledged_debit_lost_across_kill_9(tmp_path: Path, node_modules: Path, project_name: str, trial: int) -> None:
    project = copy_project(project_name, tmp_path)
    state = tmp_path / "elsewhere"
    result = run_trial(project, state, accounts=3, kill_after=200 * trial)
    report = f"acked {result.acked}, attempted {result.attempted}, balances {result.balances}"
    assert result.total_acked >= 200 * trial, report
    # Nothing acknowledged is lost; at most the debits in flight at the kill landed unanswered.
    assert result.lost == 0, report
    assert result.phantom == 0, report
    assert list((state / "actors" / "Account").glob("*.sqlite"))
    assert not (project / ".telnyx" / "dev" / "state").exists()


def test_missing_manifest(tmp_path: Path) -> None:
    result = run_cli("dev", "--port", "0", cwd=tmp_path)
    assert result.returncode == 3
    assert "❌ No project manifest found" in result.stderr
    assert "💡 Run 'telnyx-edge dev' from a directory containing a telnyx.toml manifest." in result.stderr


def test_code_that_throws_at_start(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("account", tmp_path)
    with (project / "src" / "account.ts").open("a") as source:
        source.write('throw new Error("top-level failure");\n')
    result = run_cli("dev", "--port", "0", "--no-watch", cwd=project)
    assert result.returncode == 10
    assert "❌ the code threw while loading: Error: top-level failure (at " in result.stderr
    assert "account.ts:" in result.stderr
    assert "Ready on" not in result.stdout


def test_build_error_at_start(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("account", tmp_path)
    with (project / "src" / "index.ts").open("a") as source:
        source.write("export const = 1;\n")
    result = run_cli("dev", "--port", "0", "--no-watch", cwd=project)
    assert result.returncode == 8
    assert "❌ Build failed with 1 error" in result.stderr
    assert "src/index.ts:" in result.stderr


def test_the_actor_scaffold_runs_under_dev(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    from tests.harness import link_node_modules

    created = run_cli("new-func", "--actor", "--name", "counter", "--no-install", "--dir", str(tmp_path), env={"TELNYX_EDGE_HOME": str(edge_home)})
    assert created.returncode == 0, created.stderr
    project = tmp_path / "counter"
    link_node_modules(project)
    server = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.post("/?name=a").json() == {"name": "a", "value": 1}
            assert client.post("/?name=a").json() == {"name": "a", "value": 2}
            assert client.get("/?name=a").json() == {"name": "a", "value": 2}
            assert client.get("/health/liveness").text == "ok"
    finally:
        assert close(server) == 0


def test_manifest_warnings_are_shown_and_problems_stop_the_start(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("account", tmp_path)
    manifest = project / "telnyx.toml"
    manifest.write_text('colour = "blue"\n' + manifest.read_text())
    server = start_dev(project, "--no-watch")
    try:
        assert "⚠️  telnyx.toml: colour: unknown key (ignored)" in server.output.splitlines()
    finally:
        assert close(server) == 0
    manifest.write_text(manifest.read_text().replace('type = "Account"', 'type = "Acc__ount"'))
    result = run_cli("dev", "--port", "0", "--no-watch", cwd=project)
    assert result.returncode == 3
    assert result.stderr.splitlines()[:2] == [
        "❌ telnyx.toml has 1 problem", "   actors[0].type: 'Acc__ount' must not contain '__'",
    ]
