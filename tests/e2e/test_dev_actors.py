"""`telnyx-edge dev` guarantees, against the `lab` fixture: storage semantics, the codec, method
dispatch rules, failures that commit nothing, isolates that exit or hang, re-entrancy, alarms.

One server is shared (module scope) with a 1 s method budget and 200 ms alarm retries, so the
timeouts and retries are quick; tests use distinct actor names so they do not interfere.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, eventually, rpc, start_dev, value
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("lab", tmp_path_factory.mktemp("dev-lab"))
    env = {"TELNYX_EDGE_METHOD_TIMEOUT_MS": "1000", "TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "200"}
    proc = start_dev(project, "--no-watch", env=env)
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


def test_startup_names_an_unset_secret_and_nothing_unavailable(server: ServerProcess) -> None:
    # Secrets and rate limiters work locally now; only [telnyx] is platform-only (test_bindings.py).
    assert "Not available locally" not in server.output
    assert "lab: secret API-KEY (env.SECRETS.get(\"SECRETS\")) is not set" in server.output


KEYS = ["a", "b", "ba", "bb", "c", "d", "e"]
LIST_CASES: list[tuple[dict[str, Any], list[str]]] = [
    ({}, KEYS),
    ({"prefix": "b"}, ["b", "ba", "bb"]),
    ({"prefix": "z"}, []),
    ({"start": "b"}, ["b", "ba", "bb", "c", "d", "e"]),
    ({"startAfter": "b"}, ["ba", "bb", "c", "d", "e"]),
    ({"end": "c"}, ["a", "b", "ba", "bb"]),
    ({"start": "b", "end": "c"}, ["b", "ba", "bb"]),
    ({"startAfter": "ba", "end": "d"}, ["bb", "c"]),
    ({"limit": 3}, ["a", "b", "ba"]),
    ({"reverse": True}, KEYS[::-1]),
    ({"reverse": True, "limit": 2}, ["e", "d"]),
    ({"prefix": "b", "reverse": True}, ["bb", "ba", "b"]),
    ({"start": "b", "end": "d", "reverse": True, "limit": 2}, ["c", "bb"]),
]


@pytest.mark.parametrize(("options", "expected"), LIST_CASES, ids=[str(o) for o, _ in LIST_CASES])
def test_list_options(client: httpx.Client, options: dict[str, Any], expected: list[str]) -> None:
    if not value(client, "listing", "keys", {}):
        value(client, "listing", "seed", KEYS[::-1])
    assert value(client, "listing", "keys", options) == expected


def test_list_orders_by_code_point(client: httpx.Client) -> None:
    # U+1F600 sorts after U+E000 by code point (the engine's order), before it in UTF-16.
    value(client, "unicode", "seed", ["\U0001F600", "\uE000", "a"])
    assert value(client, "unicode", "keys", {}) == ["a", "\uE000", "\U0001F600"]
    assert value(client, "unicode", "keys", {"start": "\uE001"}) == ["\U0001F600"]
    assert value(client, "unicode", "keys", {"reverse": True, "limit": 1}) == ["\U0001F600"]


def test_list_values_limits_and_own_writes(client: httpx.Client) -> None:
    value(client, "listing2", "seed", ["x", "y"])
    assert value(client, "listing2", "entries", {}) == [["x", "X"], ["y", "Y"]]
    value(client, "listing2", "seed", [f"k{i:03d}" for i in range(130)])
    assert len(value(client, "listing2", "keys", {"prefix": "k"})) == 128  # the default limit
    assert len(value(client, "listing2", "keys", {"prefix": "k", "limit": 1000})) == 130
    for bad in (1001, 0):
        result = rpc(client, "listing2", "keys", {"limit": bad})
        assert (result["ok"], result["name"]) == (False, "ActorMethodError")
        assert "limit must be an integer from 1 to 1000" in result["message"]
    as_text = rpc(client, "listing2", "keys", {"limit": "5"})
    assert as_text["message"] == 'list option limit must be an integer from 1 to 1000, got "5" (a string)'
    both = rpc(client, "listing2", "keys", {"start": "a", "startAfter": "b"})
    assert both["message"] == "list options start and startAfter cannot be used together: pick one"
    value(client, "listing2", "put", "w/1", 1)
    # list() inside a turn sees that turn's own put and delete before they commit
    assert value(client, "listing2", "listOwnWrites") == ["w/2"]
    assert value(client, "listing2", "keys", {"prefix": "w/"}) == ["w/2"]


def test_delete_and_delete_all_keep_the_alarm(client: httpx.Client) -> None:
    value(client, "wiper", "put", "k", 1)
    assert value(client, "wiper", "del", "k") is True
    assert value(client, "wiper", "del", "k") is False
    when = value(client, "wiper", "arm", 600_000, "ok")
    value(client, "wiper", "seed", ["p", "q"])
    assert value(client, "wiper", "wipe") == when
    assert value(client, "wiper", "keys", {}) == []
    assert value(client, "wiper", "alarmAt") == when
    value(client, "wiper", "disarm")
    assert value(client, "wiper", "alarmAt") is None


ROUND_TRIP = [
    "string", "number", "negative", "boolean", "null", "array", "object", "date", "map", "set",
    "uint8array", "float64array", "arraybuffer", "bigint", "regexp", "deep",
]


@pytest.mark.parametrize("kind", ROUND_TRIP)
def test_codec_round_trip(client: httpx.Client, kind: str) -> None:
    value(client, "codec", "roundtrip", kind)
    assert value(client, "codec", "check", kind)["equal"] is True


UNSTORABLE = [
    ("function", "cannot serialize a function"),
    ("class", "cannot serialize an instance of Point"),
    ("circular", "cannot serialize a circular structure"),
    ("promise", "cannot serialize a promise"),
    ("symbol", "cannot serialize a symbol"),
    ("nested-function", 'a function (max) at the value for key "bad".deeper[0].fn'),
]


@pytest.mark.parametrize(("kind", "message"), UNSTORABLE, ids=[k for k, _ in UNSTORABLE])
def test_codec_rejects_unstorable_values(client: httpx.Client, kind: str, message: str) -> None:
    result = value(client, "codec-bad", "storeBad", kind)
    assert result.startswith("CodecError: ") and message in result
    assert value(client, "codec-bad", "get", "bad") is None


def test_codec_checks_arguments_and_results(client: httpx.Client) -> None:
    arg = client.get("/badarg/function").json()
    assert arg["name"] == "CodecError" and "arguments of Lab.echo()" in arg["message"]
    result = rpc(client, "codec-ret", "returnBad", "class")
    assert result["name"] == "CodecError" and "return value of Lab.returnBad()" in result["message"]
    assert value(client, "codec-ret", "get", "returned-bad") is None  # the failed turn committed nothing


@pytest.mark.parametrize(
    ("method", "name"),
    [
        ("_secret", "ActorPrivateMethodError"),
        ("nope", "ActorUnknownMethodError"),
        ("alarm", "ActorUnknownMethodError"),
        ("fetch", None),
        ("constructor", "ActorUnknownMethodError"),
        ("webSocket", "ActorUnknownMethodError"),
        ("hasOwnProperty", "ActorUnknownMethodError"),
    ],
)
def test_only_public_methods_are_callable(client: httpx.Client, method: str, name: str | None) -> None:
    result = rpc(client, "dispatch", method)
    if method == "fetch":
        # stub.fetch is the HTTP-style entry, not RPC: called with no Request it fails in the
        # caller, building the Request, before any turn (an RPC dispatch would fail otherwise).
        assert result == {"ok": False, "name": "TypeError", "message": "Failed to parse URL from undefined"}
        return
    assert (result["ok"], result["name"]) == (False, name)


def test_stub_calls_copy_arguments_and_results(client: httpx.Client) -> None:
    assert client.get("/copies").json() == {"flat": 1, "obj": 1, "list": [1, 2], "arg": 5}


def test_stub_shape(client: httpx.Client) -> None:
    assert client.get("/stub").json() == {"id": "stubby", "then": "undefined"}


def test_a_throwing_method_commits_nothing(client: httpx.Client) -> None:
    result = rpc(client, "thrower", "boom", "k1")
    assert result == {"ok": False, "name": "ActorMethodError", "message": "boom after writing k1"}
    assert value(client, "thrower", "get", "k1") is None


def test_a_thrown_transaction_fails_the_turn(client: httpx.Client) -> None:
    result = rpc(client, "txn", "txnFail")
    assert result == {
        "ok": False, "name": "ActorOutputGateError",
        "message": 'transaction() threw in Lab("txn").txnFail(): inside the transaction',
    }
    assert value(client, "txn", "keys", {"prefix": "txn/"}) == ["txn/a", "txn/c"]


def test_reserved_keys_are_rejected(client: httpx.Client) -> None:
    assert value(client, "reserved", "reserved") == (
        'storage key "__telnyx_x" is reserved: keys starting with "__telnyx_" belong to the runtime'
    )
    assert value(client, "reserved", "keys", {}) == []  # nothing was stored


def test_env_vars_reach_actors_and_the_global_env(client: httpx.Client) -> None:
    assert value(client, "env", "greeting") == "hello from env"
    assert client.get("/env").json() == {"atLoad": "hello from env", "binding": "function", "same": True}


def test_reentrancy_fails_fast_naming_the_cycle(client: httpx.Client) -> None:
    started = time.monotonic()
    direct = rpc(client, "loop-a", "callSelf")
    assert direct["name"] == "ActorReentrancyError"
    assert direct["message"].startswith('Lab("loop-a") -> Lab("loop-a")')
    cycle = rpc(client, "loop-a", "ping", "loop-b")
    assert cycle["name"] == "ActorReentrancyError"
    assert cycle["message"].startswith('Lab("loop-a") -> Lab("loop-b") -> Lab("loop-a")')
    assert time.monotonic() - started < 1.0  # fast: not the 1 s method budget
    assert value(client, "loop-a", "callOther", "loop-c") == "v1"  # other actors are fine


def test_method_budget(client: httpx.Client) -> None:
    result = rpc(client, "sleepy", "nap", 3000)
    assert result == {"ok": False, "name": "ActorMethodTimeoutError", "message": 'Lab("sleepy").nap() did not finish within 1000 ms'}
    assert value(client, "sleepy", "nap", 10) == "rested"  # the instance keeps serving


def test_one_activation_one_turn_at_a_time(server: ServerProcess) -> None:
    async def scenario() -> tuple[list[int], list[int], list[int]]:
        async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
            async def call(method: str, *args: Any) -> Any:
                response = await client.post(f"/rpc/fifo/{method}", json={"args": list(args)})
                return response.json()["value"]

            lengths = await asyncio.gather(*(call("append", i) for i in range(30)))
            hits = await asyncio.gather(*(call("memory") for _ in range(30)))
            final = await call("get", "list")
        return lengths, hits, final

    lengths, hits, final = asyncio.run(scenario())
    # Each read-modify-write spans an await; interleaving would lose appends.
    assert sorted(lengths) == list(range(1, 31))
    assert sorted(final) == list(range(30))
    # One activation: its in-memory counter saw every call exactly once.
    assert sorted(hits) == list(range(1, 31))


def failure_of(response: httpx.Response, status: int) -> str:
    """A failed call as "Name: message", whichever Worker the fetch handler ran on: the actor's
    own (the handler went down with it: the runtime answers `status`) or another one (the
    handler caught the stub's error and answered it as JSON)."""
    if response.status_code == 200:
        body = response.json()
        assert body["ok"] is False, body
        return f"{body['name']}: {body['message']}"
    assert response.status_code == status, response.text
    return response.text


def test_process_exit_in_user_code_is_survived(client: httpx.Client, server: ServerProcess) -> None:
    value(client, "boot-exiter", "put", "kept", "yes")
    assert value(client, "boot-exiter", "boots") == 1
    response = client.post("/rpc/boot-exiter/exit", json={"args": []})
    assert failure_of(response, 500).startswith("ActorIsolateCrashedError: the isolate for lab exited (code 3)")
    server.wait_for(r"Isolate replaced: the isolate for lab exited \(code 3\)")
    assert value(client, "boot-exiter", "get", "kept") == "yes"
    assert value(client, "boot-exiter", "boots") == 2  # a fresh activation in the new isolate


def test_a_synchronous_hang_is_killed_and_replaced(client: httpx.Client, server: ServerProcess) -> None:
    value(client, "spinner", "put", "kept", 1)
    started = time.monotonic()
    response = client.post("/rpc/spinner/spin", json={"args": []})
    assert failure_of(response, 504).startswith("ActorMethodTimeoutError: the isolate for lab was blocked for more than 1000 ms")
    assert time.monotonic() - started < 5
    server.wait_for(r"Isolate replaced: .*blocked")
    assert value(client, "spinner", "get", "kept") == 1


def test_fetch_handler_throw_is_a_500(client: httpx.Client) -> None:
    response = client.get("/throw")
    assert response.status_code == 500
    assert response.text == "Error: the fetch handler threw\n"
    assert client.get("/stub").status_code == 200


def _log(client: httpx.Client, name: str) -> list[Any]:
    result: list[Any] = value(client, f"{name}-log", "log")
    return result


def test_alarm_fires_once_and_is_consumed(client: httpx.Client) -> None:
    when = value(client, "alarm-ok", "arm", 150, "ok")
    assert value(client, "alarm-ok", "alarmAt") == when
    log = eventually(lambda: _log(client, "alarm-ok"), lambda log: len(log) >= 1, timeout=5)
    assert log == [[0, False, "ok"]]
    assert value(client, "alarm-ok", "alarmAt") is None
    fired = value(client, "alarm-ok", "get", "alarm-fired")
    assert fired >= when


def test_failed_alarm_is_retried_three_times_then_deleted(client: httpx.Client, server: ServerProcess) -> None:
    value(client, "alarm-bad", "arm", 50, "throw")
    log = eventually(lambda: _log(client, "alarm-bad"), lambda log: len(log) >= 4, timeout=10)
    assert log == [[0, False, "throw"], [1, True, "throw"], [2, True, "throw"], [3, True, "throw"]]
    eventually(lambda: value(client, "alarm-bad", "alarmAt"), lambda when: when is None, timeout=5)
    assert value(client, "alarm-bad", "get", "alarm-fired") is None  # failed runs committed nothing
    assert len(_log(client, "alarm-bad")) == 4
    # The user is told when an alarm is given up (the platform says nothing; locally we do).
    server.wait_for(r'alarm\(\) of Lab\("alarm-bad"\) failed 4 times; the alarm is deleted', timeout=5)
    # A handler that threw was delivered: its retry is booked in the actor's database, not also
    # redelivered by the scheduler as a lost delivery (which once ran a phantom turn after the delete).
    assert "could not be delivered" not in server.output


def test_block_concurrency_while_gates_the_first_call(client: httpx.Client) -> None:
    # The constructor counts boots in storage inside blockConcurrencyWhile(); calls wait for it.
    assert value(client, "booter", "boots") == 1
    assert value(client, "booter", "get", "boots") == 1


def test_actor_fetch_and_new_unique_id(client: httpx.Client) -> None:
    response = client.get("/actorfetch/inbox-1")
    assert response.status_code == 201
    assert response.headers["x-actor"] == "lab"
    assert response.json() == {"id": "inbox-1", "method": "PUT", "path": "/inbox?x=1", "body": "payload"}
    unique = client.get("/unique").json()
    assert unique["value"] == 42 and len(unique["id"]) == 36


def test_a_fetch_handler_that_never_answers_is_a_504(client: httpx.Client) -> None:
    response = client.get("/hang")  # the request budget is 2 x the 1 s method budget
    assert response.status_code == 504
    assert response.text == "RequestTimeoutError: the fetch handler did not respond within 2000 ms\n"
