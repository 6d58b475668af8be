"""Broken state (issue 10, item 8): a corrupt actor database fails that actor alone with a clear
error while the others serve; a corrupt instance index is rebuilt; a state directory removed or
replaced under a running runtime stops it with a clear error, and no write is acknowledged into
a deleted file. Error messages never repeat a prefix."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev

pytestmark = pytest.mark.e2e


def mark(url: str, name: str, entry: str) -> dict[str, object]:
    response = httpx.post(f"{url}/rpc/log/{name}/mark", json={"args": [entry]}, timeout=30)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


def actor_db(state: Path, name: str) -> Path:
    from telnyx_edge.runtime.actor_index import actor_file

    return actor_file(state, "Log", name)


def no_repeated_prefix(message: str) -> bool:
    parts = [p.strip() for p in message.split(":")]
    return all(a != b for a, b in zip(parts, parts[1:]))


@pytest.fixture
def seeded(tmp_path: Path, node_modules: Path) -> tuple[Path, Path]:
    """The faults project and a state directory where Log("ok") and Log("bad") hold entries."""
    project = copy_project("faults", tmp_path)
    state = tmp_path / "state"
    server = start_dev(project, "--no-watch", "--state", str(state))
    for name in ("ok", "bad"):
        for i in range(20):
            assert mark(server.url, name, f"entry {i} " + "x" * 500)["ok"]
    assert close(server) == 0
    return project, state


@pytest.mark.parametrize("damage", ["garbage-pages", "garbage-header"])
def test_a_corrupt_actor_database_fails_that_actor_only(seeded: tuple[Path, Path], damage: str) -> None:
    project, state = seeded
    path = actor_db(state, "bad")
    size = path.stat().st_size
    with open(path, "r+b") as f:
        start = 4096 if damage == "garbage-pages" else 0  # keep (or not) the valid header page
        f.seek(start)
        f.write(os.urandom(size - start))
    server = start_dev(project, "--no-watch", "--state", str(state))
    try:
        for _ in range(2):  # the second call must not see a lock left by the failed open
            bad = mark(server.url, "bad", "more")
            assert bad["ok"] is False and bad["name"] == "ActorStorageError", bad
            message = str(bad["message"])
            assert 'Log("bad")' in message and "corrupt" in message and "\n" not in message, message
            assert no_repeated_prefix(message), message
        assert mark(server.url, "ok", "more")["ok"]
        assert mark(server.url, "fresh", "new")["ok"]
    finally:
        assert close(server) == 0


def test_a_corrupt_index_is_rebuilt(seeded: tuple[Path, Path]) -> None:
    project, state = seeded
    (state / "index.sqlite3").write_bytes(b"not a database" * 100)
    server = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert "instance index" in server.output and "was corrupt: rebuilt" in server.output
        assert mark(server.url, "ok", "more")["ok"]
    finally:
        assert close(server) == 0
    # The rebuilt index is sound: the next start finds nothing wrong with it.
    server = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert "was corrupt" not in server.output
    finally:
        assert close(server) == 0


@pytest.mark.parametrize("how", ["deleted", "replaced"])
def test_a_state_directory_lost_under_the_runtime_stops_it(tmp_path: Path, node_modules: Path, how: str) -> None:
    project = copy_project("faults", tmp_path)
    state = tmp_path / "state"
    server = start_dev(project, "--no-watch", "--state", str(state))
    try:
        assert mark(server.url, "open", "before")["ok"]  # an activation with its database open
        if how == "deleted":
            shutil.rmtree(state)
        else:
            state.rename(tmp_path / "moved")
            state.mkdir()
        acknowledged = []
        for name in ("open", "new"):
            try:
                result = mark(server.url, name, "after")
            except httpx.HTTPError:
                continue
            if result["ok"]:
                acknowledged.append(name)
            else:
                assert no_repeated_prefix(str(result["message"])), result
        code = server.proc.wait(timeout=15)
    finally:
        server.stop()
    assert code == 11, server.output
    assert re.search(rf"❌ the state directory .* was {how} while the runtime ran", server.output), server.output
    if how == "deleted":
        assert acknowledged == [], f"writes acknowledged into a deleted state directory: {acknowledged}"
    else:
        assert "new" not in acknowledged, "a new actor database was opened in the replaced directory"
