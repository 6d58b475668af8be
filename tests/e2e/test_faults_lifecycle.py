"""Lifecycle faults (issue 10, items 6, 7): a terminal's Ctrl-C goes to the whole process group;
the runtime must still stop in order (requests in flight finish, isolates are not killed under
it), and a second Ctrl-C exits at once and says so."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import copy_project, start_dev

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_a_signal_to_the_process_group_lets_requests_in_flight_finish(
    tmp_path: Path, node_modules: Path, sig: signal.Signals,
) -> None:
    project = copy_project("faults", tmp_path)
    server = start_dev(project, "--no-watch")
    got: list[httpx.Response] = []
    request = threading.Thread(target=lambda: got.append(httpx.get(server.url + "/sleep/1500", timeout=30)))
    request.start()
    server.wait_for("sleeping 1500 ms")
    os.killpg(server.proc.pid, sig)  # what a terminal does: the runtime and everything in its group
    request.join(timeout=30)
    code = server.proc.wait(timeout=30)
    server.stop()
    assert [(r.status_code, r.text) for r in got] == [(200, "slept")], server.output
    assert code == 0, server.output
    assert "Isolate replaced" not in server.output
    assert "Stopping..." in server.output


def test_a_second_ctrl_c_forces_exit(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("faults", tmp_path)
    server = start_dev(project, "--no-watch")
    failed: list[BaseException] = []

    def hang() -> None:
        try:
            httpx.get(server.url + "/hang", timeout=30)
        except httpx.HTTPError as exc:
            failed.append(exc)

    request = threading.Thread(target=hang)
    request.start()
    server.wait_for("hanging")
    os.killpg(server.proc.pid, signal.SIGINT)
    server.wait_for("Stopping...")  # the graceful stop waits for the hanging request
    os.killpg(server.proc.pid, signal.SIGINT)
    code = server.proc.wait(timeout=10)
    request.join(timeout=30)
    server.stop()
    assert code == 130, server.output
    assert "Forced exit" in server.output
    assert failed, "the hanging request should have been cut off"
