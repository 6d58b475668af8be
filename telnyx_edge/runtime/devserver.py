"""`telnyx-edge dev`: the composition root and the dispatcher of the dev pipeline.

manifest -> bundle -> registry (isolates) -> ingress -> "ready"; on a change: rebuild, swap the
isolate (registry.replace), report "reloaded". Start and stop are explicit, and stop runs in
this order: 1. stop watching; 2. stop accepting HTTP and finish in-flight requests; 3. stop the
alarm scheduler; 4. drain and stop the isolates (their last commits land); 5. close storage.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from telnyx_edge import bundle
from telnyx_edge.config import Manifest, load_manifest
from telnyx_edge.errors import BundleError, ConfigError, EdgeError
from telnyx_edge.runtime import events, watcher
from telnyx_edge.runtime.alarms import AlarmScheduler
from telnyx_edge.runtime.isolate import JS_DIR
from telnyx_edge.runtime.registry import FunctionSpec, Limits, Registry
from telnyx_edge.runtime.server import HttpServer, Ingress, bind
from telnyx_edge.runtime.storage import StorageEngine

DEV_DIR = Path(".telnyx") / "dev"
STATE_FILE = "actors.sqlite3"
KEEP_BUILDS = 3


@dataclass(frozen=True)
class DevOptions:
    project: Path
    host: str = "127.0.0.1"
    port: int = 8787
    state_dir: Path | None = None
    watch: bool = True
    limits: Limits = field(default_factory=Limits)
    alarm_retry_delay_s: float = 1.0


def load_project(project: Path) -> Manifest:
    """The manifest of a project `dev` can run, or the error that says why not."""
    if not (project / "telnyx.toml").is_file():
        if (project / "func.toml").is_file():
            raise ConfigError(
                "telnyx-edge dev runs umbrella projects (telnyx.toml); this is a func.toml project",
                hint="A single-function func.toml project has no actors to host: run it with its own start script.",
            )
        raise ConfigError(
            "No project manifest found",
            hint="Run 'telnyx-edge dev' from a directory containing a telnyx.toml manifest.",
        )
    return load_manifest(project)


class DevServer:
    def __init__(self, options: DevOptions, report: events.Reporter) -> None:
        self.options = options
        self.project = options.project.resolve()
        self.report = report
        self.dev_dir = self.project / DEV_DIR
        self.state_dir = (options.state_dir or self.dev_dir / "state").resolve()
        self._build_no = 0
        self._engine: StorageEngine | None = None
        self._registry: Registry | None = None
        self._scheduler: AlarmScheduler | None = None
        self._http: HttpServer | None = None
        self._stop_watch = asyncio.Event()
        self._watch_task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self.url = ""
        self._stopped = False

    # -- build -----------------------------------------------------------------------------

    def _build(self, manifest: Manifest) -> FunctionSpec:
        """Bundle into a fresh numbered directory (a running isolate keeps its own files)."""
        if manifest.main is None:
            raise ConfigError("telnyx.toml has no main", hint="Set main = \"src/index.ts\" in telnyx.toml.")
        builds = self.dev_dir / "build"
        self._link_runtime(builds)
        self._build_no += 1
        outdir = builds / str(self._build_no)
        if outdir.exists():
            shutil.rmtree(outdir)
        result = bundle.build(self.project, manifest.main, outdir)
        for old in builds.iterdir():
            if old.name.isdigit() and int(old.name) <= self._build_no - KEEP_BUILDS:
                shutil.rmtree(old, ignore_errors=True)
        bindings = {a.binding: a.type for a in manifest.actors}
        owned = tuple(sorted({a.type for a in manifest.actors if a.type in result.exports}))
        return FunctionSpec(
            name=manifest.display_name, bundle_path=result.js_path, bindings=bindings,
            owned_types=owned, env_vars=dict(manifest.env_vars),
        )

    @staticmethod
    def _link_runtime(builds: Path) -> None:
        # Bundles keep `import ... from "@telnyx/edge-runtime"`; Node resolves it through this
        # link to the runtime's own module, the one the host loaded.
        scope = builds / "node_modules" / "@telnyx"
        link = scope / "edge-runtime"
        scope.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() and link.resolve() == JS_DIR.resolve():
            return
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(JS_DIR.resolve(), target_is_directory=True)

    def _next_start_build(self) -> None:
        builds = self.dev_dir / "build"
        if builds.is_dir():
            numbers = [int(p.name) for p in builds.iterdir() if p.name.isdigit()]
            self._build_no = max(numbers, default=0)

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        manifest = load_project(self.project)
        if manifest.platform_bindings:
            self.report(events.Unavailable(tuple((b.binding, b.kind) for b in manifest.platform_bindings)))
        self._next_start_build()
        spec = await asyncio.to_thread(self._build, manifest)
        self._engine = StorageEngine(self.state_dir / STATE_FILE)
        await self._engine.start()
        self._registry = Registry(self._engine, self.options.limits, self.report)
        await self._registry.add(spec)
        unresolved = self._registry.unresolved(spec)
        if unresolved:
            self.report(events.Unresolved(spec.name, unresolved))
        # Alarms delivered during a reload wait at the function's gate like any other call.
        self._scheduler = AlarmScheduler(
            self._engine, self._registry.deliver_alarm, retry_delay_s=self.options.alarm_retry_delay_s
        )
        await self._scheduler.start()
        self._http = HttpServer(Ingress(self._registry), bind(self.options.host, self.options.port))
        await self._http.start()
        host = self.options.host if ":" not in self.options.host else f"[{self.options.host}]"
        self.url = f"http://{host}:{self._http.port}"
        self.report(events.Ready(self.url))
        if self.options.watch:
            self._watch_task = asyncio.create_task(self._watch())
        return self.url

    async def _watch(self) -> None:
        async for _ in watcher.changes(self.project, self._stop_watch, ignore_paths=[self.state_dir]):
            await self.reload()

    async def reload(self) -> None:
        """Rebuild and swap. A failure is reported and the old code keeps serving."""
        assert self._registry is not None
        async with self._reload_lock:
            started = time.perf_counter()
            try:
                manifest = load_project(self.project)
                spec = await asyncio.to_thread(self._build, manifest)
                await self._registry.replace(spec)
            except BundleError as exc:
                self.report(events.ReloadFailed(exc.message, tuple(exc.details)))
                return
            except EdgeError as exc:
                self.report(events.ReloadFailed(exc.message, ((exc.hint or ""),) if exc.hint else ()))
                return
            self.report(events.Reloaded((time.perf_counter() - started) * 1000))

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.url:
            self.report(events.Stopping())
        self._stop_watch.set()
        if self._watch_task is not None:
            self._watch_task.cancel()
            try:
                await self._watch_task
            except asyncio.CancelledError:
                pass
        if self._http is not None:
            await self._http.stop()
        if self._scheduler is not None:
            await self._scheduler.stop()
        if self._registry is not None:
            await self._registry.stop()
        if self._engine is not None:
            await self._engine.stop()


def _env_ms(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.isdigit() else default


def limits_from_env(method_timeout_ms: int | None = None) -> Limits:
    """The budgets: `TELNYX_EDGE_METHOD_TIMEOUT_MS` is the default method budget and
    `TELNYX_EDGE_IDLE_MS` how long an unused activation stays in memory (default 120 s)."""
    method = method_timeout_ms or _env_ms("TELNYX_EDGE_METHOD_TIMEOUT_MS", 30_000)
    return Limits(
        method_timeout_ms=method,
        alarm_timeout_ms=max(method, 300_000 if method >= 30_000 else method * 10),
        request_timeout_ms=2 * method,
        idle_ms=_env_ms("TELNYX_EDGE_IDLE_MS", 120_000),
    )


def run(options: DevOptions, report: events.Reporter) -> None:
    """Serve until SIGINT/SIGTERM, then stop in order. Raises EdgeError if start fails."""
    import gc
    import signal
    import sys

    async def main() -> None:
        server = DevServer(options, report)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await server.start()
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
            await server.stop()

    try:
        import uvloop

        uvloop.run(main())
    except ImportError:  # pragma: no cover - uvloop is a dependency off Windows
        asyncio.run(main())
