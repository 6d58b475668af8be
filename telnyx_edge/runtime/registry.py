"""Placement and supervision: which revision serves a function, which function owns an actor type.

The registry is the control plane's view of the data plane (dataplane.py): for each function it
loads the revision's Worker pool, installs it under the function's hosts and owned types, swaps
it on a reload, and removes it. Every activation of a type lives in the pool of the type's owner
function, on the Worker its name hashes to, so there is at most one activation per (type, name)
in the runtime. A swap installs the new pool as soon as it has loaded, so new requests reach the
new code at once and none is dropped; the actors move apart from that (`replace`), so no two
Workers ever host the same activation or hold the same actor database.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from telnyx_edge import settings
from telnyx_edge.errors import STARTUP_ERROR, STARTUP_TIMEOUT, CallError, RuntimeStartError
from telnyx_edge.runtime import events
from telnyx_edge.runtime.dataplane import ActorKey, DataPlane

@dataclass(frozen=True)
class FunctionSpec:
    """One function as the runtime runs it."""

    name: str
    bundle_path: Path
    bindings: Mapping[str, str]  # env binding -> actor type
    owned_types: tuple[str, ...] = ()  # types whose class this function's bundle hosts
    env_vars: Mapping[str, str] = field(default_factory=dict)
    hosts: tuple[str, ...] = ()  # Host names routed here
    default: bool = False  # also serves every Host no function claims (dev's main project)
    # Resolved platform bindings (runtime/bindings.py) and the isolate's added environment; both
    # hold secret values, so they stay out of repr (and so out of any message or traceback).
    platform: Mapping[str, Any] = field(default_factory=dict, repr=False)
    process_env: Mapping[str, str] = field(default_factory=dict, repr=False)
    telnyx_binding: str | None = None  # `[telnyx] binding`: env gets a Telnyx API client under this name
    # The sha256 `ship` recorded for a shipped revision's bundle (None for a dev build, or a
    # revision recorded without one); serve checks the file against it before loading (edge.py).
    bundle_sha256: str | None = None


@dataclass(frozen=True)
class Limits:
    method_timeout_ms: int = 30_000
    alarm_timeout_ms: int = 300_000
    request_timeout_ms: int = 60_000
    idle_ms: int = 120_000
    alarm_retry_delay_ms: int = 1_000
    alarm_max_retries: int = 3
    workers: int = 0  # Worker threads per function revision; 0: one per CPU


def runtime_limits(limits: Limits, alarm_retry_delay_s: float) -> Limits:
    """`limits` with the alarm retry delay a command chose (tests shorten it)."""
    return replace(limits, alarm_retry_delay_ms=int(alarm_retry_delay_s * 1000))


class Reports(Protocol):
    """Where the registry sends what isolates report."""

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None: ...
    def actor_stats(self, rows: list[list[Any]]) -> None: ...


def pool_size(limits: Limits) -> int:
    """Workers per revision: `Limits.workers` (`--workers`), else the CPU count, at most 8."""
    if limits.workers > 0:
        return limits.workers
    return max(1, min(os.cpu_count() or 1, 8))


class Registry:
    def __init__(
        self, state_dir: Path, packages_dir: Path, limits: Limits, report: events.Reporter, reports: Reports
    ) -> None:
        self.state_dir = state_dir
        self.packages_dir = packages_dir
        self.limits = limits
        self._reports = reports
        self._report = report
        self._plane: DataPlane | None = None
        self._specs: dict[str, FunctionSpec] = {}
        self._groups: dict[str, int] = {}  # function -> installed group id
        self._next_group = 1
        self._owners: dict[str, str] = {}
        self._closing = False
        self._retiring: set[asyncio.Task[None]] = set()  # swapped-out pools running out their streams

    def attach(self, plane: DataPlane) -> None:
        self._plane = plane

    @property
    def plane(self) -> DataPlane:
        assert self._plane is not None, "the registry has no data plane yet (RuntimeCore.open)"
        return self._plane

    # -- placement -------------------------------------------------------------------------

    def _place(self, spec: FunctionSpec) -> None:
        for type_ in spec.owned_types:
            owner = self._owners.get(type_)
            if owner is not None and owner != spec.name:
                raise RuntimeStartError(
                    f"actor type {type_!r} is owned by {owner!r}; {spec.name!r} cannot own it too",
                    hint="Only one function may export the class; bind to it from the others.",
                )
        for type_, owner in list(self._owners.items()):
            if owner == spec.name and type_ not in spec.owned_types:
                del self._owners[type_]
        for type_ in spec.owned_types:
            self._owners[type_] = spec.name

    def unresolved(self, spec: FunctionSpec) -> tuple[str, ...]:
        return tuple(sorted({t for t in spec.bindings.values() if t not in self._owners}))

    def served(self) -> set[str]:
        """The names of the functions installed now."""
        return set(self._specs)

    def specs(self) -> list[FunctionSpec]:
        """The functions installed now, as they run (for the explorer)."""
        return list(self._specs.values())

    def owner_of(self, type_: str) -> str | None:
        """The function that hosts `type_`'s activations, if one runs."""
        return self._owners.get(type_)

    def owned_types(self) -> set[str]:
        return set(self._owners)

    # -- revisions -------------------------------------------------------------------------

    async def _load(self, spec: FunctionSpec) -> int:
        """Start the revision's Worker pool in the data plane; returns its group id."""
        bound = settings.get().startup_timeout_s
        config = {
            "bundle": str(spec.bundle_path),
            "function": spec.name,
            "bindings": dict(spec.bindings),
            "owned_types": list(spec.owned_types),
            "env_vars": dict(spec.env_vars),
            "platform": dict(spec.platform),
            "process_env": dict(spec.process_env),
            "telnyx_binding": spec.telnyx_binding,
            "method_timeout_ms": self.limits.method_timeout_ms,
            "alarm_timeout_ms": self.limits.alarm_timeout_ms,
            "request_timeout_ms": self.limits.request_timeout_ms,
            "idle_ms": self.limits.idle_ms,
            "alarm_retry_delay_ms": self.limits.alarm_retry_delay_ms,
            "alarm_max_retries": self.limits.alarm_max_retries,
            "state_dir": str(self.state_dir),
            "packages_dir": str(self.packages_dir),
            "workers": pool_size(self.limits),
            "startup_timeout_ms": int(bound * 1000),
            "ws_lifetime_ms": settings.get().ws_lifetime_ms,
        }
        group = self._next_group
        self._next_group += 1
        try:
            info = await self.plane.load(group, config)
        except CallError as exc:
            if exc.name == STARTUP_TIMEOUT:
                raise RuntimeStartError(
                    f"the code of {spec.name} did not finish loading within {bound:g} s "
                    "(a loop or an await at module top level that never ends, or an import that hangs?)",
                    hint=f"Make the top level of main and its imports finish; {settings.STARTUP_TIMEOUT_MS} sets the bound (ms).",
                ) from None
            if exc.name == STARTUP_ERROR:
                raise RuntimeStartError(
                    exc.message, hint="Fix the error above; main and every module it imports run when the isolate starts.",
                ) from None
            raise RuntimeStartError(exc.message) from None
        problems = info.get("problems") or []
        if problems:
            await self.plane.unload(group)
            raise RuntimeStartError(f"{spec.name}: " + "; ".join(problems))
        return group

    def _install(self, spec: FunctionSpec, group: int) -> None:
        self._specs[spec.name] = spec
        self._groups[spec.name] = group
        self.plane.install(spec.name, group, spec.hosts, spec.default, spec.owned_types)

    async def add(self, spec: FunctionSpec) -> None:
        old_owners = dict(self._owners)
        self._place(spec)
        try:
            group = await self._load(spec)
        except BaseException:
            self._owners = old_owners  # a function that did not start owns nothing
            raise
        self._install(spec, group)

    async def replace(self, spec: FunctionSpec) -> None:
        """Hot swap. Returns once the new code serves everything; the old pool's open response
        streams then run out in the background (at most 5 s) before it unloads.

        1. Load the new pool. Its Workers hold their actors' turns: the old pool still has them.
        2. Install it: new requests go to the new code at once; those in flight finish in the old.
        3. Hand the actors over: once the old pool has answered what it had in flight (the calls
           its own requests make stay in it), its Workers close every actor database, and only
           then do the new pool's open; so no two Workers ever hold one actor database.
        4. In the background: the old pool's streams get STREAM_DRAIN_MS, then it unloads.

        If the new code fails to start, the old pool keeps serving and the error is raised.
        """
        old_owners = dict(self._owners)
        self._place(spec)
        try:
            new = await self._load(spec)
        except BaseException:
            self._owners = old_owners
            raise
        old = self._groups.get(spec.name)
        self._install(spec, new)
        if old is not None:
            await self.plane.handover(old, 2 * self.limits.method_timeout_ms)
            self._retire_later(old)

    def _retire_later(self, group: int) -> None:
        """Drain and unload a swapped-out pool in the background; `stop` waits for it."""
        task = asyncio.create_task(self._retire(group, self.limits.method_timeout_ms))
        self._retiring.add(task)
        task.add_done_callback(self._retired)

    def _retired(self, task: asyncio.Task[None]) -> None:
        self._retiring.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        # A CallError: the data plane went away, and the pool with it (a restart loads anew).
        if exc is not None and not isinstance(exc, CallError) and not self._closing:
            self._report(events.Notice(f"unloading an old revision failed: {type(exc).__name__}: {exc}"))

    async def _retire(self, group: int, drain_ms: int) -> None:
        """Drain a pool (what is still running after `drain_ms` fails as crashed), then unload it."""
        await self.plane.drain(group, drain_ms)
        await self.plane.unload(group)

    async def remove(self, name: str) -> None:
        """Stop serving a function: its host and its owned types resolve no more at once, and
        the work already in its pool finishes (bounded by the budget) before it stops."""
        if name not in self._specs:
            return
        del self._specs[name]
        self._owners = {t: owner for t, owner in self._owners.items() if owner != name}
        group = self._groups.pop(name)
        self.plane.uninstall(name)
        await self._retire(group, 2 * self.limits.method_timeout_ms)

    async def restore(self) -> None:
        """Load and install every function again, on a new data plane (the old one died)."""
        for spec in list(self._specs.values()):
            self._install(spec, await self._load(spec))

    def replaced(self, function: str, reason: str) -> None:
        """A Worker of `function` exited or hung; the data plane has started its replacement."""
        if not self._closing:
            self._report(events.IsolateReplaced(function, reason))

    async def stop(self) -> None:
        """Stop every pool after its in-flight work (each drains, bounded by the budget); first
        the swapped-out pools still running out their streams."""
        self._closing = True
        if self._retiring:
            await asyncio.gather(*self._retiring, return_exceptions=True)
        if self._plane is None:
            return
        for group in list(self._groups.values()):
            await self._retire(group, self.limits.method_timeout_ms)
        self._groups.clear()

    # -- alarms ----------------------------------------------------------------------------

    async def deliver_alarm(self, actor: ActorKey, failures: int) -> int | None:
        """Run the actor's alarm turn; returns its next fire time. Raises CallError if unreachable."""
        return await self.plane.alarm(actor[0], actor[1], failures)

    # -- what the data plane reports -------------------------------------------------------

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None:
        self._reports.alarm_changed(actor, fire_ms)

    def actor_stats(self, rows: list[list[Any]]) -> None:
        self._reports.actor_stats(rows)
