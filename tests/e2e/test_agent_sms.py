"""An SMS-style Agent project written the way Telnyx's examples are (`package.json` depends on
`@telnyx/edge-runtime` and lists no esbuild, a `[telnyx]` binding, `this.messages`, `queue()` then
`schedule()`), run as after a failed `npm install`, with no node_modules at all: under `dev` and
under `serve` after `ship` it answers its routes, keeps the conversation and the booked
follow-up across a restart, fires the follow-up, and retries failed sends as the Agent SDK says
(backoff, then parked)."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import PROJECTS, close, eventually, ship, start_dev
from tests.harness import ServerProcess, start_server

pytestmark = pytest.mark.e2e

CUSTOMER = "+15550101234"
OUR_NUMBER = "+15550109999"
FAST = {"TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "50"}


def project_with_follow_up(dest: Path, seconds: int) -> Path:
    """A copy of the project with no node_modules (npm install of @telnyx/edge-runtime 404s)."""
    project = dest / "sms-followup-agent"
    shutil.copytree(PROJECTS / "sms-followup-agent", project)
    assert not (project / "node_modules").exists()
    toml = project / "telnyx.toml"
    toml.write_text(toml.read_text().replace('FOLLOW_UP_SECONDS = "86400"', f'FOLLOW_UP_SECONDS = "{seconds}"'))
    return project


def webhook(customer: str, text: str) -> dict[str, Any]:
    return {"data": {"event_type": "message.received", "payload": {
        "from": {"phone_number": customer}, "to": [{"phone_number": OUR_NUMBER}], "text": text,
    }}}


def debug(client: httpx.Client, customer: str = CUSTOMER) -> dict[str, Any]:
    response = client.get("/debug/state", params={"from": customer})
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def converse(client: httpx.Client, customer: str = CUSTOMER) -> dict[str, Any]:
    """Send one inbound SMS and wait until the agent answered it; returns the debug state."""
    sent = client.post("/webhooks/sms", json=webhook(customer, "Where is my order #42?"))
    assert sent.status_code == 200, sent.text
    assert sent.json() == {"status": "queued", "conversation": "sms-" + customer.lstrip("+")}
    return eventually(lambda: debug(client, customer), lambda d: d["state"]["status"] == "answered")


def check_answered(state: dict[str, Any], customer: str = CUSTOMER) -> None:
    assert state["messageCount"] == 2
    assert [m["role"] for m in state["history"]] == ["user", "assistant"]
    assert state["history"][1]["content"].startswith('Thanks for message #1: "Where is my order #42?"')
    assert state["lastMessage"]["seq"] == 2 and state["lastMessage"]["role"] == "assistant"
    assert [(m["to"], m["from"]) for m in state["state"]["outbox"]] == [(customer, OUR_NUMBER)]
    assert [t["id"] for t in state["pending"]] == [f"check-in-{customer}"]
    assert state["pending"][0]["name"] == "checkIn" and state["pending"][0]["payload"] is None


def check_followed_up(client: httpx.Client, boot_before: str) -> None:
    """The booked check-in fires in the restarted process, once."""
    done = eventually(lambda: debug(client), lambda d: d["state"]["status"] == "checked-in", timeout=15)
    assert done["state"]["checkInBoot"] == done["boot"] != boot_before
    assert done["messageCount"] == 3 and done["state"]["checkIns"] == 1
    assert done["history"][2]["content"].startswith("Checking in")
    assert len(done["state"]["outbox"]) == 2
    assert done["pending"] == []


def test_sms_agent_under_dev_survives_a_restart_and_follows_up(tmp_path: Path, edge_home: Path) -> None:
    project = project_with_follow_up(tmp_path, 3)
    first = start_dev(project, "--no-watch", env=FAST)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            assert client.get("/health/liveness").text == "ok"
            bad = client.post("/webhooks/sms", json={"data": {"event_type": "message.sent"}})
            assert bad.status_code == 400
            answered = converse(client)
            check_answered(answered)
    finally:
        assert close(first) == 0
    second = start_dev(project, "--no-watch", env=FAST)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            check_followed_up(client, answered["boot"])
    finally:
        assert close(second) == 0
    assert not (project / "node_modules").exists()  # nothing was installed into the project


def test_sms_agent_retries_failed_sends_then_parks_the_task(tmp_path: Path, edge_home: Path) -> None:
    project = project_with_follow_up(tmp_path, 86_400)
    server = start_dev(project, "--no-watch", env=FAST)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            # Two failed sends, then the third run of the reply task gets through.
            assert client.post("/debug/outage", json={"from": CUSTOMER, "failures": 2}).status_code == 200
            answered = converse(client)
            check_answered(answered)
            assert answered["state"]["sendFailures"] == 2

            # Down for good: 1 run + 5 retries (the default maxRetries), then parked, no check-in.
            other = "+15550107777"
            assert client.post("/debug/outage", json={"from": other, "failures": 99}).status_code == 200
            assert client.post("/webhooks/sms", json=webhook(other, "hello?")).status_code == 200
            parked = server.wait_for(r'\[agent\] FollowupAgent\("sms-15550107777"\): task "reply" \(id [0-9a-f-]{36}\) parked after 6 failed attempts: Error: SMS provider unavailable')
            assert parked
            state = debug(client, other)
            assert state["state"]["sendFailures"] == 6 and state["state"]["status"] == "replying"
            assert state["pending"] == [] and state["state"]["outbox"] == []
            assert state["messageCount"] == 1  # the answer was never logged
            retries = [ln for ln in server.lines if '("sms-15550107777"): task "reply"' in ln and "retrying in" in ln]
            assert [re.search(r"retrying in (\d+) ms", ln).group(1) for ln in retries] == ["50", "100", "200", "400", "800"]  # type: ignore[union-attr]
    finally:
        assert close(server) == 0


@pytest.fixture
def shipped(tmp_path: Path, edge_home: Path) -> Iterator[Path]:
    project = project_with_follow_up(tmp_path, 3)
    ship(project, "sms-followup")
    assert not (project / "node_modules").exists()
    yield project


def serve() -> tuple[ServerProcess, httpx.Client]:
    server = start_server(["serve", "--port", "0"], env=FAST)
    host = next(
        m.group(1) for ln in server.lines if (m := re.match(r"^\s+sms-followup\s+http://([^/:\s]+\.localhost):\d+$", ln))
    )
    return server, httpx.Client(base_url=server.url, headers={"Host": host}, timeout=30)


def test_sms_agent_under_serve_after_ship(shipped: Path) -> None:
    server, client = serve()
    try:
        answered = converse(client)
        check_answered(answered)
    finally:
        client.close()
        assert close(server) == 0
    server, client = serve()
    try:
        check_followed_up(client, answered["boot"])
    finally:
        client.close()
        assert close(server) == 0
