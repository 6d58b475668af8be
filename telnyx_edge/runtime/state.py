"""The isolates' side of storage: reads, and commits that keep each activation's order.

Every write of an activation comes from its one isolate, in turn order. While one commit of an
actor is in the engine, later commits of the same actor wait here and then go to the engine
together as ONE commit (they are consecutive turns, so committing them atomically together is
only stronger). That keeps a hot actor at one engine job per group-commit cycle however many
turns it ran, and it makes failure exact: if a commit fails, every commit queued behind it from
the same activation epoch (turns that may have read the failed writes) fails too and reaches
nothing durable. The isolate then drops the activation's cache and starts a new epoch.
"""

from __future__ import annotations

import asyncio
from typing import Any

from telnyx_edge.runtime.isolate import CallError
from telnyx_edge.runtime.storage import (
    MAX_LIST_LIMIT,
    ActorKey,
    ConsumeAlarm,
    Delete,
    DeleteAlarm,
    DeleteAll,
    Put,
    SetAlarm,
    StorageEngine,
    Write,
)

_Queued = tuple[list[Write], int, "asyncio.Future[None]"]


def to_writes(writes: list[list[Any]], consume_alarm: int | None) -> list[Write]:
    """Wire writes (["put", k, v], ["delete", k], ...) -> engine writes, consume first."""
    ops: list[Write] = []
    if consume_alarm is not None:
        ops.append(ConsumeAlarm(int(consume_alarm)))
    for write in writes:
        op = write[0]
        if op == "put":
            ops.append(Put(write[1], write[2]))
        elif op == "delete":
            ops.append(Delete(write[1]))
        elif op == "deleteAll":
            ops.append(DeleteAll())
        elif op == "setAlarm":
            ops.append(SetAlarm(int(write[1])))
        elif op == "deleteAlarm":
            ops.append(DeleteAlarm())
        else:
            raise ValueError(f"unknown write {op!r}")
    return ops


def _gate_error(exc: BaseException) -> CallError:
    return CallError("ActorOutputGateError", f"commit failed: {exc}")


class ActorState:
    def __init__(self, engine: StorageEngine) -> None:
        self.engine = engine
        self._queued: dict[ActorKey, list[_Queued]] = {}  # present while a commit is in flight
        self._failed_epochs: dict[ActorKey, int] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def get(self, actor: ActorKey, key: str) -> bytes | None:
        return self.engine.get(actor, key)

    def get_alarm(self, actor: ActorKey) -> int | None:
        return self.engine.get_alarm(actor)

    def list_range(self, actor: ActorKey, options: dict[str, Any]) -> list[list[Any]]:
        """The committed range; a limit above the engine's page size is read in pages."""
        want = int(options.get("limit") or 128)
        reverse = bool(options.get("reverse"))
        prefix = options.get("prefix")
        start = options.get("start")
        start_after = options.get("startAfter")
        end = options.get("end")
        out: list[list[Any]] = []
        while True:
            page = self.engine.list(
                actor, prefix=prefix, start=start, start_after=start_after, end=end,
                reverse=reverse, limit=min(want - len(out), MAX_LIST_LIMIT),
            )
            out.extend([k, v] for k, v in page)
            if len(out) >= want or len(page) < MAX_LIST_LIMIT:
                return out
            if reverse:
                end = page[-1][0]
            else:
                start, start_after = None, page[-1][0]

    async def commit(self, actor: ActorKey, epoch: int, writes: list[list[Any]], consume_alarm: int | None) -> None:
        """Durable when this returns; raises CallError(ActorOutputGateError) otherwise."""
        if self._failed_epochs.get(actor) == epoch:
            raise CallError("ActorOutputGateError", "an earlier commit of this activation failed; its cache was dropped")
        ops = to_writes(writes, consume_alarm)
        queue = self._queued.get(actor)
        if queue is not None:
            future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            queue.append((ops, epoch, future))
            await future
            return
        self._queued[actor] = []
        try:
            await self.engine.commit(actor, ops)
        except Exception as exc:
            self._failed_epochs[actor] = epoch
            self._next(actor)
            raise _gate_error(exc) from exc
        self._next(actor)

    def _next(self, actor: ActorKey) -> None:
        """After a commit settled: fail what may have read failed writes, send the rest as one."""
        group: list[_Queued] = []
        for ops, epoch, future in self._queued.pop(actor):
            if self._failed_epochs.get(actor) == epoch:
                if not future.done():
                    future.set_exception(CallError("ActorOutputGateError", "an earlier commit of this activation failed"))
            else:
                group.append((ops, epoch, future))
        if group:
            self._queued[actor] = []
            task = asyncio.create_task(self._commit_group(actor, group))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _commit_group(self, actor: ActorKey, group: list[_Queued]) -> None:
        try:
            await self.engine.commit(actor, [op for ops, _, _ in group for op in ops])
        except Exception as exc:  # noqa: BLE001 - handed to every waiting turn
            for _, epoch, future in group:
                self._failed_epochs[actor] = epoch
                if not future.done():
                    future.set_exception(_gate_error(exc))
        else:
            for _, _, future in group:
                if not future.done():
                    future.set_result(None)
        self._next(actor)
