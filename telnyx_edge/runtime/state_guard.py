"""Notice a state directory that disappears or is replaced under a running runtime.

A runtime owns its state directory through `runtime.lock` (core.py). If someone deletes the
directory (or moves it away and puts another in its place), writes that follow would land in
files nobody will read again, and a second runtime could take the path. The guard compares the
directory and the lock file with what the runtime opened, every `CHECK_INTERVAL_S`; on a
mismatch it hands a RuntimeStateError to `on_lost` (the runtime then stops with that error).
Between two checks, the isolates refuse on their own: a batch whose database file was deleted
is not acknowledged, and no new actor database is opened in a missing or replaced directory
(js/actordb.mjs).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path

from telnyx_edge.errors import RuntimeStateError

CHECK_INTERVAL_S = 1.0


def _identity(st: os.stat_result) -> tuple[int, int]:
    return st.st_dev, st.st_ino


class StateGuard:
    def __init__(self, state_dir: Path, lock_file: Path, lock_fd: int) -> None:
        self.state_dir = state_dir
        self.lock_file = lock_file
        self._lock_fd = lock_fd
        self._dir = _identity(os.stat(state_dir))
        self._task: asyncio.Task[None] | None = None

    def check(self) -> RuntimeStateError | None:
        """The problem with the state directory now, or None if it is still the one we own."""
        hint = "Restart the runtime; it recreates an empty state directory, or restore the one you moved."
        try:
            current = _identity(os.stat(self.state_dir))
        except FileNotFoundError:
            return RuntimeStateError(f"the state directory {self.state_dir} was deleted while the runtime ran", hint=hint)
        if current != self._dir:
            return RuntimeStateError(f"the state directory {self.state_dir} was replaced while the runtime ran", hint=hint)
        held = os.fstat(self._lock_fd)
        try:
            on_disk = _identity(os.stat(self.lock_file))
        except FileNotFoundError:
            on_disk = None
        if held.st_nlink == 0 or on_disk != _identity(held):
            return RuntimeStateError(f"{self.lock_file} was removed or replaced while the runtime ran", hint=hint)
        return None

    def start(self, on_lost: Callable[[RuntimeStateError], None]) -> None:
        async def watch() -> None:
            while True:
                await asyncio.sleep(CHECK_INTERVAL_S)
                problem = self.check()
                if problem is not None:
                    on_lost(problem)
                    return

        self._task = asyncio.create_task(watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None


def create_state_dir(state_dir: Path, lock_name: str) -> None:
    """Create `state_dir` (and its parents) and its lock file `lock_name`; raise RuntimeStateError
    naming the directory and the OS's reason when either cannot be made (a read-only or virtual
    file system such as /proc, no permission, a file in the way), instead of a bare OSError."""
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
        os.close(os.open(state_dir / lock_name, os.O_RDWR | os.O_CREAT, 0o644))
    except OSError as exc:
        raise RuntimeStateError(
            f"cannot use {state_dir} as the actor state directory: {exc.strerror or exc}",
            hint="Pass --state a writable directory of its own, e.g. --state .telnyx/dev/state (the default).",
        ) from None
