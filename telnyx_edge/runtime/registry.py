"""Placement and routing: which isolate serves a function, which function owns an actor type.

Every activation of a type lives in the one isolate of the type's owner function, so there is
at most one activation per (type, name) in the runtime. Several functions may run at once
(each its own isolate and bindings); stubs in any of them reach the owner through
`call`. The registry is also the isolates' backend: it routes their stub calls and passes on
what they report (alarm changes, usage figures). A function's gate closes while its isolate is
being swapped or replaced; new requests and calls for it wait at the gate, so none is dropped,
and it opens only once the old isolate has exited, so no two isolates ever host the same
activation or hold the same actor database.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime import events
from telnyx_edge.runtime.isolate import ActorKey, CallError, Isolate
from telnyx_edge.runtime.streams import ResponseStream


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


@dataclass(frozen=True)
class Limits:
    method_timeout_ms: int = 30_000
    alarm_timeout_ms: int = 300_000
    request_timeout_ms: int = 60_000
    idle_ms: int = 120_000
    alarm_retry_delay_ms: int = 1_000
    alarm_max_retries: int = 3


def runtime_limits(limits: Limits, alarm_retry_delay_s: float) -> Limits:
    """`limits` with the alarm retry delay a command chose (tests shorten it)."""
    return replace(limits, alarm_retry_delay_ms=int(alarm_retry_delay_s * 1000))


class Reports(Protocol):
    """Where the registry sends what isolates report."""

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None: ...
    def actor_stats(self, rows: list[list[Any]]) -> None: ...


class Registry:
    def __init__(
        self, state_dir: Path, packages_dir: Path, limits: Limits, report: events.Reporter, reports: Reports
    ) -> None:
        self.state_dir = state_dir
        self.packages_dir = packages_dir
        self.limits = limits
        self._reports = reports
        self._report = report
        self._specs: dict[str, FunctionSpec] = {}
        self._isolates: dict[str, Isolate] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self._owners: dict[str, str] = {}
        self._restarts: set[asyncio.Task[None]] = set()
        self._closing = False

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

    def owned_types(self) -> set[str]:
        return set(self._owners)

    def function_for_host(self, host: str) -> str | None:
        bare = host.rsplit(":", 1)[0].lower() if not host.endswith("]") else host.lower()
        default = None
        for spec in self._specs.values():
            if bare in spec.hosts:
                return spec.name
            if spec.default or not spec.hosts:
                default = spec.name
        return default

    # -- isolates --------------------------------------------------------------------------

    async def _spawn(self, spec: FunctionSpec) -> Isolate:
        config = {
            "bundle": str(spec.bundle_path),
            "function": spec.name,
            "bindings": dict(spec.bindings),
            "owned_types": list(spec.owned_types),
            "env_vars": dict(spec.env_vars),
            "platform": dict(spec.platform),
            "telnyx_binding": spec.telnyx_binding,
            "method_timeout_ms": self.limits.method_timeout_ms,
            "alarm_timeout_ms": self.limits.alarm_timeout_ms,
            "request_timeout_ms": self.limits.request_timeout_ms,
            "idle_ms": self.limits.idle_ms,
            "alarm_retry_delay_ms": self.limits.alarm_retry_delay_ms,
            "alarm_max_retries": self.limits.alarm_max_retries,
            "state_dir": str(self.state_dir),
            "packages_dir": str(self.packages_dir),
        }
        isolate = Isolate(
            spec.name, config, self, method_timeout_ms=self.limits.method_timeout_ms, on_exit=self._on_exit,
            env=spec.process_env,
        )
        info = await isolate.start()
        problems = info.get("problems") or []
        if problems:
            await isolate.stop()
            raise RuntimeStartError(f"{spec.name}: " + "; ".join(problems))
        return isolate

    async def add(self, spec: FunctionSpec) -> None:
        self._place(spec)
        isolate = await self._spawn(spec)
        self._specs[spec.name] = spec
        self._isolates[spec.name] = isolate
        gate = asyncio.Event()
        gate.set()
        self._gates[spec.name] = gate

    async def replace(self, spec: FunctionSpec) -> None:
        """Hot swap: start the new isolate, hold new work, drain and stop the old one, switch.

        The gate opens only after the old isolate has exited, so its activations have closed
        their databases before the new isolate may open them. If the new code fails to start,
        the old isolate keeps serving and the error is raised.
        """
        old_owners = dict(self._owners)
        self._place(spec)
        try:
            new = await self._spawn(spec)
        except BaseException:
            self._owners = old_owners
            raise
        gate = self._gates[spec.name]
        gate.clear()
        old = self._isolates.get(spec.name)
        try:
            if old is not None:
                drain_s = 2 * self.limits.method_timeout_ms / 1000
                try:
                    await asyncio.wait_for(old.drain(), drain_s)
                except asyncio.TimeoutError:
                    pass  # what is still running fails as crashed when the old isolate stops
                await old.stop()
        finally:
            self._specs[spec.name] = spec
            self._isolates[spec.name] = new
            gate.set()

    async def remove(self, name: str) -> None:
        """Stop serving a function: its host and its owned types resolve no more at once, and
        the work already in its isolate finishes (bounded by the budget) before it stops."""
        if name not in self._specs:
            return
        del self._specs[name]
        self._gates.pop(name, None)
        self._owners = {t: owner for t, owner in self._owners.items() if owner != name}
        isolate = self._isolates.pop(name)
        try:
            await asyncio.wait_for(isolate.drain(), 2 * self.limits.method_timeout_ms / 1000)
        except asyncio.TimeoutError:
            pass  # what is still running fails as crashed when the isolate stops
        await isolate.stop()

    def _on_exit(self, isolate: Isolate, reason: str) -> None:
        if self._closing or self._isolates.get(isolate.name) is not isolate:
            return
        self._report(events.IsolateReplaced(isolate.name, reason))
        gate = self._gates[isolate.name]
        gate.clear()
        task = asyncio.create_task(self._restart(isolate))
        self._restarts.add(task)
        task.add_done_callback(self._restarts.discard)

    async def _restart(self, dead: Isolate) -> None:
        # The dead process's database locks went with it; what it committed is in the files.
        delay = 0.05
        while not self._closing:
            spec = self._specs[dead.name]
            try:
                isolate = await self._spawn(spec)
            except Exception as exc:  # noqa: BLE001 - reported, then retried
                self._report(events.IsolateReplaced(dead.name, f"restart failed: {exc}"))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            self._isolates[dead.name] = isolate
            self._gates[dead.name].set()
            return

    async def isolate(self, function: str) -> Isolate:
        gate = self._gates.get(function)
        if gate is None:
            raise CallError("FunctionNotFound", f"function {function!r} is no longer served")
        if not gate.is_set():
            try:
                await asyncio.wait_for(gate.wait(), self.limits.request_timeout_ms / 1000)
            except asyncio.TimeoutError:
                raise CallError("ActorIsolateCrashedError", f"the isolate for {function} is not available") from None
        return self._isolates[function]

    async def stop(self) -> None:
        """Stop isolates after their in-flight work (each drains, bounded by the budget)."""
        self._closing = True
        for task in list(self._restarts):
            task.cancel()
        for isolate in list(self._isolates.values()):
            try:
                await asyncio.wait_for(isolate.drain(), self.limits.method_timeout_ms / 1000)
            except asyncio.TimeoutError:
                pass
            await isolate.stop()

    # -- ingress and alarms ----------------------------------------------------------------

    async def fetch(
        self, host: str, method: str, url: str, headers: list[str], body: bytes,
    ) -> tuple[int, list[str], bytes | ResponseStream]:
        function = self.function_for_host(host)
        if function is None:
            known = sorted(h for spec in self._specs.values() for h in spec.hosts)
            raise CallError("FunctionNotFound", f"no function serves host {host!r}; known hosts: {', '.join(known) or '-'}")
        isolate = self._isolates[function]
        if not self._gates[function].is_set() or not isolate.alive:
            isolate = await self.isolate(function)
        return await isolate.fetch(method, url, headers, body)

    async def deliver_alarm(self, actor: ActorKey, failures: int) -> int | None:
        """Run the actor's alarm turn; returns its next fire time. Raises CallError if unreachable."""
        isolate = await self._owner_isolate(actor[0])
        return await isolate.alarm(actor[0], actor[1], failures)

    # -- the isolates' backend -------------------------------------------------------------

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None:
        self._reports.alarm_changed(actor, fire_ms)

    def actor_stats(self, rows: list[list[Any]]) -> None:
        self._reports.actor_stats(rows)

    async def _owner_isolate(self, type_: str) -> Isolate:
        owner = self._owners.get(type_)
        if owner is None:
            raise CallError(
                "ActorTypeNotFoundError",
                f"no running function owns actor type {type_!r} (export the class from a function's main)",
            )
        return await self.isolate(owner)

    async def call(self, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> bytes:
        isolate = await self._owner_isolate(type_)
        return await isolate.call(type_, name, method, args, chain)

    async def fetch_actor(self, type_: str, name: str, request: list[Any], chain: list[str]) -> list[Any]:
        isolate = await self._owner_isolate(type_)
        return await isolate.fetch_actor(type_, name, request, chain)
