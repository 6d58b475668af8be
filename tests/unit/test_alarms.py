"""The alarm schedule (runtime/alarms.py) with a delivery function standing in for the isolates.

The isolates' side (consume, retry bookkeeping in the actor's database) is tested end to end in
tests/e2e/test_storage_alarms.py; this checks the schedule itself. Waits are on futures."""

from __future__ import annotations

import asyncio

from telnyx_edge.runtime.alarms import AlarmScheduler, now_ms

A = ("Session", "alice")
B = ("Session", "bob")


class Deliveries:
    """Records deliveries; `answers` says what each actor's turn returns (a fire time, None, or an exception)."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, str], int]] = []
        self.answers: dict[tuple[str, str], list[object]] = {}
        self.running: set[tuple[str, str]] = set()
        self.overlaps = 0
        self.changed = asyncio.Event()
        self.gate: asyncio.Event | None = None

    async def deliver(self, actor: tuple[str, str], failures: int) -> int | None:
        if actor in self.running:
            self.overlaps += 1
        self.running.add(actor)
        self.calls.append((actor, failures))
        self.changed.set()
        try:
            if self.gate is not None:
                await self.gate.wait()
            answers = self.answers.get(actor) or [None]
            answer = answers.pop(0) if len(answers) > 1 else answers[0]
            if isinstance(answer, Exception):
                raise answer
            return answer  # type: ignore[return-value]
        finally:
            self.running.discard(actor)

    async def wait_calls(self, n: int) -> None:
        async def go() -> None:
            while len(self.calls) < n:
                self.changed.clear()
                await self.changed.wait()

        await asyncio.wait_for(go(), 5)


def run(scenario):  # type: ignore[no-untyped-def]
    asyncio.run(scenario())


def test_due_alarms_fire_in_order_and_an_answer_reschedules() -> None:
    async def scenario() -> None:
        d = Deliveries()
        changes: list[tuple[tuple[str, str], int | None]] = []
        s = AlarmScheduler(d.deliver, on_change=lambda a, f: changes.append((a, f)))
        now = now_ms()
        s.load([(B, now - 5), (A, now - 10)])
        d.answers[A] = [now + 60_000]  # alarm() re-armed a minute later
        await s.start()
        await d.wait_calls(2)
        await s.stop()
        assert [c[0] for c in d.calls] == [A, B]
        assert s.fire_time(A) == now + 60_000 and s.fire_time(B) is None
        assert (A, now + 60_000) in changes and (B, None) in changes

    run(scenario)


def test_an_alarm_armed_later_wakes_the_scheduler_and_a_deleted_one_never_fires() -> None:
    async def scenario() -> None:
        d = Deliveries()
        s = AlarmScheduler(d.deliver)
        await s.start()
        s.set(B, now_ms() + 60_000)
        s.set(B, None)  # deleted before it was due
        s.set(A, now_ms())
        await d.wait_calls(1)
        await s.stop()
        assert d.calls == [(A, 0)]

    run(scenario)


def test_a_delivery_that_never_came_back_is_retried_with_its_failure_count() -> None:
    async def scenario() -> None:
        d = Deliveries()
        d.answers[A] = [RuntimeError("isolate crashed"), RuntimeError("again"), None]
        s = AlarmScheduler(d.deliver, redeliver_s=0.01)
        s.load([(A, now_ms())])
        await s.start()
        await d.wait_calls(3)
        await s.stop()
        assert d.calls == [(A, 0), (A, 1), (A, 2)]
        assert s.fire_time(A) is None

    run(scenario)


def test_never_two_deliveries_of_one_actor_at_once_and_same_time_rearm_fires_again() -> None:
    async def scenario() -> None:
        d = Deliveries()
        d.gate = asyncio.Event()
        due = now_ms() - 1
        d.answers[A] = [due, None]  # the handler re-armed to the very same (past) time
        s = AlarmScheduler(d.deliver)
        s.load([(A, due)])
        await s.start()
        await d.wait_calls(1)
        s.set(A, due - 1)  # an isolate reports a change while the delivery runs
        await asyncio.sleep(0)
        d.gate.set()
        await d.wait_calls(2)
        await s.stop()
        assert d.overlaps == 0
        assert len(d.calls) >= 2

    run(scenario)


def test_a_failed_delivery_is_reported_through_the_runtime_once_per_outage() -> None:
    """Through the reporter it is given (a Notice line), not `logging`, which nothing shows."""
    notices: list[str] = []

    async def scenario() -> None:
        d = Deliveries()
        d.answers[A] = [RuntimeError("isolate crashed"), RuntimeError("again"), None]
        s = AlarmScheduler(d.deliver, redeliver_s=0.01, notice=notices.append)
        s.load([(A, now_ms())])
        await s.start()
        await d.wait_calls(3)
        await s.stop()

    run(scenario)
    assert len(notices) == 1, notices
    assert "could not be delivered (isolate crashed); retrying" in notices[0]
