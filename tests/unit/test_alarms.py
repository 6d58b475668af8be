"""The alarm scheduler on a real engine and SQLite file. Waits are on futures, never sleeps."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from telnyx_edge.runtime.alarms import AlarmInfo, AlarmScheduler, now_ms
from telnyx_edge.runtime.storage import (
    ActorKey,
    ConsumeAlarm,
    DeleteAll,
    Put,
    SetAlarm,
    StorageEngine,
    Write,
)

A = ("Session", "alice")
B = ("Session", "bob")


@dataclass
class Call:
    actor: ActorKey
    when_ms: int
    info: AlarmInfo
    at_ms: int


@dataclass
class FakeRuntime:
    """Plays the runtime's side of `deliver`: run a handler, commit its writes + ConsumeAlarm."""

    engine: StorageEngine
    handler: Callable[[Call], Awaitable[list[Write] | None]] | None = None
    calls: list[Call] = field(default_factory=list)
    waiters: list[tuple[int, asyncio.Future[None]]] = field(default_factory=list)

    async def deliver(self, actor: ActorKey, when_ms: int, info: AlarmInfo) -> bool:
        call = Call(actor, when_ms, info, now_ms())
        self.calls.append(call)
        for count, fut in self.waiters:
            if len(self.calls) >= count and not fut.done():
                fut.set_result(None)
        writes = [] if self.handler is None else await self.handler(call)
        if writes is None:
            return False  # the handler "threw": commit nothing
        await self.engine.commit(actor, [*writes, ConsumeAlarm(when_ms)])
        return True

    async def wait_calls(self, count: int, timeout: float = 5.0) -> list[Call]:
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.waiters.append((count, fut))
        if len(self.calls) >= count:
            fut.set_result(None)
        await asyncio.wait_for(fut, timeout)
        return self.calls


def run(db: Path, body: Callable[[StorageEngine], Awaitable[None]]) -> None:
    async def main() -> None:
        engine = StorageEngine(db)
        await engine.start()
        try:
            await body(engine)
        finally:
            await engine.stop()

    asyncio.run(main())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "actors.db"


def test_fires_within_a_second_of_its_time_then_is_gone(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine)
        scheduler = AlarmScheduler(engine, rt.deliver)
        await scheduler.start()
        when = now_ms() + 300
        await engine.commit(A, [SetAlarm(when)])
        (call,) = await rt.wait_calls(1)
        assert call.actor == A and call.when_ms == when
        assert call.info == AlarmInfo(retry_count=0, is_retry=False)
        assert when <= call.at_ms < when + 1000
        await scheduler.stop()
        assert engine.get_alarm(A) is None  # one-shot
        assert len(rt.calls) == 1

    run(db, body)


def test_an_earlier_alarm_wakes_a_sleeping_scheduler(db: Path) -> None:
    """The scheduler sleeps until the far alarm; a sooner one set later must still fire on time."""

    async def body(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine)
        await engine.commit(A, [SetAlarm(now_ms() + 60_000)])
        scheduler = AlarmScheduler(engine, rt.deliver)
        await scheduler.start()
        await asyncio.sleep(0)  # let it compute its 60 s sleep
        when = now_ms() + 200
        await engine.commit(B, [SetAlarm(when)])
        (call,) = await rt.wait_calls(1, timeout=2.0)
        assert call.actor == B and call.at_ms < when + 1000
        await scheduler.stop()
        assert engine.get_alarm(A) is not None

    run(db, body)


def test_failed_delivery_retries_three_times_then_deletes(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        async def throws(call: Call) -> None:
            return None

        rt = FakeRuntime(engine, throws)
        scheduler = AlarmScheduler(engine, rt.deliver, retry_delay_s=0.1)
        await scheduler.start()
        when = now_ms() - 5  # in the past: fires as soon as possible
        await engine.commit(A, [SetAlarm(when)])
        calls = await rt.wait_calls(4)
        await scheduler.stop()  # waits for the 4th attempt's bookkeeping
        assert [(c.info.retry_count, c.info.is_retry) for c in calls] == [
            (0, False), (1, True), (2, True), (3, True),
        ]
        assert all(c.when_ms == when for c in calls)
        gaps = [b.at_ms - a.at_ms for a, b in zip(calls, calls[1:], strict=False)]
        assert all(90 <= gap < 600 for gap in gaps), gaps
        assert engine.get_alarm(A) is None
        assert len(rt.calls) == 4

    run(db, body)


def test_a_handler_that_rearms_keeps_its_new_alarm(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        async def rearm_once(call: Call) -> list[Write]:
            if len(rt.calls) == 1:
                return [Put("fired", b"1"), SetAlarm(now_ms() + 150)]
            return [Put("fired", b"2")]

        rt = FakeRuntime(engine, rearm_once)
        scheduler = AlarmScheduler(engine, rt.deliver)
        await scheduler.start()
        await engine.commit(A, [SetAlarm(now_ms() + 50)])
        first, second = await rt.wait_calls(2)
        await scheduler.stop()
        assert second.when_ms > first.when_ms
        assert second.info.retry_count == 0
        assert engine.get(A, "fired") == b"2"
        assert engine.get_alarm(A) is None

    run(db, body)


def test_a_success_that_forgot_to_consume_does_not_refire(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        fired: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        calls: list[int] = []

        async def sloppy(actor: ActorKey, when_ms: int, info: AlarmInfo) -> bool:
            calls.append(when_ms)
            if not fired.done():
                fired.set_result(None)
            return True  # never commits ConsumeAlarm

        scheduler = AlarmScheduler(engine, sloppy)
        await scheduler.start()
        await engine.commit(A, [SetAlarm(now_ms())])
        await asyncio.wait_for(fired, 2)
        await scheduler.stop()
        assert engine.get_alarm(A) is None
        assert len(calls) == 1

    run(db, body)


def test_retry_count_survives_a_restart(db: Path) -> None:
    calls: list[AlarmInfo] = []

    async def fail(call: Call) -> None:
        return None

    async def first_run(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine, fail)
        scheduler = AlarmScheduler(engine, rt.deliver, retry_delay_s=0.2)
        await scheduler.start()
        await engine.commit(A, [SetAlarm(now_ms() - 1)])
        await rt.wait_calls(1)
        await scheduler.stop()  # "crash" right after the first failure was recorded
        calls.extend(c.info for c in rt.calls)
        state = engine.alarm_state(A)
        assert state is not None and state.retry_count == 1

    async def second_run(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine, None)
        scheduler = AlarmScheduler(engine, rt.deliver, retry_delay_s=0.2)
        await scheduler.start()
        (call,) = await rt.wait_calls(1)
        await scheduler.stop()
        calls.append(call.info)
        assert engine.get_alarm(A) is None

    run(db, first_run)
    run(db, second_run)
    assert calls == [AlarmInfo(0, False), AlarmInfo(1, True)]


def test_alarms_due_while_down_fire_at_start(db: Path) -> None:
    async def arm(engine: StorageEngine) -> None:
        # Alarms whose time passes while the runtime is down look like this on restart.
        await engine.commit(A, [SetAlarm(now_ms() - 100), Put("k", b"v")])
        await engine.commit(B, [SetAlarm(now_ms() - 60_000)])
        await engine.commit(A, [DeleteAll()])  # keeps the alarm

    async def restart(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine)
        scheduler = AlarmScheduler(engine, rt.deliver)
        started = now_ms()
        await scheduler.start()
        calls = await rt.wait_calls(2)
        await scheduler.stop()
        assert {c.actor for c in calls} == {A, B}
        assert all(c.at_ms - started < 500 for c in calls)
        assert engine.get_alarm(A) is None and engine.get_alarm(B) is None

    run(db, arm)
    run(db, restart)


def test_pause_holds_deliveries_until_resume(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        rt = FakeRuntime(engine)
        scheduler = AlarmScheduler(engine, rt.deliver)
        await scheduler.start()
        scheduler.pause()
        await engine.commit(A, [SetAlarm(now_ms() - 1)])
        with pytest.raises(TimeoutError):
            await rt.wait_calls(1, timeout=0.3)
        scheduler.resume()
        await rt.wait_calls(1)
        await scheduler.stop()
        assert len(rt.calls) == 1

    run(db, body)


def test_never_two_deliveries_of_one_actor_and_stop_waits(db: Path) -> None:
    async def body(engine: StorageEngine) -> None:
        release = asyncio.Event()

        async def slow_for_alice(call: Call) -> list[Write]:
            if call.actor == A:
                await release.wait()
            return []

        rt = FakeRuntime(engine, slow_for_alice)
        scheduler = AlarmScheduler(engine, rt.deliver)
        await scheduler.start()
        await engine.commit(A, [SetAlarm(now_ms() - 1)])
        await rt.wait_calls(1)
        # Alice's alarm stays due while her delivery hangs; other alarms keep waking the loop.
        others = [("Session", f"n{i}") for i in range(5)]
        for actor in others:
            await engine.commit(actor, [SetAlarm(now_ms() - 1)])
        await rt.wait_calls(6)
        assert [c.actor for c in rt.calls].count(A) == 1
        assert A in scheduler.in_flight
        stopping = asyncio.ensure_future(scheduler.stop())
        await asyncio.sleep(0.05)
        assert not stopping.done()  # stop waits for the delivery in flight
        release.set()
        await asyncio.wait_for(stopping, 2)
        assert engine.get_alarm(A) is None
        assert [c.actor for c in rt.calls].count(A) == 1

    run(db, body)
