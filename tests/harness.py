"""Helpers that drive the real program: `python -m telnyx_edge` as a child process.

Servers are started on port 0 and read until their `Ready on http://...` line; the wait
races the process exiting, so a crash fails the test at once instead of timing out.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
NODE_FIXTURE = ROOT / "tests" / "fixtures" / "node"
NODE_MODULES = NODE_FIXTURE / "node_modules"
# The runtime's own Node packages (better-sqlite3, esbuild), installed once per checkout and
# shared by every test's TELNYX_EDGE_HOME (see telnyx_edge/runtime/packages.py).
# Keyed by the pinned list, so checkouts (and worktrees) with different lists never reinstall
# over each other.
RUNTIME_PACKAGES = (
    ROOT / "tests" / "fixtures" / "runtime-node"
    / hashlib.sha256((ROOT / "telnyx_edge" / "runtime" / "node" / "package.json").read_bytes()).hexdigest()[:12]
)
READY_RE = re.compile(r"Ready on (http://[^\s]+)")


def node_json(script: str, *argv: str, timeout: float = 30) -> Any:
    """Run the ES module source `script` under Node (`process.argv[1:]` is `argv`) and return the
    JSON it printed; a non-zero exit fails the test with Node's stderr."""
    proc = subprocess.run(
        ["node", "--input-type=module", "-e", script, "--", *argv],
        capture_output=True, text=True, timeout=timeout,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for a child `telnyx-edge`: this checkout first on the path, colour off."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    env["NO_COLOR"] = "1"
    env["TERM"] = "dumb"
    env["COLUMNS"] = "200"
    env.pop("FORCE_COLOR", None)
    env.setdefault("TELNYX_EDGE_NODE_PACKAGES", str(RUNTIME_PACKAGES))
    if extra:
        env.update(extra)
    return env


def run_cli(
    *args: str, cwd: Path | None = None, env: dict[str, str] | None = None,
    input: str | None = None, timeout: float = 120,
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "telnyx_edge", *args], cwd=cwd, env=child_env(env),
        input=input, capture_output=True, text=True, timeout=timeout,
    )


@dataclass
class ServerProcess:
    """A running `telnyx-edge dev` / `serve`; its output lines are collected by a reader thread."""

    proc: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    _queue: queue.Queue[str | None] = field(default_factory=queue.Queue)
    url: str = ""
    _reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            self.lines.append(line)
            self._queue.put(line)
        self._queue.put(None)

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float = 60) -> re.Match[str]:
        """Wait for an output line matching `pattern` (lines already read are not searched again)."""
        regex = re.compile(pattern) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no line matching {regex.pattern!r}; output so far:\n" + self.output)
            try:
                line = self._queue.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is None:
                raise RuntimeError(
                    f"process exited ({self.proc.wait()}) before {regex.pattern!r}; output:\n" + self.output
                )
            match = regex.search(line)
            if match:
                return match

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def stop(self, timeout: float = 15) -> int:
        """SIGINT, wait, then SIGKILL: the same discipline the runtime uses on its children."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.kill()
        self._close()
        return self.proc.wait()

    def _close(self) -> None:
        # The reader sees EOF once the process (and every child holding the pipe) is gone.
        if self._reader is not None:
            self._reader.join(timeout=10)
        if self.proc.stdout is not None and (self._reader is None or not self._reader.is_alive()):
            self.proc.stdout.close()

    def kill(self) -> None:
        """SIGKILL the whole process group: the runtime and every isolate it started."""
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._close()


def start_server(
    args: Sequence[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
    ready_timeout: float = 60,
) -> ServerProcess:
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_edge", *args], cwd=cwd, env=child_env(env),
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, bufsize=1, start_new_session=True,
    )
    server = ServerProcess(proc)
    server._reader = threading.Thread(target=server._read, daemon=True)
    server._reader.start()
    try:
        server.url = server.wait_for(READY_RE, timeout=ready_timeout).group(1)
    except BaseException:
        server.kill()
        raise
    return server


def link_node_modules(project: Path) -> None:
    """Give a test project the shared, once-installed node_modules (esbuild, typescript)."""
    target = project / "node_modules"
    if not target.exists():
        target.symlink_to(NODE_MODULES, target_is_directory=True)
    elif not target.is_symlink():
        # A scaffold's own node_modules (its @telnyx/edge-runtime link): add the shared packages beside it.
        for entry in NODE_MODULES.iterdir():
            if not (target / entry.name).exists():
                (target / entry.name).symlink_to(entry, target_is_directory=entry.is_dir())


Step = Callable[[], None]
