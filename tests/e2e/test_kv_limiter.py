"""A KV-backed rate limiter written the way Telnyx's example projects are (`package.json` depends
on `@telnyx/edge-runtime` and lists no esbuild, a placeholder KV id and func_id), run with no
node_modules at all, as after a failed `npm install`.

The function counts each caller's requests per window in `[storage.kv.RATE_KV]` (one JSON entry
per caller, rewritten with the window's remaining lifetime as `expirationTtl`) and guards its
login route with a `[[ratelimits]]` binding; an Agent per caller counts refusals and books an
alert (a `schedule()` task) after two. Under `dev` it answers, limits, and keeps its counts and a
booked alert across a restart, where the alert fires; under `serve` after `ship` the same, on
the account's KV namespace (KV is account data, shared with the CLI).
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import PROJECTS, close, eventually, serve_function, ship, start_dev
from tests.harness import ServerProcess, run_cli

pytestmark = pytest.mark.e2e

LIMIT = 3  # RATE_LIMIT in the fixture's telnyx.toml
WINDOW = 3600  # WINDOW_SECONDS: long, so that no window ends while a test runs
ALERT_PHONE = "+15550100911"
# ALERT_DELAY_SECONDS for the tests: the first process is stopped before the alert is due.
ALERT_DELAY = 10  # long enough that a slow stop cannot let it fire before the restart


@pytest.fixture
def project(tmp_path: Path, edge_home: Path) -> Path:
    target = tmp_path / "kv-limiter"
    shutil.copytree(PROJECTS / "kv-limiter", target)
    assert not (target / "node_modules").exists()
    toml = target / "telnyx.toml"
    toml.write_text(toml.read_text().replace('ALERT_DELAY_SECONDS = "60"', f'ALERT_DELAY_SECONDS = "{ALERT_DELAY}"'))
    return target


def call(client: httpx.Client, caller: str) -> httpx.Response:
    return client.get("/api/orders", headers={"x-api-key": caller})


def usage(client: httpx.Client, caller: str) -> dict[str, object]:
    response = client.get(f"/usage/{caller}")
    assert response.status_code == 200, response.text
    found: dict[str, object] = response.json()
    return found


def login(client: httpx.Client, username: str) -> int:
    return client.post("/login", json={"username": username}).status_code


def use_up(client: httpx.Client, caller: str) -> None:
    """LIMIT admitted requests (remaining counting down), then a 429 with Retry-After."""
    for remaining in range(LIMIT - 1, -1, -1):
        response = call(client, caller)
        assert response.status_code == 200, response.text
        assert response.json() == {"ok": True, "caller": caller, "path": "/api/orders", "remaining": remaining}
        assert response.headers["x-ratelimit-limit"] == str(LIMIT)
        assert response.headers["x-ratelimit-remaining"] == str(remaining)
    refused = call(client, caller)
    assert refused.status_code == 429, refused.text
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= WINDOW
    assert refused.json() == {"error": "rate limit exceeded", "retryAfter": retry_after}


def alerts(client: httpx.Client, caller: str) -> dict[str, Any]:
    response = client.get(f"/alerts/{caller}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def book_alert(client: httpx.Client, caller: str) -> str:
    """Two refusals in a row book the caller's alert; returns the isolate load that booked it."""
    use_up(client, caller)
    assert call(client, caller).status_code == 429
    booked = alerts(client, caller)
    assert booked["state"]["refusals"] == 2 and booked["state"]["alertBooked"] is True
    assert [(t["id"], t["name"]) for t in booked["pending"]] == [("abuse-alert", "sendAlert")]
    boot: str = booked["boot"]
    return boot


def check_alert_fires_here(client: httpx.Client, caller: str, booked_by: str) -> None:
    """The alert booked before the restart goes out once, from this process."""
    sent = eventually(lambda: alerts(client, caller), lambda a: a["state"]["alertsSent"] == 1, timeout=30)
    assert sent["state"]["lastAlertBoot"] == sent["boot"] != booked_by
    assert [(m["to"], m["text"]) for m in sent["state"]["outbox"]] == [
        (ALERT_PHONE, f"Rate limit: caller {caller} was refused 2 times"),
    ]
    assert sent["pending"] == [] and sent["state"]["refusals"] == 0


def kv_entries() -> dict[str, dict[str, object]]:
    """The namespace's keys, read by the CLI (the same account file the function writes)."""
    listed = run_cli("storage", "kv", "key", "list", "RATE_KV", "--json")
    assert listed.returncode == 0, listed.stderr
    return {entry["name"]: entry for entry in json.loads(listed.stdout)["keys"]}


def test_kv_limiter_under_dev_limits_and_keeps_counts_across_a_restart(project: Path) -> None:
    first = start_dev(project, "--no-watch")
    try:
        assert "storage.kv.RATE_KV.id: '<kv-namespace-uuid>' is not a UUID" in first.output
        with httpx.Client(base_url=first.url, timeout=30) as client:
            assert client.get("/health/liveness").text == "ok"
            assert client.get("/config").json() == {"limit": LIMIT, "windowSeconds": WINDOW}
            assert client.get("/api/orders").status_code == 401  # no caller, no count
            assert client.get("/nowhere").status_code == 404

            started = time.time()
            use_up(client, "team-a")
            # Per caller: another key has its own window.
            assert call(client, "team+b").json()["remaining"] == LIMIT - 1
            used = usage(client, "team-a")
            reset_at = used.pop("resetAt")
            assert used == {"caller": "team-a", "limit": LIMIT, "count": LIMIT, "rejected": 1, "remaining": 0}
            assert isinstance(reset_at, int) and started + WINDOW - 2 <= reset_at <= time.time() + WINDOW + 1
            # The platform limiter: 2 logins a minute per user name.
            assert [login(client, "ada") for _ in range(3)] == [200, 200, 429]
            assert login(client, "grace") == 200

            # Each entry expires with its window: expirationTtl, seen from the CLI.
            entries = kv_entries()
            assert set(entries) == {"limits/team-a", "limits/team=2bb"}
            expiration = entries["limits/team-a"]["expiration"]
            assert isinstance(expiration, int)
            assert started + WINDOW - 2 <= expiration <= time.time() + WINDOW + 1

            assert alerts(client, "team-a")["pending"] == []  # one refusal: no alert yet
            booted = book_alert(client, "noisy")  # the last step: stopped before it is due
    finally:
        assert close(first) == 0

    second = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            assert call(client, "team-a").status_code == 429  # still over its limit
            assert usage(client, "team-a")["rejected"] == 2
            assert [t["id"] for t in alerts(client, "team-a")["pending"]] == ["abuse-alert"]  # its 2nd refusal
            check_alert_fires_here(client, "noisy", booted)
            assert call(client, "team+b").json()["remaining"] == LIMIT - 2
            assert login(client, "ada") == 429  # dev's limiter windows are in .telnyx/dev/state
            assert login(client, "grace") == 200

            # A reset starts the caller's window over.
            assert client.delete("/usage/team-a").json() == {"caller": "team-a", "reset": True}
            assert usage(client, "team-a")["count"] == 0 and usage(client, "team-a")["resetAt"] is None
            assert call(client, "team-a").json()["remaining"] == LIMIT - 1
    finally:
        assert close(second) == 0
    assert not (project / "node_modules").exists()


def serve() -> tuple[ServerProcess, httpx.Client]:
    return serve_function("kv-limiter")


def test_kv_limiter_under_serve_after_ship(project: Path) -> None:
    ship(project, "kv-limiter")
    assert not (project / "node_modules").exists()

    server, client = serve()
    try:
        assert client.get("/health/liveness").text == "ok"
        use_up(client, "team-a")
        assert [login(client, "ada") for _ in range(3)] == [200, 200, 429]
        # The namespace is account data: a count the CLI writes is the function's too.
        put = run_cli("storage", "kv", "key", "put", "RATE_KV", "limits/early",
                      json.dumps({"startedAt": int(time.time() * 1000), "count": 2, "rejected": 0}), "--ttl", f"{WINDOW}s")
        assert put.returncode == 0, put.stderr
        assert call(client, "early").json()["remaining"] == 0
        assert call(client, "early").status_code == 429
        booted = book_alert(client, "noisy")
    finally:
        client.close()
        assert close(server) == 0

    server, client = serve()
    try:
        assert call(client, "team-a").status_code == 429
        assert usage(client, "team-a")["rejected"] == 2
        assert usage(client, "early")["count"] == LIMIT
        assert login(client, "ada") == 429  # serve's limiter windows are in $TELNYX_EDGE_HOME/state
        check_alert_fires_here(client, "noisy", booted)
    finally:
        client.close()
        assert close(server) == 0
