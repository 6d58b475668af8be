"""Report source changes under a project. The watcher only reports; the dev dispatcher decides."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

from watchfiles import DefaultFilter, awatch

IGNORED_DIRS = (*DefaultFilter.ignore_dirs, ".telnyx")


async def changes(root: Path, stop: asyncio.Event, *, debounce_ms: int = 60) -> AsyncIterator[set[Path]]:
    """Yield each batch of changed paths; saves within `debounce_ms` of each other form one batch."""
    watch_filter = DefaultFilter(ignore_dirs=IGNORED_DIRS)
    async for batch in awatch(root, watch_filter=watch_filter, stop_event=stop, debounce=debounce_ms, step=20, rust_timeout=0):
        yield {Path(path) for _, path in batch}
