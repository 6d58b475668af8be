"""A Worker that hangs (a synchronous loop in an actor) is replaced; of the work it was given,
only what may have started fails (ActorMethodTimeoutError). Calls and requests that were still
waiting for it (posted to it but not taken, or waiting in an actor's mailbox behind a turn) run
on the replacement, each once: counted in the actors' durable storage, and the runs that block
are marked in another actor first, so a run done twice would show."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e

BUDGET_MS = 2000  # the method budget, and so the watchdog's: a hang is cut after about this long
BLOCKED = f"ActorMethodTimeoutError: the isolate for faults was blocked for more than {BUDGET_MS} ms"


def slot_of(name: str, slots: int) -> int:
    """placement.mjs: FNV-1a (32 bit) over the name's UTF-16 code units (ASCII names here)."""
    h = 0x811C9DC5
    data = name.encode("utf-16-le")
    for i in range(0, len(data), 2):
        h ^= data[i] | data[i + 1] << 8
        h = (h * 0x01000193) & 0xFFFFFFFF
    return h % slots


def names_on(slot: int, slots: int, prefix: str, count: int) -> list[str]:
    found = [f"{prefix}{i}" for i in range(200) if slot_of(f"{prefix}{i}", slots) == slot]
    return found[:count]


def start(project: Path, workers: int) -> ServerProcess:
    env = {"TELNYX_EDGE_METHOD_TIMEOUT_MS": str(BUDGET_MS)}
    state = project.parent / f"state-{workers}"
    return start_dev(project, "--no-watch", "--workers", str(workers), "--state", str(state), env=env)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Path:
    return copy_project("faults", tmp_path_factory.mktemp("hung"))


def post(url: str, name: str, method: str, *args: Any) -> httpx.Response:
    with httpx.Client(base_url=url, timeout=30) as client:
        return client.post(f"/rpc/tally/{name}/{method}", json={"args": list(args)})


def value(url: str, type_: str, name: str, method: str, *args: Any) -> Any:
    with httpx.Client(base_url=url, timeout=30) as client:
        response = client.post(f"/rpc/{type_}/{name}/{method}", json={"args": list(args)})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"], body
    return body["value"]


def in_threads(count: int, work: Any) -> tuple[list[threading.Thread], list[Any]]:
    results: list[Any] = [None] * count

    def run(i: int) -> None:
        results[i] = work()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    return threads, results


def answered(response: httpx.Response) -> Any:
    """The value of a call that must have succeeded: 200 and {"ok": true}."""
    assert response.status_code == 200, f"{response.status_code} {response.text}"
    body = response.json()
    assert body["ok"], body
    return body["value"]


def _running(project: Path, workers: int) -> Iterator[ServerProcess]:
    server = start(project, workers)
    yield server
    assert close(server) == 0
    assert "unhandled rejection" not in server.output


@pytest.fixture
def two(project: Path) -> Iterator[ServerProcess]:
    yield from _running(project, 2)


@pytest.fixture
def one(project: Path) -> Iterator[ServerProcess]:
    yield from _running(project, 1)


def test_calls_waiting_for_a_hung_worker_run_on_its_replacement_once(two: ServerProcess) -> None:
    """Two Workers: a driver on one calls, in order, held.hold() (a turn that waits), held.inc()
    three times (they wait in held's mailbox, on the Worker already), then spinner.spin() (the
    hang), all on the other Worker; then more calls reach the hung Worker from HTTP requests."""
    url = two.url
    spinner, held, extra = names_on(0, 2, "w", 3)
    [driver] = names_on(1, 2, "d", 1)
    assert value(url, "tally", driver, "drive", held, 3, spinner) is None
    two.wait_for(rf"spinning {spinner}")
    # Posted to the hung Worker, which never takes them: they wait for its replacement.
    threads, responses = in_threads(8, lambda: post(url, extra, "inc"))
    two.wait_for(r"Isolate replaced: .*blocked")
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(answered(r) for r in responses) == list(range(1, 9))
    outcomes = value(url, "tally", driver, "outcomes")
    hold, incs, spin = outcomes[0], outcomes[1:4], outcomes[4]
    # What was running on the hung Worker fails with the documented error, and is not run again.
    assert not spin["ok"] and f"{spin['name']}: {spin['message']}".startswith(BLOCKED), spin
    assert not hold["ok"] and f"{hold['name']}: {hold['message']}".startswith(BLOCKED), hold
    # The calls that waited behind hold() in held's mailbox never started there: they ran once.
    assert incs == [{"ok": True, "value": n} for n in (1, 2, 3)], incs
    assert value(url, "tally", held, "count") == 3
    assert value(url, "tally", extra, "count") == 8
    assert sorted(value(url, "log", "hung-runs", "entries")) == [f"hold {held}", f"spin {spinner}"]
    assert len([line for line in two.lines if "Isolate replaced" in line]) == 1


def test_requests_waiting_for_the_only_worker_run_on_its_replacement_once(one: ServerProcess) -> None:
    """One Worker: the HTTP request whose actor hangs it gets a 504 naming the hang; requests
    that arrive meanwhile (their fetch handler never started) are served by the replacement."""
    url = one.url
    hung, hung_result = in_threads(1, lambda: post(url, "lone", "spin"))
    one.wait_for(r"spinning lone")
    threads, responses = in_threads(8, lambda: post(url, "other", "inc"))
    one.wait_for(r"Isolate replaced: .*blocked")
    for thread in [*hung, *threads]:
        thread.join(timeout=30)
    assert hung_result[0].status_code == 504 and hung_result[0].text.startswith(BLOCKED), hung_result[0].text
    assert sorted(answered(r) for r in responses) == list(range(1, 9))
    assert value(url, "tally", "other", "count") == 8
    assert value(url, "log", "hung-runs", "entries") == ["spin lone"]
    assert len([line for line in one.lines if re.search("Isolate replaced", line)]) == 1
