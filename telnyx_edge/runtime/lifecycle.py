"""Running a runtime in the foreground: start, wait for SIGINT/SIGTERM, stop in order.

The isolates run in their own session (isolate.py), so a terminal's Ctrl-C, which signals the
whole foreground process group, reaches only this process, and the isolates are stopped in order
after the requests in flight. A second SIGINT/SIGTERM during that stop exits at once (code 130):
the isolates see their pipe close and exit; what was not acknowledged was never promised.
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import Protocol

from telnyx_edge.errors import EdgeError
from telnyx_edge.runtime import events

FORCED_EXIT_CODE = 130


_on_abort: list[Callable[[EdgeError], None]] = []


def abort(error: EdgeError) -> None:
    """Stop the runtime running in the foreground, in order, then raise `error` from
    run_until_signal (e.g. its state directory vanished: serving on would lose writes)."""
    for handler in list(_on_abort):
        handler(error)


class Service(Protocol):
    report: events.Reporter

    async def start(self) -> str: ...

    async def stop(self) -> None: ...


def run_until_signal(service: Service) -> None:
    """Start `service` on uvloop, serve until SIGINT/SIGTERM, then stop it. Start errors propagate."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()

        def on_signal() -> None:
            if stop.is_set():
                service.report(events.ForcedExit())
                os._exit(FORCED_EXIT_CODE)
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, on_signal)
        failures: list[EdgeError] = []

        def on_abort(error: EdgeError) -> None:
            failures.append(error)
            stop.set()

        _on_abort.append(on_abort)
        try:
            await service.start()
            # Startup objects never die: keep them out of the collector's way, and collect
            # young objects less often (per-request garbage is short-lived and acyclic).
            gc.collect()
            gc.freeze()
            gc.set_threshold(50_000, 20, 100)
            # The storage writer thread needs the GIL back right after each fsync; with the
            # default 5 ms switch interval a busy event loop would hold every commit that long.
            sys.setswitchinterval(0.0005)
            await stop.wait()
        finally:
            _on_abort.remove(on_abort)
            try:
                await service.stop()
            except Exception:
                if not failures:
                    raise
        if failures:
            raise failures[0]

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(main())
