"""Report source changes under a project. The watcher only reports; the dev dispatcher decides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from watchfiles import Change, DefaultFilter, awatch

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


async def changes(
    roots: Sequence[Path], stop: asyncio.Event, *, ignore_paths: Sequence[Path] = (), debounce_ms: int = 60
) -> AsyncIterator[set[Path]]:
    """Yield each batch of changed paths under `roots`; saves within `debounce_ms` of each other form one batch."""
    async for batch in awatch(
        *roots, watch_filter=SourceFilter(ignore_paths), stop_event=stop, debounce=debounce_ms, step=20, rust_timeout=0,
    ):
        yield {Path(path) for _, path in batch}
