"""Hot reload: state, alarms and queued requests survive a swap; a broken build keeps the old
code serving; in-memory fields are lost (memory is a cache)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, eventually, start_dev, value
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Path:
    return copy_project("lab", tmp_path_factory.mktemp("dev-reload"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[ServerProcess]:
    # State inside the project: its writes must not look like edits (no reload storm).
    proc = start_dev(project, "--state", "state", env={"TELNYX_EDGE_METHOD_TIMEOUT_MS": "2000"})
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


def _set_version(project: Path, version: str) -> None:
    source = project / "src" / "lab.ts"
    text = source.read_text()
    start = text.index('export const VERSION = "') + len('export const VERSION = "')
    end = text.index('"', start)
    source.write_text(text[:start] + version + text[end:])


class Load(threading.Thread):
    """Calls the actor in a loop until stopped, recording every response."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.stop = threading.Event()
        self.results: list[tuple[int, str]] = []

    def run(self) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as client:
            while not self.stop.is_set():
                try:
                    response = client.post("/rpc/steady/memory", json={"args": []})
                    self.results.append((response.status_code, response.text))
                except httpx.HTTPError as exc:
                    self.results.append((0, repr(exc)))


def test_reload_keeps_state_and_alarms_and_drops_nothing(client: httpx.Client, server: ServerProcess, project: Path) -> None:
    value(client, "keeper", "put", "balance", 70)
    far = value(client, "keeper", "arm", 600_000, "ok")
    soon = value(client, "ringer", "arm", 1500, "ok")
    assert value(client, "keeper", "memory") == 1
    assert value(client, "keeper", "memory") == 2

    load = Load(server.url)
    load.start()
    eventually(lambda: len(load.results), lambda n: n >= 20)
    _set_version(project, "v2")
    server.wait_for(r"Reloaded in \d+ ms")
    after = len(load.results)
    eventually(lambda: len(load.results), lambda n: n >= after + 20)
    load.stop.set()
    load.join()

    assert value(client, "keeper", "version") == "v2"  # the new code answers
    assert server.output.count("Reloaded in") == 1  # the state writes under ./state did not reload
    assert value(client, "keeper", "get", "balance") == 70  # storage kept
    assert value(client, "keeper", "alarmAt") == far  # alarm kept
    assert value(client, "keeper", "memory") == 1  # in-memory fields are gone
    failures = [r for r in load.results if r[0] != 200 or '"ok":true' not in r[1]]
    assert failures == [], failures[:5]
    # the alarm armed before the reload is delivered by the new code
    log = eventually(lambda: value(client, "ringer-log", "log"), lambda log: len(log) >= 1, timeout=10)
    assert log == [[0, False, "ok"]]
    assert value(client, "ringer", "get", "alarm-fired") >= soon


def test_build_error_keeps_old_code_serving(client: httpx.Client, server: ServerProcess, project: Path) -> None:
    value(client, "keeper", "put", "balance", 70)
    _set_version(project, "v2b")  # a known version, whichever tests ran before
    server.wait_for(r"Reloaded in \d+ ms")
    source = project / "src" / "lab.ts"
    good = source.read_text()
    source.write_text(good + "\nexport const broken = ;\n")
    server.wait_for(r"Reload failed: Build failed with 1 error; the previous code keeps serving")
    detail = server.wait_for(r"src/lab\.ts:\d+:\d+: ")
    assert "Unexpected" in detail.string
    assert value(client, "keeper", "version") == "v2b"  # the old code still answers
    source.write_text(good.replace('export const VERSION = "v2b"', 'export const VERSION = "v3"'))
    server.wait_for(r"Reloaded in \d+ ms")
    assert value(client, "keeper", "version") == "v3"
    assert value(client, "keeper", "get", "balance") == 70


def test_restart_keeps_state_and_fires_alarms_that_came_due(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("lab", tmp_path)
    first = start_dev(project, "--no-watch")
    with httpx.Client(base_url=first.url, timeout=30) as client:
        value(client, "survivor", "put", "balance", 5)
        due = value(client, "survivor", "arm", 1200, "ok")
    assert close(first) == 0
    assert "Stopping..." in first.output
    second = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            assert value(client, "survivor", "get", "balance") == 5
            log = eventually(lambda: value(client, "survivor-log", "log"), lambda log: len(log) >= 1, timeout=10)
            assert log == [[0, False, "ok"]]
            assert value(client, "survivor", "get", "alarm-fired") >= due
            assert value(client, "survivor", "alarmAt") is None
    finally:
        assert close(second) == 0


def test_code_that_throws_while_loading_keeps_old_code(client: httpx.Client, server: ServerProcess, project: Path) -> None:
    source = project / "src" / "lab.ts"
    good = source.read_text()
    before = value(client, "keeper", "version")
    source.write_text(good + '\nthrow new Error("boom at load");\n')
    failed = server.wait_for(r"Reload failed: the code threw while loading: Error: boom at load \(at .*lab\.ts:\d+:\d+\)")
    assert "previous code keeps serving" in failed.string
    assert value(client, "keeper", "version") == before
    source.write_text(good.replace(f'export const VERSION = "{before}"', 'export const VERSION = "v4"'))
    server.wait_for(r"Reloaded in \d+ ms")
    assert value(client, "keeper", "version") == "v4"


def test_rapid_saves_make_one_reload(client: httpx.Client, server: ServerProcess, project: Path) -> None:
    source = project / "src" / "lab.ts"
    text = source.read_text()
    current = value(client, "keeper", "version")
    for i in range(3):  # three saves within a few milliseconds
        source.write_text(text + f"\n// save {i}\n")
    server.wait_for(r"Reloaded in \d+ ms")
    source.write_text(text.replace(f'export const VERSION = "{current}"', 'export const VERSION = "v9"'))
    server.wait_for(r"Reloaded in \d+ ms")
    # Had the burst made two reloads, the second line above would be the burst's, not v9's.
    assert value(client, "keeper", "version") == "v9"
