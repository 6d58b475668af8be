"""The per-actor storage engine under `dev`: migration from the old single-file engine, alarms
that survive a kill right after their commit, and one writer per actor database."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from pathlib import Path

import httpx
import pytest

from telnyx_edge.runtime.actor_index import INDEX_FILE
from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.e2e.dev_helpers import close, copy_project, eventually, start_dev, value
from tests.harness import ROOT, RUNTIME_PACKAGES, run_cli

pytestmark = pytest.mark.e2e

# Written by the engine this one replaced (telnyx-edge before per-actor storage): Account
# "dave" (balance 500), "zoë 🚀" (balance 7, note "hi", alarm at 2100-01-01) and "gone" (1).
LEGACY = ROOT / "tests" / "fixtures" / "legacy-state" / "actors.sqlite3"


def _balance(url: str, name: str) -> int:
    reply = httpx.get(f"{url}/accounts/{urllib.parse.quote(name)}/balance", timeout=30).json()
    result: int = reply["balance"]
    return result


def test_state_from_the_old_engine_moves_once_into_per_actor_databases(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("account", tmp_path)
    state = tmp_path / "state"
    state.mkdir()
    shutil.copy(LEGACY, state / "actors.sqlite3")

    first = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert f"Moved the state of 3 actor(s) into per-actor databases under {state} (once)" in first.output
        assert _balance(first.url, "dave") == 500
        assert httpx.post(f"{first.url}/accounts/dave/debit", json={"amount": 1}, timeout=30).json()["balance"] == 499
    finally:
        assert close(first) == 0
    assert not (state / "actors.sqlite3").exists() and (state / "actors.sqlite3.migrated").is_file()
    assert len(list((state / "actors" / "Account").glob("*.sqlite"))) == 3

    listing = run_cli("actors", "instances", "Account", "--state", str(state))
    rows = {line.split("  ")[0]: line for line in listing.stdout.splitlines()[2:]}
    assert set(rows) == {"dave", "zoë 🚀", "gone"}
    assert rows["zoë 🚀"].split()[2:4] == ["2", "10"]  # balance and note: 4 + 6 bytes, kept exactly
    assert "2100-01-01 00:00:00" in rows["zoë 🚀"]

    second = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert "Moved the state" not in second.output
        assert _balance(second.url, "dave") == 499
    finally:
        assert close(second) == 0


@pytest.mark.parametrize("lose_index", [False, True], ids=["index-kept", "index-lost"])
def test_an_alarm_committed_right_before_a_kill_fires_after_restart(
    tmp_path: Path, node_modules: Path, lose_index: bool
) -> None:
    project = copy_project("lab", tmp_path)
    state = tmp_path / "state"
    first = start_dev(project, "--no-watch", "--state", str(state))
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            when = value(client, "sleeper", "arm", 1500, "ok")  # acknowledged: durable
    finally:
        close(first, kill=True)  # at once, before any orderly shutdown
    if lose_index:
        # The schedule must come from the actor databases, not from the runtime's cache.
        for path in state.glob(INDEX_FILE + "*"):
            path.unlink()
    second = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert f"Reading every actor database under {state} (the last run did not stop cleanly)..." in second.output
        with httpx.Client(base_url=second.url, timeout=30) as client:
            log = eventually(lambda: value(client, "sleeper-log", "log"), lambda log: len(log) >= 1, timeout=10)
            assert log == [[0, False, "ok"]]
            assert value(client, "sleeper", "get", "alarm-fired") >= when
            assert value(client, "sleeper", "alarmAt") is None
    finally:
        assert close(second) == 0


_OPEN_SECOND = """
const { ActorDatabase } = await import(process.argv[1]);
try {
  new ActorDatabase(process.argv[2], "Lab", "holder").open();
  console.log("opened");
} catch (err) {
  console.log(`${err.name}: ${err.message}`);
}
"""


def test_a_second_isolate_cannot_open_an_actor_database_that_is_in_use(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("lab", tmp_path)
    state = tmp_path / "state"
    server = start_dev(project, "--no-watch", "--state", str(state))

    def second_open() -> str:
        env = {**os.environ, "TELNYX_EDGE_NODE_PACKAGES": str(RUNTIME_PACKAGES)}
        return subprocess.run(
            ["node", "--input-type=module", "-e", _OPEN_SECOND, "--", (JS_DIR / "actordb.mjs").as_uri(), str(state)],
            capture_output=True, text=True, timeout=30, env=env, check=True,
        ).stdout.strip()

    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            value(client, "holder", "put", "k", 1)  # the activation now holds its database
            refused = second_open()
            assert refused.startswith("ActorStorageError: the database of Lab \"holder\" is open for writing in another isolate")
            assert value(client, "holder", "get", "k") == 1  # the holder is unharmed
    finally:
        assert close(server) == 0
    assert second_open() == "opened"  # released when the runtime stopped
