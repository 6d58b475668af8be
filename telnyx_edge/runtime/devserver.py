"""`telnyx-edge dev`: the composition root and the dispatcher of the dev pipeline.

manifest -> bundle -> registry (isolates) -> ingress -> "ready"; on a change: rebuild, swap the
isolate (registry.replace), report "reloaded". Start and stop are explicit, and stop runs in
this order: 1. stop watching; 2. stop accepting HTTP and finish in-flight requests; 3. stop the
alarm scheduler; 4. drain and stop the isolates (their last batches are durable); 5. release
the state directory.
"""

from __future__ import annotations

import asyncio
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from telnyx_edge import bundle, settings
from telnyx_edge.account import edge_home
from telnyx_edge.config import Manifest, load_manifest
from telnyx_edge.errors import ConfigError, EdgeError, RuntimeStartError
from telnyx_edge.runtime import events, watcher
from telnyx_edge.runtime.bindings import BindingSources, declarations, read_env_file
from telnyx_edge.runtime.bindings import resolve as resolve_bindings
from telnyx_edge.runtime.core import RuntimeCore
from telnyx_edge.runtime.packages import packages_for
from telnyx_edge.runtime.edge import serving_functions, verify_bundle
from telnyx_edge.runtime.jsmodule import link_runtime
from telnyx_edge.runtime.lifecycle import run_until_signal
from telnyx_edge.runtime.registry import FunctionSpec, Limits, runtime_limits
from telnyx_edge.runtime.reload_check import failure_details, reload_check

DEV_DIR = Path(".telnyx") / "dev"
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
    with_projects: tuple[Path, ...] = ()  # more local projects, each at its own host name
    home: Path | None = None  # the account that resolves remaining references (default: edge_home())
    packages_dir: Path | None = None  # the runtime's Node packages (default: installed on demand)
    env_file: Path | None = None  # dotenv values overriding secrets and [env_vars] for this run
    inspect: str | None = None  # "HOST:PORT": open the Node inspector of the data plane there (--inspect)
    explorer_port: int | None = 0  # the explorer on 127.0.0.1 (0: a free port; None: --no-explorer)


def load_project(project: Path) -> Manifest:
    """The manifest of a project `dev` can run, or the error that says why not."""
    if not (project / "telnyx.toml").is_file():
        if (project / "func.toml").is_file():
            raise ConfigError(
                "telnyx-edge dev runs umbrella projects (telnyx.toml); this is a func.toml project",
                hint="A single-function func.toml project has no actors to host: run it with its own start script.",
            )
        raise ConfigError(
            f"No project manifest found in {project}",
            hint="Run 'telnyx-edge dev' from a directory containing a telnyx.toml manifest.",
        )
    return load_manifest(project)


# Platform bindings the local runtime provides too (runtime/bindings.py, runtime/js/bindings/).
LOCAL_PLATFORM_KINDS = frozenset(
    {"telnyx", "secrets", "ratelimits", "storage.kv", "storage.sqldb", "storage.cloudstorage"}
)


def project_host(manifest: Manifest) -> str:
    """The host name a project answers at, as it will on the local edge once shipped."""
    name = manifest.display_name.lower()
    return f"{name}-{manifest.func_id[:10]}.localhost" if manifest.func_id else f"{name}.localhost"


@dataclass
class _Project:
    """One local project `dev` builds and serves; the first is the main one."""

    root: Path
    builds: Path
    main: bool
    name: str = ""
    build_no: int = 0
    warnings: tuple[str, ...] = ()  # the manifest's, from the last build
    spec: FunctionSpec | None = None  # what is serving
    sources: BindingSources | None = None  # where its platform bindings find their data
    notices: tuple[str, ...] = ()

    def next_start_build(self) -> None:
        if self.builds.is_dir():
            self.build_no = max((int(p.name) for p in self.builds.iterdir() if p.name.isdigit()), default=0)

    def build(self) -> FunctionSpec:
        """Bundle into a fresh numbered directory (a running isolate keeps its own files)."""
        self.warnings = ()
        manifest = load_project(self.root)
        self.warnings = manifest.warnings
        if manifest.main is None:
            raise ConfigError("telnyx.toml has no main", hint="Set main = \"src/index.ts\" in telnyx.toml.")
        link_runtime(self.builds)
        self.build_no += 1
        outdir = self.builds / str(self.build_no)
        if outdir.exists():
            shutil.rmtree(outdir)
        result = bundle.build(self.root, manifest.main, outdir)
        for old in self.builds.iterdir():
            if old.name.isdigit() and int(old.name) <= self.build_no - KEEP_BUILDS:
                shutil.rmtree(old, ignore_errors=True)
        self.name = manifest.display_name
        assert self.sources is not None
        resolved = resolve_bindings(declarations(manifest), self.sources)
        self.notices = resolved.notices
        return FunctionSpec(
            name=manifest.display_name, bundle_path=result.js_path,
            bindings={a.binding: a.type for a in manifest.actors},
            owned_types=tuple(sorted({a.type for a in manifest.actors if a.type in result.exports})),
            env_vars=resolved.env_vars, hosts=(project_host(manifest),), default=self.main,
            platform=resolved.platform, process_env=resolved.process_env,
            telnyx_binding=next((p.binding for p in manifest.platform_bindings if p.kind == "telnyx"), None),
        )


class DevServer:
    def __init__(self, options: DevOptions, report: events.Reporter) -> None:
        self.options = options
        self.project = options.project.resolve()
        self.report = report
        self.dev_dir = self.project / DEV_DIR
        self.state_dir = (options.state_dir or self.dev_dir / "state").resolve()
        self.projects = [_Project(self.project, self.dev_dir / "build", main=True)]
        for other in options.with_projects:
            root = other.resolve()
            # Each extra project builds under the main project's .telnyx: dev writes nothing elsewhere.
            self.projects.append(_Project(root, self.dev_dir / "with" / root.name / "build", main=False))
        self._core: RuntimeCore | None = None
        self._stop_watch = asyncio.Event()
        self._watch_task: asyncio.Task[None] | None = None
        self._reload_lock = asyncio.Lock()
        self.url = ""
        self._stopped = False

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> str:
        manifest = load_project(self.project)
        for warning in manifest.warnings:
            self.report(events.Notice(f"{manifest.path.name}: {warning}"))
        unavailable = tuple((b.binding, b.kind) for b in manifest.platform_bindings if b.kind not in LOCAL_PLATFORM_KINDS)
        if unavailable:
            self.report(events.Unavailable(unavailable))
        overrides = read_env_file(self.options.env_file) if self.options.env_file else {}
        sources = BindingSources(self.options.home or edge_home(), self.state_dir, overrides)
        specs = []
        for project in self.projects:
            project.sources = sources
            project.next_start_build()
            specs.append(await asyncio.to_thread(project.build))
            for notice in project.notices:
                self.report(events.Notice(f"{project.name}: {notice}"))
        _check_distinct(specs, self.projects)
        for project, spec in zip(self.projects, specs):
            project.spec = spec
        self._core = RuntimeCore(
            self.state_dir, runtime_limits(self.options.limits, self.options.alarm_retry_delay_s), self.report,
            packages_dir=await packages_for(self.options.packages_dir), inspect=self.options.inspect,
        )
        registry = await self._core.open()
        for spec in specs:
            await registry.add(spec)
        specs += await self._resolve_from_account(specs)
        self.url = await self._core.serve(self.options.host, self.options.port)
        port = self._core.port
        explorer = "" if self.options.explorer_port is None else await self._core.open_explorer(self.options.explorer_port)
        listed = tuple((s.name, f"http://{s.hosts[0]}:{port}") for s in specs) if len(specs) > 1 else ()
        if self.options.watch:
            # Watching before Ready: an edit saved right after the line is not missed.
            source = watcher.SourceWatcher([p.root for p in self.projects], ignore_paths=[self.state_dir])
            await source.start()
            self._watch_task = asyncio.create_task(self._watch(source))
        self.report(events.Ready(self.url, listed, explorer))
        return self.url

    async def _resolve_from_account(self, local: list[FunctionSpec]) -> list[FunctionSpec]:
        """Add the account's owner of every type no local project owns; fail for what resolves nowhere."""
        assert self._core is not None
        registry = self._core.registry
        missing = {t: (s, b) for s in local for b, t in s.bindings.items() if t in registry.unresolved(s)}
        if not missing:
            return []
        shipped = await asyncio.to_thread(serving_functions, self.options.home or edge_home())
        added: list[FunctionSpec] = []
        for type_ in sorted(missing):
            found = next(((r, s) for r, s in shipped if type_ in s.owned_types), None)
            if found is not None and found[1].name not in {s.name for s in local + added}:
                record, owner = found
                try:
                    # A shipped bundle is checked as serve checks it before it runs here.
                    await asyncio.to_thread(verify_bundle, record, owner)
                except EdgeError as exc:
                    raise RuntimeStartError(
                        f"actor type {type_} is owned on the account by {owner.name}, which cannot be loaded: {exc.message}",
                        hint=exc.hint,
                    ) from None
                await registry.add(owner)
                added.append(owner)
        for type_, (spec, binding) in sorted(missing.items()):
            if type_ not in registry.owned_types():
                raise RuntimeStartError(
                    f"binding {binding} of {spec.name}: actor type {type_} has no owner: no project here exports "
                    f"class {type_}, and no function on the account owns it",
                    hint=f"Run the project that exports class {type_} alongside with --with DIR, "
                    f"or ship it first (telnyx-edge ship in its directory).",
                )
        return added

    async def _watch(self, source: watcher.SourceWatcher) -> None:
        async for changed in source.changes(self._stop_watch):
            for project in self.projects:
                if any(path == project.root or path.is_relative_to(project.root) for path in changed):
                    try:
                        await self.reload(project)
                    except Exception as exc:  # noqa: BLE001 - a background loop reports and goes on
                        self.report(events.ReloadFailed(f"{type(exc).__name__}: {exc}"))

    async def reload(self, project: _Project | None = None) -> None:
        """Rebuild one project (default: the main one) and swap. A failure is reported and the old code keeps serving."""
        assert self._core is not None
        project = project or self.projects[0]
        async with self._reload_lock:
            started = time.perf_counter()
            try:
                try:
                    spec = await asyncio.to_thread(project.build)
                finally:
                    for warning in project.warnings:
                        self.report(events.Notice(f"telnyx.toml: {warning}"))
                for notice in project.notices:
                    self.report(events.Notice(f"{project.name}: {notice}"))
                reload_check(spec, project, self.projects, self._core.registry)
                await self._core.registry.replace(spec)
            except EdgeError as exc:
                if project.spec is not None:
                    project.name = project.spec.name  # still serving under its old name
                self.report(events.ReloadFailed(exc.message, failure_details(exc)))
                return
            project.spec = spec
            self.report(events.Reloaded((time.perf_counter() - started) * 1000, "" if project.main else project.name))

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.url:
            self.report(events.Stopping())
        self._stop_watch.set()
        try:
            if self._watch_task is not None:
                self._watch_task.cancel()
                try:
                    await self._watch_task
                except asyncio.CancelledError:
                    pass
        finally:
            if self._core is not None:
                await self._core.stop()


def _check_distinct(specs: list[FunctionSpec], projects: list[_Project]) -> None:
    seen: dict[str, Path] = {}
    for spec, project in zip(specs, projects):
        if spec.name in seen:
            raise ConfigError(
                f"{project.root} and {seen[spec.name]} are both named '{spec.name}'",
                hint="Each project served by one dev needs its own name (telnyx.toml name / func_name).",
            )
        seen[spec.name] = project.root


def limits_from_env(method_timeout_ms: int | None = None, workers: int | None = None) -> Limits:
    """The budgets: `TELNYX_EDGE_METHOD_TIMEOUT_MS` is the default method budget and
    `TELNYX_EDGE_IDLE_MS` how long an unused activation stays in memory (default 120 s);
    `workers`: Worker threads per function revision (None: one per CPU)."""
    env = settings.get()
    method = method_timeout_ms or env.method_timeout_ms
    return Limits(
        method_timeout_ms=method,
        alarm_timeout_ms=max(method, 300_000 if method >= 30_000 else method * 10),
        request_timeout_ms=2 * method,
        idle_ms=env.idle_ms,
        workers=workers or env.workers or 0,
    )


def run(options: DevOptions, report: events.Reporter) -> None:
    """Serve until SIGINT/SIGTERM, then stop in order. Raises EdgeError if start fails."""
    run_until_signal(DevServer(options, report))
