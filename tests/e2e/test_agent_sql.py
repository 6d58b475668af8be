"""An Agent that keeps rows in `ctx.storage.sql` beside its merge-patch state and schedules a
task per row, written the way Telnyx's example projects are (`package.json` depends on
`@telnyx/edge-runtime`, lists no esbuild; a placeholder func_id) and run with no node_modules
at all. Under `dev` and under `serve` after `ship`: it answers its routes; state, rows and a
booked reminder survive a restart; the reminder fires in the restarted process; a failing
reminder is retried with backoff (its SQL writes standing each time) and parked after its
retry budget, as docs/agents.md says.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import PROJECTS, close, eventually, serve_function, ship, start_dev
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e

FAST = {"TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "50"}
# Long enough that the first process is stopped before it is due, short enough to wait for.
REMIND_IN = 10  # long enough that a slow stop cannot let it fire before the restart


@pytest.fixture
def project(tmp_path: Path, edge_home: Path) -> Path:
    target = tmp_path / "sql-notes-agent"
    shutil.copytree(PROJECTS / "sql-notes-agent", target)
    assert not (target / "node_modules").exists()
    return target


def add(client: httpx.Client, owner: str, text: str, **extra: Any) -> dict[str, Any]:
    response = client.post(f"/owners/{owner}/notes", json={"text": text, **extra})
    assert response.status_code == 201, response.text
    added: dict[str, Any] = response.json()
    return added


def debug(client: httpx.Client, owner: str = "ada") -> dict[str, Any]:
    response = client.get(f"/debug/{owner}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def book(client: httpx.Client) -> dict[str, Any]:
    """Two notes for ada, one with a reminder due in REMIND_IN seconds; returns the debug state."""
    assert client.get("/health/liveness").text == "ok"
    assert client.post("/owners/ada/notes", json={"text": "  "}).status_code == 400
    assert add(client, "ada", "call the bank", remindInSeconds=REMIND_IN) == {"id": 1, "reminder": "remind-1"}
    assert add(client, "ada", "buy stamps", remindInSeconds=None) == {"id": 2, "reminder": None}
    listed = client.get("/owners/ada/notes").json()["notes"]
    assert [(n["id"], n["body"], n["reminded_at"]) for n in listed] == [(1, "call the bank", None), (2, "buy stamps", None)]
    before = debug(client)
    assert before["state"] == {"owner": "ada", "notesTaken": 2, "remindersSent": 0, "lastReminder": None}
    assert [(t["id"], t["name"], t["payload"]) for t in before["pending"]] == [("remind-1", "remind", {"noteId": 1})]
    return before


def check_fired_after_restart(client: httpx.Client, before: dict[str, Any]) -> None:
    """Rows and state came back; the reminder booked before the restart fires once, in this process."""
    after = debug(client)
    assert after["boot"] != before["boot"]
    assert [n["body"] for n in after["notes"]] == ["call the bank", "buy stamps"]
    assert after["state"]["notesTaken"] == 2
    # Not due yet, or already delivered by this process (never by the stopped one).
    assert after["pending"] == before["pending"] or after["state"]["lastReminder"]["boot"] == after["boot"]
    done = eventually(lambda: debug(client), lambda d: d["state"]["remindersSent"] == 1, timeout=30)
    assert done["state"]["lastReminder"]["noteId"] == 1
    assert done["state"]["lastReminder"]["boot"] == done["notes"][0]["reminded_boot"] == after["boot"]
    assert [(n["attempts"], n["reminded_at"] is None) for n in done["notes"]] == [(1, False), (0, True)]
    assert done["pending"] == []


def test_sql_agent_under_dev_survives_a_restart_and_retries(project: Path) -> None:
    first = start_dev(project, "--no-watch", env=FAST)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            before = book(client)
    finally:
        assert close(first) == 0

    second = start_dev(project, "--no-watch", env=FAST)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            check_fired_after_restart(client, before)

            # Fails twice, then gets through: retried after 50 then 100 ms; each failed run's
            # SQL writes (the attempt count) stand.
            assert add(client, "bob", "flaky", remindInSeconds=0, failFirst=2)["reminder"] == "remind-1"
            bob = eventually(lambda: debug(client, "bob"), lambda d: d["state"]["remindersSent"] == 1)
            assert [(n["attempts"], n["fail_left"]) for n in bob["notes"]] == [(3, 0)]
            failed = 'NotebookAgent("notes-bob"): task "remind" (id remind-1) failed'
            retries = [re.search(r"\(attempt (\d) of 6\), retrying in (\d+) ms", ln) for ln in second.lines if failed in ln]
            assert [m.groups() if m else None for m in retries] == [("1", "50"), ("2", "100")]

            # A budget of one retry: two failed runs, then parked (deleted, never run again).
            add(client, "cy", "down for good", remindInSeconds=0, failFirst=5, maxRetries=1)
            second.wait_for(r'NotebookAgent\("notes-cy"\): task "remind" \(id remind-1\) parked after 2 failed attempts: '
                            r"Error: reminder gateway unavailable \(note 1\)")
            cy = debug(client, "cy")
            assert [(n["attempts"], n["fail_left"], n["reminded_at"]) for n in cy["notes"]] == [(2, 3, None)]
            assert cy["pending"] == [] and cy["state"]["remindersSent"] == 0
    finally:
        assert close(second) == 0
    assert not (project / "node_modules").exists()


def serve() -> tuple[ServerProcess, httpx.Client]:
    return serve_function("sql-notes-agent", env=FAST)


def test_sql_agent_under_serve_after_ship(project: Path) -> None:
    ship(project, "sql-notes-agent")
    assert not (project / "node_modules").exists()

    server, client = serve()
    try:
        before = book(client)
    finally:
        client.close()
        assert close(server) == 0
    server, client = serve()
    try:
        check_fired_after_restart(client, before)
    finally:
        client.close()
        assert close(server) == 0
