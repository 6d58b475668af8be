"""The parts every runtime (`dev`, `serve`) assembles: storage engine, registry, alarm scheduler
and HTTP ingress, started in two steps and stopped in one written order.

`open()` starts storage and the registry, so functions can be added; `serve()` then starts alarms
and the front door. `stop()`: 1. stop accepting HTTP and finish in-flight requests; 2. stop the
alarm scheduler; 3. drain and stop the isolates (their last commits land); 4. close storage.
"""

from __future__ import annotations

from pathlib import Path

from telnyx_edge.runtime import events
from telnyx_edge.runtime.alarms import AlarmScheduler
from telnyx_edge.runtime.registry import Limits, Registry
from telnyx_edge.runtime.server import HttpServer, Ingress, bind
from telnyx_edge.runtime.storage import StorageEngine


class RuntimeCore:
    def __init__(
        self, state_file: Path, limits: Limits, report: events.Reporter, *, alarm_retry_delay_s: float = 1.0
    ) -> None:
        self.engine = StorageEngine(state_file)
        self.registry = Registry(self.engine, limits, report)
        self._alarm_retry_delay_s = alarm_retry_delay_s
        self._scheduler: AlarmScheduler | None = None
        self._http: HttpServer | None = None
        self._opened = False

    async def open(self) -> Registry:
        await self.engine.start()
        self._opened = True
        return self.registry

    async def serve(self, host: str, port: int) -> str:
        """Start alarms and the front door; returns the base URL with the real port."""
        # Alarms delivered during a reload wait at the function's gate like any other call.
        self._scheduler = AlarmScheduler(
            self.engine, self.registry.deliver_alarm, retry_delay_s=self._alarm_retry_delay_s
        )
        await self._scheduler.start()
        self._http = HttpServer(Ingress(self.registry), bind(host, port))
        await self._http.start()
        shown = host if ":" not in host else f"[{host}]"
        return f"http://{shown}:{self._http.port}"

    @property
    def port(self) -> int:
        assert self._http is not None
        return self._http.port

    async def stop(self) -> None:
        if self._http is not None:
            await self._http.stop()
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._opened:
            await self.registry.stop()
            await self.engine.stop()
