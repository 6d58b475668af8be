"""Hostile `Host` headers under `dev` and `serve` (issue 10, item 4): a Host that is not exactly
host[:port] gets a one-line 400 before user code runs; the path and query user code sees always
come from the request line; `serve` routes on the validated host name only."""

from __future__ import annotations

import json
import re
import socket
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import tomlkit

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ServerProcess, run_cli, start_server

pytestmark = pytest.mark.e2e

BAD_HOSTS = [
    "evil.example/admin?x=",  # a path and a query
    "evil.example?x=1",
    "evil.example#frag",
    "",  # empty
    "a b c",  # spaces
    "user@evil.example",  # userinfo
    "a@b",
    "localhost:99999",  # port out of range
    "localhost:0",
    "localhost:",
    "localhost:80x",
    "localhost:80:81",
    "::1",  # IPv6 without brackets
    "[::1",
    "[not-an-ip]",
    "[::1]junk",
    "%2e%2e",
    "evil.example\\admin",
]
GOOD_HOSTS = [("Localhost", "localhost"), ("api.example:8080", "api.example:8080"), ("[::1]:81", "[::1]:81"), ("127.0.0.1", "127.0.0.1")]


def raw_request(url: str, head: str) -> tuple[int, str]:
    """Send `head` (request line and headers) as is; returns (status, body)."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(head.encode("latin-1") + b"Connection: close\r\n\r\n")
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    header, _, body = data.partition(b"\r\n\r\n")
    return int(header.split()[1]), body.decode("latin-1")


def get(url: str, host: str | None, target: str = "/accounts/x/balance?q=1") -> tuple[int, str]:
    host_line = "" if host is None else f"Host: {host}\r\n"
    return raw_request(url, f"GET {target} HTTP/1.1\r\n{host_line}")


def check_bad_hosts(url: str) -> None:
    for host in BAD_HOSTS:
        status, body = get(url, host)
        assert status == 400, (host, status, body)
        assert body.count("\n") == 1 and "Host" in body, (host, body)
    status, body = get(url, None)
    assert status == 400 and "no Host header" in body
    status, body = raw_request(url, "GET / HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n")
    assert status == 400 and "more than one Host" in body


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("faults", tmp_path_factory.mktemp("hosts"))
    proc = start_dev(project, "--no-watch")
    yield proc
    assert close(proc) == 0


def test_dev_refuses_hosts_that_are_not_host_port(dev: ServerProcess) -> None:
    check_bad_hosts(dev.url)


def test_dev_takes_path_and_query_from_the_request_line(dev: ServerProcess) -> None:
    for host, shown in GOOD_HOSTS:
        status, body = get(dev.url, host)
        assert status == 200, (host, body)
        assert json.loads(body)["url"] == f"http://{shown}/accounts/x/balance?q=1"
    # HTTP/1.0 may leave Host out.
    status, body = raw_request(dev.url, "GET /p?q HTTP/1.0\r\n")
    assert status == 200 and json.loads(body)["url"] == "http://localhost/p?q"
    # An absolute-form request target gives its path and query; the authority stays Host's.
    status, body = raw_request(dev.url, "GET http://other.example/p/q?x=1 HTTP/1.1\r\nHost: a.example\r\n")
    assert status == 200 and json.loads(body)["url"] == "http://a.example/p/q?x=1"


def test_dev_refuses_a_websocket_handshake_without_connection_upgrade(dev: ServerProcess) -> None:
    """Node hands only a proper handshake to the upgrade path; a half one must not reach user code."""
    status, body = raw_request(
        dev.url, "GET /ws HTTP/1.1\r\nHost: a.example\r\nUpgrade: websocket\r\n"
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n",
    )
    assert status == 400 and body.count("\n") == 1 and "Connection: Upgrade" in body, body


def test_serve_routes_on_the_validated_host_only(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    (tmp_path / "scaffold").mkdir()
    made = run_cli("new-func", "--actor", "--name=faults", "--no-install", cwd=tmp_path / "scaffold")
    assert made.returncode == 0, made.stderr
    scaffold = tmp_path / "scaffold" / "faults"
    project = copy_project("faults", tmp_path)
    doc = tomlkit.parse((project / "telnyx.toml").read_text())
    doc["edge_compute"] = tomlkit.parse((scaffold / "telnyx.toml").read_text())["edge_compute"]
    (project / "telnyx.toml").write_text(tomlkit.dumps(doc))
    shipped = run_cli("ship", "-f", str(project))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    server = start_server(["serve", "--port", "0"])
    try:
        host = next(m.group(1) for line in server.lines if (m := re.search(r"http://([a-z0-9-]+\.localhost):\d+", line)))
        check_bad_hosts(server.url)
        status, body = get(server.url, f"{host.upper()}:1234")
        assert status == 200 and json.loads(body)["url"] == f"http://{host}:1234/accounts/x/balance?q=1"
        # The fully qualified form (a trailing dot) names the same host.
        assert get(server.url, f"{host}.")[0] == 200
        # A crafted Host neither reaches the function nor changes its path.
        for crafted in (f"{host}/admin", f"{host}?x=", f"x@{host}", f"{host} x"):
            assert get(server.url, crafted)[0] == 400, crafted
        assert get(server.url, "other.localhost")[0] == 404
    finally:
        assert close(server) == 0
