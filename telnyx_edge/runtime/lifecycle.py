"""Running a runtime in the foreground: start, wait for SIGINT/SIGTERM, stop in order."""

from __future__ import annotations

import asyncio
import gc
import signal
import sys
from typing import Protocol


class Service(Protocol):
    async def start(self) -> str: ...

    async def stop(self) -> None: ...


def run_until_signal(service: Service) -> None:
    """Start `service` on uvloop, serve until SIGINT/SIGTERM, then stop it. Start errors propagate."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
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
            await service.stop()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(main())
