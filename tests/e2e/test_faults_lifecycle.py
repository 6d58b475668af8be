"""Lifecycle faults (issue 10, items 6, 7): a terminal's Ctrl-C goes to the whole process group;
the runtime must still stop in order (requests in flight finish, isolates are not killed under
it), and a second Ctrl-C exits at once and says so. Start-up notices top-level code that never
finishes within its bound and prints one clean error."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import copy_project, start_dev
from tests.harness import run_cli

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


# -- 7. top-level code that never finishes ---------------------------------------------------

STUCK = {
    "loop": {"src/index.ts": "while (true) {}\nexport default { fetch: () => new Response('x') };\n"},
    "await": {"src/index.ts": "await new Promise(() => {});\nexport default { fetch: () => new Response('x') };\n"},
    "import": {
        "src/index.ts": "import { x } from './hang';\nexport default { fetch: () => new Response(String(x)) };\n",
        "src/hang.ts": "await new Promise((resolve) => setTimeout(resolve, 600_000));\nexport const x = 1;\n",
    },
    "timer-loop": {"src/index.ts": "setTimeout(() => { for (;;) {} }, 0);\nawait new Promise((r) => setTimeout(r, 50));\n"
                   "export default { fetch: () => new Response('x') };\n"},
}


def _start_with(tmp_path: Path, files: dict[str, str]) -> tuple[str, float]:
    """Run `dev` on a project made of `files`; returns its output (it must fail) and how long it took."""
    project = copy_project("faults", tmp_path)
    for name in ("actors.ts", "index.ts"):
        (project / "src" / name).unlink()
    (project / "telnyx.toml").write_text('name = "stuck"\nmain = "src/index.ts"\ncompatibility_date = "2026-05-01"\n')
    for name, text in files.items():
        (project / name).write_text(text)
    started = time.monotonic()
    result = run_cli("dev", "--port", "0", "--no-watch", cwd=project, env={"TELNYX_EDGE_STARTUP_TIMEOUT_MS": "1500"}, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output
    for noise in ("Future exception", "Traceback", "Task exception", "Ready on"):
        assert noise not in output, output
    return output, time.monotonic() - started


def _errors(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("❌")]


@pytest.mark.parametrize("kind", sorted(STUCK))
def test_startup_notices_top_level_code_that_never_finishes(tmp_path: Path, node_modules: Path, kind: str) -> None:
    output, elapsed = _start_with(tmp_path, STUCK[kind])
    assert elapsed < 12, f"took {elapsed:.1f} s"
    errors = _errors(output)
    assert len(errors) == 1 and "did not finish loading within 1.5 s" in errors[0], output


def test_startup_notices_an_isolate_that_exits_while_loading(tmp_path: Path, node_modules: Path) -> None:
    output, elapsed = _start_with(tmp_path, {"src/index.ts": "process.exit(7);\nexport default { fetch: () => new Response('x') };\n"})
    assert elapsed < 12, f"took {elapsed:.1f} s"
    errors = _errors(output)
    assert len(errors) == 1 and "exited (code 7)" in errors[0], output
