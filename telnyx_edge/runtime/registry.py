"""Placement and routing: which isolate serves a function, which function owns an actor type.

Every activation of a type lives in the one isolate of the type's owner function, so there is
at most one activation per (type, name) in the runtime. Several functions may run at once
(each its own isolate and bindings); stubs in any of them reach the owner through
`call`. The registry is also the isolates' backend: storage reads and commits go through it
to the engine (`state.py`). A function's gate closes while its isolate is being swapped or replaced; new
requests and calls for it wait at the gate, so none is dropped and no two isolates ever host
the same activation.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime import events
from telnyx_edge.runtime.isolate import CallError, Isolate
from telnyx_edge.runtime.state import ActorState
from telnyx_edge.runtime.storage import ActorKey, StorageEngine

_EPOCH_STRIDE = 1 << 24


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
    telnyx_binding: str | None = None  # `[telnyx] binding`: env gets a Telnyx API client under this name


@dataclass(frozen=True)
class Limits:
    method_timeout_ms: int = 30_000
    alarm_timeout_ms: int = 300_000
    request_timeout_ms: int = 60_000
    idle_ms: int = 120_000


class Registry:
    def __init__(self, engine: StorageEngine, limits: Limits, report: events.Reporter) -> None:
        self.engine = engine
        self.state = ActorState(engine)
        self.limits = limits
        self._report = report
        self._specs: dict[str, FunctionSpec] = {}
        self._isolates: dict[str, Isolate] = {}
        self._gates: dict[str, asyncio.Event] = {}
        self._owners: dict[str, str] = {}
        self._generation = itertools.count(1)
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
        generation = next(self._generation)
        config = {
            "bundle": str(spec.bundle_path),
            "function": spec.name,
            "bindings": dict(spec.bindings),
            "owned_types": list(spec.owned_types),
            "env_vars": dict(spec.env_vars),
            "telnyx_binding": spec.telnyx_binding,
            "method_timeout_ms": self.limits.method_timeout_ms,
            "alarm_timeout_ms": self.limits.alarm_timeout_ms,
            "request_timeout_ms": self.limits.request_timeout_ms,
            "idle_ms": self.limits.idle_ms,
            "epoch_base": generation * _EPOCH_STRIDE,
        }
        isolate = Isolate(spec.name, config, self, method_timeout_ms=self.limits.method_timeout_ms, on_exit=self._on_exit)
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
        """Hot swap: start the new isolate, hold new work, drain the old one, switch, stop it.

        If the new code fails to start, the old isolate keeps serving and the error is raised.
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
        finally:
            self._specs[spec.name] = spec
            self._isolates[spec.name] = new
            gate.set()
        if old is not None:
            await old.stop()

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
        # Commits the dead isolate sent are in the engine's queue: let them land before a
        # new activation reads, or it could read state older than a reply already sent.
        await dead.settle_commits()
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

    async def fetch(self, host: str, method: str, url: str, headers: list[str], body: bytes) -> tuple[int, list[str], bytes]:
        function = self.function_for_host(host)
        if function is None:
            known = sorted(h for spec in self._specs.values() for h in spec.hosts)
            raise CallError("FunctionNotFound", f"no function serves host {host!r}; known hosts: {', '.join(known) or '-'}")
        isolate = self._isolates[function]
        if not self._gates[function].is_set() or not isolate.alive:
            isolate = await self.isolate(function)
        return await isolate.fetch(method, url, headers, body)

    async def deliver_alarm(self, actor: ActorKey, when_ms: int, info: Any) -> bool:
        owner = self._owners.get(actor[0])
        if owner is None:
            return False
        try:
            isolate = await self.isolate(owner)
            await isolate.alarm(actor[0], actor[1], when_ms, int(info.retry_count))
        except CallError:
            return False
        return True

    # -- the isolates' backend -------------------------------------------------------------

    def get(self, actor: ActorKey, key: str) -> bytes | None:
        return self.state.get(actor, key)

    def get_alarm(self, actor: ActorKey) -> int | None:
        return self.state.get_alarm(actor)

    def list_range(self, actor: ActorKey, options: dict[str, Any]) -> list[list[Any]]:
        return self.state.list_range(actor, options)

    async def commit(self, actor: ActorKey, epoch: int, writes: list[list[Any]], consume_alarm: int | None) -> None:
        await self.state.commit(actor, epoch, writes, consume_alarm)

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
