"""Actor semantics found broken by replayed bug reports (issue 10, items 1-3): every
blockConcurrencyWhile() gate of a constructor holds back methods and alarms; a turn that runs
past its budget tears its activation down, so no two runs of one actor overlap; stub.fetch()
takes the arguments of `new Request(input, init)`."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, eventually, start_dev
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e


def call(client: httpx.Client, type_: str, name: str, method: str, *args: Any) -> dict[str, Any]:
    response = client.post(f"/rpc/{type_}/{name}/{method}", json={"args": list(args)})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def value(client: httpx.Client, type_: str, name: str, method: str, *args: Any) -> Any:
    result = call(client, type_, name, method, *args)
    assert result["ok"], result
    return result["value"]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Path:
    return copy_project("faults", tmp_path_factory.mktemp("faults"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[ServerProcess]:
    # Idle activations close after 200 ms, so an alarm can be the turn that constructs one.
    env = {"TELNYX_EDGE_METHOD_TIMEOUT_MS": "5000", "TELNYX_EDGE_IDLE_MS": "200"}
    proc = start_dev(project, "--no-watch", "--state", str(project.parent / "state-a"), env=env)
    yield proc
    assert close(proc) == 0
    assert "unhandled rejection" not in proc.output


@pytest.fixture(scope="module")
def short(project: Path) -> Iterator[ServerProcess]:
    """A 300 ms method budget (so a 3 s alarm budget) and quick alarm retries."""
    env = {"TELNYX_EDGE_METHOD_TIMEOUT_MS": "300", "TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "100"}
    proc = start_dev(project, "--no-watch", "--state", str(project.parent / "state-b"), env=env)
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


# -- 1. blockConcurrencyWhile ---------------------------------------------------------------


def test_every_constructor_gate_holds_back_the_first_calls(server: ServerProcess) -> None:
    results: list[Any] = []

    def first_call() -> None:
        with httpx.Client(base_url=server.url, timeout=30) as c:
            results.append(value(c, "gated", "g1", "both"))

    # Several calls arrive while the first gate (200 ms, then a storage read) is still open.
    threads = [threading.Thread(target=first_call) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [["loaded", "set"]] * 4
    assert "unhandled rejection" not in server.output
    assert "can only be used while a method" not in server.output


def test_an_alarm_that_constructs_the_actor_waits_for_every_gate(client: httpx.Client, server: ServerProcess) -> None:
    value(client, "gated", "g2", "arm", 1000)
    # The activation closes when idle (200 ms), so the alarm constructs a fresh instance.
    seen = eventually(lambda: value(client, "gated", "g2", "seen"), lambda v: v is not None, timeout=15)
    assert seen == ["loaded", "set"]
    assert "unhandled rejection" not in server.output


# -- 2. one turn at a time, also after a timeout ---------------------------------------------


def _assert_no_overlap(entries: list[str]) -> None:
    """Runs are recorded as `enter R` ... `exit R`; no run may record anything after another entered."""
    running: str | None = None
    for entry in entries:
        kind, run = entry.split(" ", 1)
        if kind == "enter":
            running = run
        else:
            assert run == running, f"{run} exited after {running} entered: two runs overlapped: {entries}"


def test_a_method_that_times_out_does_not_overlap_the_next_turn(short: ServerProcess) -> None:
    with httpx.Client(base_url=short.url, timeout=30) as c:
        first = call(c, "slow", "m", "slow", "m1", 900)
        assert not first["ok"] and first["name"] == "ActorMethodTimeoutError", first
        assert value(c, "slow", "m", "slow", "m2", 0) == "m2"
        short.wait_for(re.escape("run m/m1 ended:"), timeout=15)
        entries = value(c, "log", "m", "entries")
    _assert_no_overlap(entries)
    assert entries[:2] == ["enter m1", "enter m2"] and "exit m2" in entries
    assert "run m/m1 ended: ActorTornDownError" in short.output


def test_an_actor_fetch_that_times_out_does_not_overlap_the_next_turn(short: ServerProcess) -> None:
    with httpx.Client(base_url=short.url, timeout=30) as c:
        assert c.get("/slowfetch/f", params={"run": "f1", "ms": "900"}).status_code == 500
        second = c.get("/slowfetch/f", params={"run": "f2", "ms": "0"})
        assert second.status_code == 200 and second.text == "f2"
        short.wait_for(re.escape("run f/f1 ended:"), timeout=15)
        entries = value(c, "log", "f", "entries")
    _assert_no_overlap(entries)
    assert "exit f2" in entries


def test_an_alarm_that_times_out_is_retried_without_overlap(short: ServerProcess) -> None:
    with httpx.Client(base_url=short.url, timeout=30) as c:
        # The first run sleeps 4.5 s, past the 3 s alarm budget; the retry runs while it sleeps.
        value(c, "slow", "a", "arm", 4500)
        short.wait_for(re.escape("run a/alarm1 ended: recorded"), timeout=20)
        short.wait_for(re.escape("run a/alarm0 ended:"), timeout=20)
        entries = value(c, "log", "a", "entries")
    _assert_no_overlap(entries)
    assert entries == ["enter alarm0", "enter alarm1", "exit alarm1"], entries


# -- 3. stub.fetch(input, init) --------------------------------------------------------------


@pytest.mark.parametrize("shape", ["string", "url", "request"])
def test_stub_fetch_takes_init(client: httpx.Client, shape: str) -> None:
    got = client.get(f"/echo/{shape}").json()
    assert got["method"] == "POST"
    assert got["url"] == "http://echo.internal/inbox?q=1"
    assert got["headers"]["x-probe"] == "yes"
    assert got["headers"]["content-type"] == "text/plain"
    assert got["body"] == "payload"


def test_stub_fetch_init_overrides_a_request(client: httpx.Client) -> None:
    got = client.get("/echo/override").json()
    assert (got["method"], got["body"], got["headers"]["x-probe"]) == ("PATCH", "new", "over")
    plain = client.get("/echo/plain").json()
    assert (plain["method"], plain["body"]) == ("GET", "")


def test_stub_fetch_rejects_what_request_rejects(client: httpx.Client) -> None:
    response = client.get("/echobad")
    assert (response.status_code, response.text) == (400, "TypeError")
