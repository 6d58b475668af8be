"""`telnyx-edge serve`: the local edge, every shipped function of the account in one runtime.

Each `deploy_ok` function runs its serving revision in its own isolate and answers at
`{name}-{func_id[:10]}.localhost:PORT` (routing by Host). Actor types are account-scoped: the
owner function's isolate hosts every activation of its type, and stubs from any function that
binds the type reach it. State lives under `$TELNYX_EDGE_HOME/state`. A new ship or rollback is
picked up by polling the account and swapped in like a `dev` reload, so no request is dropped.

Before a revision's bundle is handed to the runtime (at start, and at every swap or addition) it is
checked against the sha256 `ship` recorded (account/integrity.py): a function whose bundle is
missing or changed is not served and is named with the fix; the others are served. Only when no
function at all can be served does `serve` refuse to start.

Stop order: stop polling, then the core's order (HTTP, alarms, isolates, storage).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from pathlib import Path

from telnyx_edge.account import DEPLOY_OK, FunctionRecord, open_account
from telnyx_edge.account.integrity import check_bundle, recorded_sha256
from telnyx_edge.account.local import DB_NAME
from telnyx_edge.account.models import OWNER
from telnyx_edge.actors import account_state_dir
from telnyx_edge.errors import EdgeError, RuntimeStartError
from telnyx_edge.runtime import events
from telnyx_edge.runtime.bindings import BindingSources, ResolvedBindings
from telnyx_edge.runtime.bindings import resolve as resolve_bindings
from telnyx_edge.runtime.core import RuntimeCore
from telnyx_edge.runtime.packages import packages_for
from telnyx_edge.runtime.jsmodule import link_runtime
from telnyx_edge.runtime.lifecycle import run_until_signal
from telnyx_edge.runtime.registry import FunctionSpec, Limits, runtime_limits

LOCAL_EDGE_PORT = 8788


@dataclass(frozen=True)
class ServeOptions:
    home: Path
    host: str = "127.0.0.1"
    port: int = LOCAL_EDGE_PORT
    limits: Limits = field(default_factory=Limits)
    alarm_retry_delay_s: float = 1.0
    poll_s: float = 0.25
    packages_dir: Path | None = None  # the runtime's Node packages (default: installed on demand)
    inspect: str | None = None  # "HOST:PORT": open the Node inspector of the data plane there (--inspect)
    explorer_port: int | None = 0  # the explorer on 127.0.0.1 (0: a free port; None: --no-explorer)


_resolved: dict[tuple[str, str], ResolvedBindings] = {}


def revision_spec(
    record: FunctionRecord, revision_path: Path, manifest: dict[str, object], home: Path | None = None,
) -> FunctionSpec:
    """How the runtime runs one shipped revision, from the manifest `ship` stored with it.

    With `home`, its platform bindings resolve against that account (a bad one makes
    env.NAME throw, naming the problem, rather than keeping the function from starting)."""
    actors = manifest.get("actors", [])
    assert isinstance(actors, list)
    env_vars = manifest.get("env_vars", {})
    resolved = None
    if home is not None:
        # A revision is immutable, and serve polls the account several times a second: resolve
        # each revision's bindings once (a secret added later reaches it with the next ship).
        key = (str(home), str(revision_path))
        resolved = _resolved.get(key)
        if resolved is None:
            resolved = resolve_bindings(manifest, BindingSources(home, account_state_dir(home), strict=False))
            _resolved[key] = resolved
        env_vars = resolved.env_vars
    platform = manifest.get("platform_bindings", [])
    return FunctionSpec(
        name=record.name,
        bundle_path=revision_path / str(manifest.get("bundle", "index.js")),
        bundle_sha256=recorded_sha256(manifest),
        bindings={str(a["binding"]): str(a["type"]) for a in actors},
        owned_types=tuple(sorted({str(a["type"]) for a in actors if a.get("role") == OWNER})),
        env_vars=dict(env_vars) if isinstance(env_vars, dict) else {},
        hosts=(record.host,),
        platform=resolved.platform if resolved else {},
        process_env=resolved.process_env if resolved else {},
        telnyx_binding=next((str(p["binding"]) for p in platform if p.get("kind") == "telnyx"), None) if isinstance(platform, list) else None,
    )


def serving_functions(home: Path) -> list[tuple[FunctionRecord, FunctionSpec]]:
    """Every function of the account that has a serving `deploy_ok` revision, with its spec."""
    if not (home / DB_NAME).is_file():
        return []  # no account yet: nothing shipped, and nothing to create just to say so
    account = open_account(home)
    try:
        found = []
        for record in account.functions():
            if record.status != DEPLOY_OK or not record.serving_revision:
                continue
            revision = account.revision(record.id, record.serving_revision)
            found.append((record, revision_spec(record, Path(revision.path), revision.manifest, home)))
    finally:
        account.close()
    if found:
        link_runtime(home)  # every revision lives below the account's home
    return found


def verify_bundle(record: FunctionRecord, spec: FunctionSpec) -> None:
    """Raise RevisionDamagedError if the serving revision's bundle is missing or is not what
    `ship` recorded; called (in a thread: it reads the file) before the runtime is handed it."""
    check_bundle(
        spec.bundle_path, spec.bundle_sha256, revision=record.serving_revision or "?", project=record.directory,
    )


def _verify_all(functions: list[tuple[FunctionRecord, FunctionSpec]]) -> dict[str, EdgeError]:
    """Function name -> why its bundle may not be loaded, for those that fail the check."""
    refused: dict[str, EdgeError] = {}
    for record, spec in functions:
        try:
            verify_bundle(record, spec)
        except EdgeError as exc:
            refused[spec.name] = exc
    return refused


def _nothing_served(names: list[str]) -> RuntimeStartError:
    """The error that ends `serve` when every function was refused (each already reported)."""
    return RuntimeStartError(
        f"No function could be served: {', '.join(names)} (each is named above with its problem)",
        hint="Fix each one as its line says, then start telnyx-edge serve again.",
    )


class EdgeServer:
    def __init__(self, options: ServeOptions, report: events.Reporter) -> None:
        self.options = options
        self.report = report
        self._core: RuntimeCore | None = None
        self._serving: dict[str, str] = {}  # function name -> revision path being served
        self._poll_task: asyncio.Task[None] | None = None
        self._stop_poll = asyncio.Event()
        self.url = ""
        self._stopped = False

    async def start(self) -> str:
        home = self.options.home
        functions = await asyncio.to_thread(serving_functions, home)
        if not functions:
            raise RuntimeStartError(
                "No shipped functions on this account to serve",
                hint="Ship one first: telnyx-edge new-func --actor --name=NAME, then telnyx-edge ship in its directory.",
            )
        # Checked before the data plane starts: with every bundle refused there is nothing to start.
        refused = await asyncio.to_thread(_verify_all, functions)
        if len(refused) == len(functions):
            for name, exc in refused.items():
                self.report(events.FunctionFailed(name, exc.message, exc.hint))
            raise _nothing_served(list(refused))
        self._core = RuntimeCore(
            account_state_dir(home), runtime_limits(self.options.limits, self.options.alarm_retry_delay_s),
            self.report, packages_dir=await packages_for(self.options.packages_dir), inspect=self.options.inspect,
        )
        registry = await self._core.open()
        failed: list[str] = []
        for _, spec in functions:
            # One function whose revision cannot start must not keep the others from serving.
            self._serving[spec.name] = str(spec.bundle_path)  # a failed revision is not retried until the next ship
            try:
                if spec.name in refused:
                    raise refused[spec.name]
                await registry.add(spec)
            except EdgeError as exc:
                failed.append(spec.name)
                self.report(events.FunctionFailed(spec.name, exc.message, exc.hint))
        if len(failed) == len(functions):
            raise _nothing_served(failed)
        functions = [(r, spec) for r, spec in functions if spec.name in registry.served()]
        for _, spec in functions:
            unresolved = registry.unresolved(spec)
            if unresolved:
                self.report(events.Unresolved(spec.name, unresolved))
        self.url = await self._core.serve(self.options.host, self.options.port)
        port = self._core.port
        explorer = "" if self.options.explorer_port is None else await self._core.open_explorer(self.options.explorer_port, self.options.home)
        self.report(events.Ready(self.url, tuple((r.name, r.url(port)) for r, _ in functions), explorer))
        self._poll_task = asyncio.create_task(self._poll())
        return self.url

    async def _poll(self) -> None:
        """Pick up new ships and rollbacks: a changed serving revision is swapped in."""
        while not self._stop_poll.is_set():
            try:
                await asyncio.wait_for(self._stop_poll.wait(), self.options.poll_s)
                return
            except asyncio.TimeoutError:
                pass
            try:
                await self._poll_once()
            except EdgeError as exc:
                self.report(events.ReloadFailed(f"cannot read the account: {exc.message}"))
            except Exception as exc:  # noqa: BLE001 - a background loop reports and goes on
                self.report(events.ReloadFailed(f"picking up ships failed: {type(exc).__name__}: {exc}"))

    async def _poll_once(self) -> None:
        functions = await asyncio.to_thread(serving_functions, self.options.home)
        for record, spec in functions:
            if self._serving.get(spec.name) != str(spec.bundle_path):
                await self._swap(record, spec)
        current = {spec.name for _, spec in functions}
        for name in [n for n in self._serving if n not in current]:
            assert self._core is not None
            del self._serving[name]
            await self._core.registry.remove(name)
            self.report(events.FunctionRemoved(name))

    async def _swap(self, record: FunctionRecord, spec: FunctionSpec) -> None:
        assert self._core is not None
        started = time.perf_counter()
        # Not served yet: shipped while serve runs, or refused before (a new ship is its fix).
        is_new = spec.name not in self._core.registry.served()
        try:
            await asyncio.to_thread(verify_bundle, record, spec)
            if is_new:
                await self._core.registry.add(spec)
            else:
                await self._core.registry.replace(spec)
        except EdgeError as exc:
            if is_new:  # nothing of it is served, so no "previous code keeps serving"
                self.report(events.FunctionFailed(spec.name, exc.message, exc.hint))
            else:
                self.report(events.ReloadFailed(f"{spec.name}: {exc.message}", ((exc.hint,) if exc.hint else ())))
            self._serving[spec.name] = str(spec.bundle_path)  # do not retry the same revision forever
            return
        self._serving[spec.name] = str(spec.bundle_path)
        elapsed_ms = (time.perf_counter() - started) * 1000
        url = record.url(self._core.port)
        self.report(events.FunctionReloaded(spec.name, record.serving_revision or "", url, elapsed_ms, is_new))

    async def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        if self.url:
            self.report(events.Stopping())
        self._stop_poll.set()
        try:
            if self._poll_task is not None:
                await self._poll_task
        finally:
            if self._core is not None:
                await self._core.stop()


def run(options: ServeOptions, report: events.Reporter) -> None:
    """Serve until SIGINT/SIGTERM, then stop in order. Raises EdgeError if start fails."""
    run_until_signal(EdgeServer(options, report))
