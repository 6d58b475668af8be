"""The Agent SDK under `telnyx-edge dev`, against the `agent-lab` fixture: merge-patch state, the
message log and its adapters, durable tasks (ids, firing, retries, parking, every()), and which
members stubs may call. One server is shared (module scope) with 50 ms retry steps so retries
are quick; tests use distinct actor names so they do not interfere.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, eventually, rpc, start_dev, value
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e

INITIAL = {"greeting": "hi", "nested": {"a": 1}, "list": [1, 2]}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("agent-lab", tmp_path_factory.mktemp("agent-lab"))
    proc = start_dev(project, "--no-watch", env={"TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "50"})
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


def error_of(client: httpx.Client, name: str, method: str, *args: Any) -> tuple[str, str]:
    result = rpc(client, name, method, *args)
    assert not result["ok"], result
    return result["name"], result["message"]


def runs(client: httpx.Client, name: str, count: int, timeout: float = 10) -> list[dict[str, Any]]:
    """The task runs an actor recorded, once there are at least `count` of them."""
    found: list[dict[str, Any]] = eventually(lambda: value(client, name, "runs"), lambda r: len(r) >= count, timeout)
    return found


# ---- state -------------------------------------------------------------------------------

def test_initial_state_is_read_until_something_is_written(client: httpx.Client) -> None:
    assert value(client, "fresh", "state") == INITIAL
    assert value(client, "fresh", "stored") is False  # the default is not stored by a read
    assert value(client, "fresh", "patch", {}) == INITIAL
    assert value(client, "fresh", "stored") is True


MERGE_CASES: list[tuple[str, list[dict[str, Any]], dict[str, Any]]] = [
    ("adds a key", [{"x": 1}], {**INITIAL, "x": 1}),
    ("merges nested objects", [{"nested": {"b": 2}}], {**INITIAL, "nested": {"a": 1, "b": 2}}),
    ("null deletes a key", [{"greeting": None}], {"nested": {"a": 1}, "list": [1, 2]}),
    ("null deletes at depth", [{"nested": {"a": None, "b": 3}}], {**INITIAL, "nested": {"b": 3}}),
    ("null for an absent key is a no-op", [{"ghost": None}], INITIAL),
    ("an array replaces", [{"list": [9]}], {**INITIAL, "list": [9]}),
    ("an empty array replaces", [{"list": []}], {**INITIAL, "list": []}),
    ("an object replaces an array", [{"list": {"k": 1}}], {**INITIAL, "list": {"k": 1}}),
    ("a scalar replaces an object", [{"nested": 5}], {**INITIAL, "nested": 5}),
    ("nulls inside a new object are dropped", [{"fresh": {"a": None, "b": 1}}], {**INITIAL, "fresh": {"b": 1}}),
    ("deep merges accumulate", [{"nested": {"deep": {"x": 1}}}, {"nested": {"deep": {"y": 2}}}],
     {**INITIAL, "nested": {"a": 1, "deep": {"x": 1, "y": 2}}}),
    ("spreading the whole state keeps it", [{**INITIAL, "status": "x"}], {**INITIAL, "status": "x"}),
    ("an empty patch changes nothing", [{}], INITIAL),
    ("a __proto__ key stays a plain key", [{"__proto__": {"polluted": 1}}], {**INITIAL, "__proto__": {"polluted": 1}}),
]


@pytest.mark.parametrize(("case", "patches", "expected"), MERGE_CASES, ids=[c[0] for c in MERGE_CASES])
def test_set_state_is_a_json_merge_patch(client: httpx.Client, case: str, patches: list[dict[str, Any]], expected: dict[str, Any]) -> None:
    name = "merge-" + case.replace(" ", "-")
    for patch in patches:
        returned = value(client, name, "patch", patch)
    assert returned == expected  # setState resolves to the whole new state
    assert value(client, name, "state") == expected


def test_hook_sees_next_and_prev_after_set_and_replace(client: httpx.Client) -> None:
    value(client, "hooked", "patch", {"x": 1})
    assert value(client, "hooked", "replace", {"only": True}) == {"only": True}
    assert value(client, "hooked", "state") == {"only": True}  # no merge, nothing of the old state
    assert value(client, "hooked", "patch", {"more": 1}) == {"only": True, "more": 1}
    assert value(client, "hooked", "hookLog") == [
        {"next": {**INITIAL, "x": 1}, "prev": INITIAL},
        {"next": {"only": True}, "prev": {**INITIAL, "x": 1}},
        {"next": {"only": True, "more": 1}, "prev": {"only": True}},
    ]
    assert value(client, "hooked", "cachedState") == {"only": True, "more": 1}  # `__state`


def test_a_throwing_hook_follows_the_turn_rules(client: httpx.Client) -> None:
    # Caught by the method: the write is in the turn, which commits.
    assert value(client, "hook-throws", "patchHookThrowsCaught") == "onStateChanged threw"
    assert value(client, "hook-throws", "state") == {**INITIAL, "hookThrows": True}
    # Not caught: the method throws, so its turn commits nothing.
    value(client, "hook-throws-2", "patch", {"greeting": "kept"})
    name, message = error_of(client, "hook-throws-2", "patchHookThrows")
    assert (name, message) == ("ActorMethodError", "onStateChanged threw")
    assert value(client, "hook-throws-2", "state") == {**INITIAL, "greeting": "kept"}
    assert len(value(client, "hook-throws-2", "hookLog")) == 1


def test_unstorable_state_and_bad_patches_are_refused(client: httpx.Client) -> None:
    result = value(client, "codec", "patchUnstorable")
    assert result == {"name": "CodecError", "state": INITIAL}
    assert value(client, "codec", "stored") is False
    refused = value(client, "codec", "patchNotAnObject")
    assert refused.startswith("TypeError: setState(patch) takes a plain object")


# ---- messages ----------------------------------------------------------------------------

def test_message_log_orders_by_seq_and_reads_back(client: httpx.Client) -> None:
    name = "chat"
    assert value(client, name, "count") == 0
    assert value(client, name, "lastOne") is None
    assert value(client, name, "lastN", 3) == []
    assert value(client, name, "say", "system", "be brief") == 1
    assert value(client, name, "say", "user", "hello") == 2
    assert value(client, name, "appendMany", [{"role": "assistant", "content": "hi"}, {"role": "user", "content": "bye"}]) == 4
    assert value(client, name, "appendMany", []) == 4
    log = value(client, name, "all")
    assert [(m["seq"], m["role"], m["content"]) for m in log] == [
        (1, "system", "be brief"), (2, "user", "hello"), (3, "assistant", "hi"), (4, "user", "bye"),
    ]
    assert all(isinstance(m["at"], str) and m["at"].endswith("Z") for m in log)  # a Date, as JSON
    assert value(client, name, "count") == 4
    assert value(client, name, "lastOne")["content"] == "bye"
    assert [m["seq"] for m in value(client, name, "lastN", 2)] == [3, 4]
    assert [m["seq"] for m in value(client, name, "lastN", 10)] == [1, 2, 3, 4]


def test_adapters_map_tool_calls(client: httpx.Client) -> None:
    name = "tools"
    value(client, name, "say", "system", "you can look things up")
    value(client, name, "say", "user", "what is 6x7?")
    value(client, name, "append", {
        "role": "assistant", "content": "",
        "toolCalls": [{"id": "c1", "name": "calc", "args": {"x": 6, "y": 7}}, {"id": "c2", "name": "log", "args": {}}],
    })
    value(client, name, "append", {"role": "tool", "content": "42", "toolCallId": "c1", "name": "calc"})
    value(client, name, "append", {"role": "tool", "content": "ok", "toolCallId": "c2", "name": "log"})
    value(client, name, "append", {"role": "assistant", "content": "42", "name": "bot"})
    adapters = value(client, name, "adapters")
    assert adapters["openai"] == [
        {"role": "system", "content": "you can look things up"},
        {"role": "user", "content": "what is 6x7?"},
        {"role": "assistant", "content": "", "tool_calls": [
            {"id": "c1", "type": "function", "function": {"name": "calc", "arguments": '{"x":6,"y":7}'}},
            {"id": "c2", "type": "function", "function": {"name": "log", "arguments": "{}"}},
        ]},
        {"role": "tool", "content": "42", "tool_call_id": "c1", "name": "calc"},
        {"role": "tool", "content": "ok", "tool_call_id": "c2", "name": "log"},
        {"role": "assistant", "content": "42", "name": "bot"},
    ]
    assert adapters["anthropic"] == [
        {"role": "user", "content": "what is 6x7?"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "c1", "name": "calc", "input": {"x": 6, "y": 7}},
            {"type": "tool_use", "id": "c2", "name": "log", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "c1", "content": "42"},
            {"type": "tool_result", "tool_use_id": "c2", "content": "ok"},
        ]},
        {"role": "assistant", "content": "42"},
    ]
    assert adapters["langchain"] == [
        {"role": "system", "content": "you can look things up"},
        {"role": "user", "content": "what is 6x7?"},
        {"role": "assistant", "content": ""},
        {"role": "tool", "content": "42"},
        {"role": "tool", "content": "ok"},
        {"role": "assistant", "content": "42"},
    ]


def test_bad_messages_are_refused_and_batches_are_all_or_nothing(client: httpx.Client) -> None:
    name = "refusals"
    value(client, name, "say", "user", "first")
    assert value(client, name, "appendManyUnstorable") == {"name": "CodecError", "count": 1, "all": 1}
    assert value(client, name, "badMessage", {"role": "robot", "content": "x"}).startswith(
        'TypeError: messages.append(): role must be "system", "user", "assistant" or "tool", got "robot"'
    )
    assert value(client, name, "badMessage", {"role": "user", "content": 5}) == (
        "TypeError: messages.append(): content must be a string, got number"
    )
    assert value(client, name, "say", "user", "second") == 2  # seq numbering did not skip


# ---- the RPC surface ---------------------------------------------------------------------

SDK_MEMBERS = [
    "getState", "setState", "replaceState", "initialState", "onStateChanged", "onTask", "queue",
    "schedule", "every", "cancelSchedule", "listSchedules", "messages", "alarm",
]


@pytest.mark.parametrize("member", SDK_MEMBERS)
def test_sdk_members_are_not_callable_through_a_stub(client: httpx.Client, member: str) -> None:
    # initialState, onStateChanged and onTask are overridden by the subclass: still refused.
    assert error_of(client, "rpc-surface", member) == ("ActorUnknownMethodError", f'LabAgent has no callable method "{member}"')


def test_task_methods_are_public_rpc_unless_underscored(client: httpx.Client) -> None:
    value(client, "rpc-surface", "record", "direct")
    assert value(client, "rpc-surface", "runs") == [{"task": "record", "payload": "direct", "args": 1}]
    assert error_of(client, "rpc-surface", "_hidden")[0] == "ActorPrivateMethodError"


def test_overriding_alarm_fails_construction_with_a_clear_message(client: httpx.Client) -> None:
    name, message = error_of(client, "bad-agent", "ping")
    assert name == "ActorMethodError"
    assert message == (
        'constructing AlarmOverrider("bad-agent") failed: AlarmOverrider must not override alarm(): the Agent SDK '
        "owns the alarm slot and runs queue()/schedule()/every() tasks from it; use a task instead"
    )


# ---- tasks -------------------------------------------------------------------------------

def test_queued_tasks_run_with_exactly_the_payload(client: httpx.Client) -> None:
    name = "queued"
    value(client, name, "book", "queue", 0, "record", {"order": 1})
    value(client, name, "book", "queue", 0, "record")  # no payload: called with undefined
    value(client, name, "book", "queue", 0, "_hidden", [1, 2])  # "_" names: not RPC, still tasks
    assert runs(client, name, 3) == [
        {"task": "record", "payload": {"order": 1}, "args": 1},
        {"task": "record", "args": 1},
        {"task": "_hidden", "payload": [1, 2], "args": 1},
    ]
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])
    assert value(client, name, "alarmAt") is None


def test_unknown_task_names_reach_on_task(client: httpx.Client) -> None:
    name = "unknown-tasks"
    value(client, name, "book", "queue", 0, "noSuchMethod", {"n": 1})
    value(client, name, "book", "queue", 0, "fetch", None)  # a runtime member is no task method
    assert runs(client, name, 2) == [
        {"task": "onTask:noSuchMethod", "payload": {"n": 1}, "attempt": 0, "args": 3},
        {"task": "onTask:fetch", "payload": None, "attempt": 0, "args": 3},
    ]


def test_on_task_sees_the_attempt_count(client: httpx.Client) -> None:
    name = "unknown-fails"
    value(client, name, "book", "queue", 0, "mystery", {"fail": True}, {"maxRetries": 2})
    found = runs(client, name, 3)
    assert [r["attempt"] for r in found] == [0, 1, 2]
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])


def test_listing_ids_upserts_and_cancel(client: httpx.Client) -> None:
    name = "listing"
    before = int(time.time() * 1000)
    late = value(client, name, "book", "schedule", 7200, "record", {"which": "late"})
    early = value(client, name, "book", "schedule", 3600, "record", {"which": "early"}, {"id": "early", "maxRetries": 1})
    assert early == "early"
    assert late != early and len(late) == 36  # a random UUID
    tasks = value(client, name, "tasks")
    assert [t["id"] for t in tasks] == ["early", late]  # soonest first
    first = tasks[0]
    assert set(first) == {"id", "name", "payload", "due", "attempts", "maxRetries", "createdAt"}
    assert first["name"] == "record" and first["payload"] == {"which": "early"}
    assert first["attempts"] == 0 and first["maxRetries"] == 1 and tasks[1]["maxRetries"] == 5
    assert before + 3_600_000 <= first["due"] <= int(time.time() * 1000) + 3_600_000
    assert value(client, name, "alarmAt") == first["due"]  # the alarm follows the earliest task

    # A stable id is an upsert: the pending task is replaced, not duplicated.
    value(client, name, "book", "schedule", 10_800, "record", {"which": "moved"}, {"id": "early"})
    tasks = value(client, name, "tasks")
    assert [t["id"] for t in tasks] == [late, "early"]
    assert tasks[1]["payload"] == {"which": "moved"} and tasks[1]["maxRetries"] == 5
    assert value(client, name, "alarmAt") == tasks[0]["due"]

    assert value(client, name, "cancel", late) is True
    assert value(client, name, "cancel", late) is False
    assert value(client, name, "alarmAt") == value(client, name, "tasks")[0]["due"]
    assert value(client, name, "cancel", "early") is True
    assert value(client, name, "tasks") == []
    assert value(client, name, "alarmAt") is None


def test_bad_scheduling_calls_are_refused(client: httpx.Client) -> None:
    name = "booking-errors"
    assert value(client, name, "bookError", "every", 0, "tick") == (
        "RangeError: every(intervalSeconds, ...) needs a positive number of seconds, got 0"
    )
    assert value(client, name, "bookError", "schedule", "soon", "tick").startswith("TypeError: schedule(delaySeconds, ...) takes a number")
    assert value(client, name, "bookError", "schedule", 1, "") == "TypeError: schedule() needs the name of a method (a non-empty string)"
    assert value(client, name, "bookError", "schedule", 1, "x", None, {"maxRetries": -1}).startswith("RangeError: schedule(): options.maxRetries")
    assert value(client, name, "bookError", "schedule", 1, "x", None, {"id": ""}) == "TypeError: schedule(): options.id must be a non-empty string"
    assert value(client, name, "bookUnstorable") == {"name": "CodecError", "pending": 0}
    assert value(client, name, "tasks") == []


def test_a_failing_task_is_retried_then_parked(client: httpx.Client, server: ServerProcess) -> None:
    name = "failing"
    task_id = value(client, name, "book", "queue", 0, "fail", {"n": 1})
    # The default maxRetries is 5: six runs in all, each one's writes kept although it threw.
    assert runs(client, name, 6) == [{"task": "fail", "payload": {"n": 1}, "args": 1}] * 6
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])
    line = f'[agent] LabAgent("failing"): task "fail" (id {task_id})'
    eventually(lambda: server.output, lambda out: f"{line} parked after 6 failed attempts" in out)
    retries = [ln for ln in server.lines if line in ln and "retrying in" in ln]
    assert [ln.split("retrying in ")[1].split(" ms")[0] for ln in retries] == ["50", "100", "200", "400", "800"]
    assert "failed (attempt 1 of 6)" in retries[0]
    assert len(value(client, name, "runs")) == 6  # parked: never fires again
    assert value(client, name, "alarmAt") is None


def test_a_flaky_task_succeeds_on_a_retry(client: httpx.Client) -> None:
    name = "flaky"
    value(client, name, "book", "queue", 0, "flaky", {"times": 2}, {"maxRetries": 2})
    assert [r["attempt"] for r in runs(client, name, 3)] == [1, 2, 3]
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])


def test_a_task_that_rebooks_itself_then_throws_keeps_the_booking(client: httpx.Client) -> None:
    name = "rebooker"
    value(client, name, "book", "queue", 0, "rebook", {"id": "poll"}, {"id": "poll"})
    runs(client, name, 1)
    tasks = eventually(lambda: value(client, name, "tasks"), lambda t: len(t) == 1 and t[0]["attempts"] == 1)
    assert tasks[0]["id"] == "poll" and tasks[0]["due"] > int(time.time() * 1000) + 3_000_000
    assert value(client, name, "alarmAt") == tasks[0]["due"]


def test_a_task_that_cancels_itself_then_throws_stays_cancelled(client: httpx.Client) -> None:
    name = "self-cancel"
    value(client, name, "book", "queue", 0, "selfCancel", {"id": "once"}, {"id": "once"})
    runs(client, name, 1)
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])
    value(client, name, "book", "queue", 0, "record", "after")  # a later task still runs: nothing is stuck
    assert runs(client, name, 2)[1] == {"task": "record", "payload": "after", "args": 1}


def test_tasks_booked_by_a_task_run_in_a_later_turn(client: httpx.Client) -> None:
    name = "chain"
    value(client, name, "book", "queue", 0, "chain", {"left": 3})
    assert [r["payload"]["left"] for r in runs(client, name, 4)] == [3, 2, 1, 0]
    eventually(lambda: value(client, name, "tasks"), lambda t: t == [])


def test_every_repeats_retries_and_resets_attempts(client: httpx.Client) -> None:
    name = "ticker"
    task_id = value(client, name, "book", "every", 0.1, "tick", {"failOn": [2]})
    assert value(client, name, "tasks")[0]["everyMs"] == 100
    found = runs(client, name, 4)
    assert [r["payload"] for r in found[:4]] == [1, 2, 3, 4]  # run 2 threw, its retry went on
    pending = value(client, name, "tasks")
    assert len(pending) == 1 and pending[0]["attempts"] == 0  # a success resets the count
    assert value(client, name, "cancel", task_id) is True
    settled = len(value(client, name, "runs"))
    value(client, name, "book", "queue", 0, "record", "marker")  # fires after any tick still due
    after = runs(client, name, settled + 1)
    assert after[-1]["task"] == "record" and len(after) == settled + 1


def test_a_task_that_overruns_the_alarm_budget_counts_as_failed(tmp_path: Path, node_modules: Path) -> None:
    # A 300 ms method budget makes the alarm turn's budget 3 s, so the overrun comes quickly.
    project = copy_project("agent-lab", tmp_path)
    server = start_dev(project, "--no-watch", env={"TELNYX_EDGE_METHOD_TIMEOUT_MS": "300", "TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "50"})
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            # Booked first, due while the hang runs (the actor takes no calls meanwhile).
            value(client, "hang", "book", "schedule", 0.5, "record", "next")
            stuck = value(client, "hang", "book", "queue", 0, "hang", None, {"maxRetries": 0})
            server.wait_for(
                rf'\[agent\] LabAgent\("hang"\): task "hang" \(id {stuck}\) parked after 1 failed attempt: '
                r"Error: did not finish within \d+ ms \(the alarm turn's budget\)",
                timeout=15,
            )
            # The drain stopped at the overrun and committed; the next task ran in a later turn.
            found = runs(client, "hang", 2)
            assert [r["task"] for r in found] == ["hang", "record"]
            assert value(client, "hang", "tasks") == []
    finally:
        assert close(server) == 0


def test_a_subclass_gate_and_the_sdk_gate_both_finish_before_the_first_call(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("agent-lab", tmp_path)
    first = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            assert value(client, "init-a", "boots") == {"ready": True, "boots": 1, "cached": {"boots": 1}}
            due = value(client, "init-a", "later", 3600)
            assert len(due) == 36
            when = value(client, "init-a", "alarmAt")
    finally:
        assert close(first) == 0
    second = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            # A new activation: the subclass's gate ran again and the SDK's gate re-checked the alarm.
            assert value(client, "init-a", "boots") == {"ready": True, "boots": 2, "cached": {"boots": 2}}
            assert value(client, "init-a", "alarmAt") == when
        assert "unhandled rejection" not in second.output
    finally:
        assert close(second) == 0


def test_a_quick_subclass_gate_still_waits_for_the_sdk_gate(client: httpx.Client, server: ServerProcess) -> None:
    value(client, "init-quick", "later", 3600)
    assert value(client, "init-quick", "boots") == {"ready": True, "boots": 0, "cached": {"boots": 0}}
    assert "unhandled rejection" not in server.output
