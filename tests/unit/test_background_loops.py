"""Background loops of the runtime report what goes wrong and go on; stop runs every step
(issue 11): `dev`'s watch loop and `serve`'s poll loop used to end silently on any exception that
was not an EdgeError, and stop() then re-raised it before the runtime was stopped."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from telnyx_edge.runtime import events
from telnyx_edge.runtime.devserver import DevServer
from telnyx_edge.runtime.edge import EdgeServer


class _Source:
    def __init__(self, batches: list[set[Path]]) -> None:
        self.batches = batches

    async def changes(self, stop: asyncio.Event) -> AsyncIterator[set[Path]]:
        for batch in self.batches:
            yield batch


class _Project:
    def __init__(self, root: Path) -> None:
        self.root = root


def test_the_watch_loop_reports_an_unexpected_error_and_keeps_watching(tmp_path: Path) -> None:
    server = object.__new__(DevServer)
    seen: list[events.Event] = []
    server.report = seen.append
    server.projects = [_Project(tmp_path)]  # type: ignore[list-item]
    server._stop_watch = asyncio.Event()
    calls: list[int] = []

    async def reload(project: Any = None) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("disk on fire")

    server.reload = reload  # type: ignore[method-assign]
    asyncio.run(server._watch(_Source([{tmp_path / "a.ts"}, {tmp_path / "b.ts"}])))  # type: ignore[arg-type]
    assert len(calls) == 2  # the second change was still picked up
    failed = [e for e in seen if isinstance(e, events.ReloadFailed)]
    assert [f.message for f in failed] == ["RuntimeError: disk on fire"]


class _Core:
    def __init__(self) -> None:
        self.stopped = False

    async def stop(self) -> None:
        self.stopped = True


@pytest.mark.parametrize("kind", ["dev", "serve"])
def test_stop_stops_the_runtime_even_when_its_background_loop_failed(kind: str) -> None:
    async def scenario() -> _Core:
        core = _Core()

        async def broken() -> None:
            raise RuntimeError("loop died")

        task = asyncio.create_task(broken())
        await asyncio.sleep(0)
        if kind == "dev":
            dev = object.__new__(DevServer)
            dev.report, dev.url, dev._stopped = (lambda e: None), "", False
            dev._stop_watch, dev._watch_task, dev._core = asyncio.Event(), task, core  # type: ignore[assignment]
            with pytest.raises(RuntimeError):
                await dev.stop()
        else:
            edge = object.__new__(EdgeServer)
            edge.report, edge.url, edge._stopped = (lambda e: None), "", False
            edge._stop_poll, edge._poll_task, edge._core = asyncio.Event(), task, core  # type: ignore[assignment]
            with pytest.raises(RuntimeError):
                await edge.stop()
        return core

    assert asyncio.run(scenario()).stopped
