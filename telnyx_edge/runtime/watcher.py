"""Report source changes under a project. The watcher only reports; the dev dispatcher decides.

`SourceWatcher.start()` returns once the file system watches are in place, so a caller that
starts it before announcing `Ready` cannot miss an edit saved right after that line: changes
are collected from then on, and `changes()` yields them in batches.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter
from watchfiles._rust_notify import RustNotify

IGNORED_DIRS = (*DefaultFilter.ignore_dirs, ".telnyx")


class SourceFilter(DefaultFilter):
    """watchfiles' defaults (.git, node_modules, editor swap files...) plus `.telnyx` and any
    extra directories, such as a `--state` directory inside the project: its writes are not edits."""

    def __init__(self, ignore_paths: Sequence[Path] = ()) -> None:
        super().__init__(ignore_dirs=IGNORED_DIRS)
        self._ignore = tuple(str(p.resolve()) for p in ignore_paths)

    def __call__(self, change: Change, path: str) -> bool:
        if any(path == root or path.startswith(root + "/") for root in self._ignore):
            return False
        return super().__call__(change, path)


class SourceWatcher:
    """Watches `roots`; saves within `debounce_ms` of each other form one batch."""

    def __init__(self, roots: Sequence[Path], *, ignore_paths: Sequence[Path] = (), debounce_ms: int = 60) -> None:
        self._roots = [str(r) for r in roots]
        self._filter = SourceFilter(ignore_paths)
        self._debounce_ms = debounce_ms
        self._notify: RustNotify | None = None

    async def start(self) -> None:
        """Put the watches in place (a recursive walk of the roots, off the event loop)."""
        polling = os.environ.get("WATCHFILES_FORCE_POLLING", "").lower() not in ("", "0", "false")
        self._notify = await asyncio.to_thread(RustNotify, self._roots, False, polling, 300, True, False)

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[set[Path]]:
        """Each batch of changed paths (every change since start() is seen) until `stop` is set."""
        assert self._notify is not None, "start() first"
        notify = self._notify
        # No close() here: a cancelled caller may leave the thread inside watch(), which returns
        # within a step once `stop` is set; the watch thread ends when `notify` is collected.
        while not stop.is_set():
            raw = await asyncio.to_thread(notify.watch, self._debounce_ms, 20, 1000, stop)
            if raw == "stop":
                return
            if isinstance(raw, str):  # a timeout (to re-check stop) or a signal
                continue
            batch = {Path(path) for change, path in raw if self._filter(Change(change), path)}
            if batch:
                yield batch
