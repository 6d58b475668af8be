"""The parts every runtime (`dev`, `serve`) assembles: state directory, instance index, alarm
schedule, registry and the data plane, started in two steps and stopped in one written order.

`open()` locks the state directory (one runtime per directory), migrates state left by the old
single-file engine, opens the instance index (rebuilding it from the actor databases if the last
runtime did not stop cleanly), and starts the data plane (one Node process) with the registry in
front of it, so functions can be added; `serve()` then starts alarms and binds the front door,
which the data plane serves.

`open_explorer()` (after `serve()`) starts the explorer page and API on its own loopback port
(telnyx_edge/explorer); it is the first thing `stop()` closes.

`stop()`, each step run even if an earlier one failed: 0. close the explorer; 1. stop accepting HTTP and finish
in-flight requests; 2. stop the alarm scheduler; 3. drain and unload every function's Workers
(their last batches are durable, their databases closed), then end the data plane; 4. mark the
index clean and release the lock.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime import events, lifecycle
from telnyx_edge.runtime.actor_index import ActorIndex
from telnyx_edge.runtime.logstore import LogStore
from telnyx_edge.runtime.alarms import AlarmScheduler
from telnyx_edge.runtime.dataplane import ActorKey, DataPlane, Listener
from telnyx_edge.runtime.migrate import migrate_legacy
from telnyx_edge.runtime.registry import Limits, Registry
from telnyx_edge.runtime.state_guard import StateGuard, create_state_dir

try:
    import fcntl
except ImportError:  # pragma: no cover - no flock on Windows; the lock is skipped there
    fcntl = None  # type: ignore[assignment]

LOCK_FILE = "runtime.lock"


class RuntimeCore:
    def __init__(
        self, state_dir: Path, limits: Limits, report: events.Reporter, *, packages_dir: Path,
        inspect: str | None = None,
    ) -> None:
        self._inspect = inspect  # "HOST:PORT" of the data plane's inspector (--inspect), else None
        self.state_dir = state_dir
        self.index = ActorIndex(state_dir)
        self.registry = Registry(state_dir, packages_dir, limits, report, self)
        self._report = report
        self.scheduler = AlarmScheduler(
            self.registry.deliver_alarm, on_change=self._alarm_indexed, notice=lambda m: report(events.Notice(m)),
        )
        self.packages_dir = packages_dir
        self._listener: Listener | None = None
        self._plane: DataPlane | None = None
        self._serving = False
        self._restarts: set[asyncio.Task[None]] = set()
        self._lock_fd: int | None = None
        self._guard: StateGuard | None = None
        self._opened = False
        self._explorer: Any = None  # explorer.server.ExplorerServer once open_explorer() ran
        from telnyx_edge import settings

        self.logs = LogStore(settings.get().home / "logs")
        self._log_failed = False

    async def open(self) -> Registry:
        create_state_dir(self.state_dir, LOCK_FILE)  # an OSError here is a RuntimeStateError
        self._take_lock()
        try:
            migrated = migrate_legacy(self.state_dir)
            if migrated is not None:
                self._report(events.StateMigrated(migrated, str(self.state_dir)))
            if self.index.needs_rebuild():
                self._report(events.IndexRebuilding(str(self.state_dir)))
            self.index.open()
            if self.index.replaced_corrupt:
                self._report(events.Notice(f"the instance index {self.index.path} was corrupt: rebuilt it from the actor databases"))
        except BaseException:
            self._release_lock()
            raise
        self.scheduler.load(self.index.alarms())
        self._listener = Listener()
        self._plane = DataPlane(self._listener, self.packages_dir, self, on_exit=self._plane_exited, inspect=self._inspect)
        try:
            await self._plane.start()
            self._inspector_opened(self._plane.info.get("inspector"))
        except BaseException:
            self.index.close()
            self._listener.close()
            self._release_lock()
            raise
        self.registry.attach(self._plane)
        if self._lock_fd is not None:
            self._guard = StateGuard(self.state_dir, self.state_dir / LOCK_FILE, self._lock_fd)
        self._opened = True
        return self.registry

    def _take_lock(self) -> None:
        """One runtime per state directory: two would both fire its alarms and host its actors."""
        if fcntl is None:
            return
        fd = os.open(self.state_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 20, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RuntimeStartError(
                f"actor state {self.state_dir} is in use by another telnyx-edge runtime (pid {holder})",
                hint="Stop the other `telnyx-edge dev` or `serve`: one runtime owns a state directory.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd  # the kernel drops the lock when this closes, even on SIGKILL

    def _release_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    # -- what isolates report (Registry's Reports) -----------------------------------------

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None:
        self.scheduler.set(actor, fire_ms)

    def _alarm_indexed(self, actor: ActorKey, fire_ms: int | None) -> None:
        self.index.set_alarm(actor, fire_ms)

    def actor_stats(self, rows: list[list[Any]]) -> None:
        self.index.apply_stats(rows)

    def replaced(self, function: str, reason: str) -> None:
        self.registry.replaced(function, reason)

    def log(self, records: list[list[Any]]) -> None:
        """A batch of request lines, invocations and user output: stored, then reported."""
        try:
            self.logs.append(records)
        except OSError as exc:
            if not self._log_failed:  # said once: the runtime keeps serving without a log store
                self._log_failed = True
                self._report(events.Notice(f"cannot write the log store under {self.logs.root}: {exc.strerror or exc}"))
        self._report(events.Logged(records))

    def _inspector_opened(self, url: Any) -> None:
        """Report the inspector's URL; a restarted data plane reopens it on the same port
        (port 0 picked one: it is kept), so a debugger re-attaches where it was."""
        if self._inspect is None:
            return
        if not isinstance(url, str):
            # Node could not open it (the port is in use, most likely) and runs on without it.
            self._report(events.Notice(
                f"the inspector could not listen on {self._inspect} (is the port in use?); running without a debugger",
            ))
            return
        from urllib.parse import urlsplit

        port = urlsplit(url).port
        if port:
            self._inspect = f"{self._inspect.rsplit(':', 1)[0]}:{port}"
        self._report(events.InspectorOpen(url))

    def _plane_exited(self, reason: str) -> None:
        # Workers that exit or hang are replaced inside the data plane; this is the process
        # itself (user code that kills it, a native crash). Its database locks went with it and
        # what it committed is in the files; the listening socket stays open here, so clients
        # wait in its backlog while a new data plane loads every function again.
        self._report(events.IsolateReplaced("data plane", f"{reason}; restarting it"))
        task = asyncio.create_task(self._restart_plane())
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart_plane(self) -> None:
        assert self._listener is not None
        delay = 0.05
        while self._opened:
            plane = DataPlane(self._listener, self.packages_dir, self, on_exit=self._plane_exited, inspect=self._inspect)
            try:
                await plane.start()
                self._inspector_opened(plane.info.get("inspector"))
                self._plane = plane
                self.registry.attach(plane)
                await self.registry.restore()
                if self._serving and self._listener.family is not None:
                    await plane.listen(self._listener.family)
                return
            except Exception as exc:  # noqa: BLE001 - reported, then retried
                self._report(events.IsolateReplaced("data plane", f"restart failed: {exc}"))
                await plane.stop()
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    # -- serving ---------------------------------------------------------------------------

    async def serve(self, host: str, port: int) -> str:
        """Start alarms and the front door; returns the base URL with the real port."""
        # Alarms delivered during a reload wait, like any other call, until the actors are handed over.
        assert self._listener is not None and self._plane is not None
        family = self._listener.bind(host, port)
        await self.scheduler.start()
        if self._guard is not None:
            self._guard.start(lifecycle.abort)
        await self._plane.listen(family)
        self._serving = True
        shown = host if ":" not in host else f"[{host}]"
        return f"http://{shown}:{self._listener.port}"

    async def open_explorer(self, port: int, account_home: Path | None = None) -> str:
        """Start the explorer on 127.0.0.1:`port` (0: a free one); returns its URL.
        `account_home`: on `serve`, the account whose functions' revisions it shows."""
        from telnyx_edge import settings
        from telnyx_edge.explorer.server import ExplorerServer

        explorer = ExplorerServer(self, settings.get().home, account_home=account_home)
        url = await explorer.start(port)
        self._explorer = explorer
        if explorer.file_error is not None:
            self._report(events.Notice(explorer.file_error))
        return url

    @property
    def port(self) -> int:
        assert self._listener is not None
        return self._listener.port

    async def stop(self) -> None:
        steps: list[Callable[[], Any]] = []
        if self._explorer is not None:
            steps.append(self._explorer.stop)
        if self._guard is not None:
            steps.append(self._guard.stop)
        for task in list(self._restarts):
            task.cancel()
        if self._serving and self._plane is not None:
            steps.append(self._plane.close)
        steps.append(self.scheduler.stop)
        if self._opened:
            steps.append(self.registry.stop)
        if self._plane is not None:
            steps.append(lambda: self._plane.stop() if self._plane is not None else asyncio.sleep(0))
        errors: list[BaseException] = []
        for step in steps:
            try:
                await step()
            except Exception as exc:  # noqa: BLE001 - every step runs; the first error is raised
                errors.append(exc)
        if self._opened:
            try:
                self.index.close()
            except Exception as exc:  # noqa: BLE001
                errors.append(exc)
            self._opened = False
        if self._listener is not None:
            self._listener.close()
        self._release_lock()
        if errors:
            raise errors[0]
