"""The alarm schedule: when each actor's one durable alarm fires next, and firing it.

The alarm itself (time, retry count) lives in the actor's own database and is changed only by
the isolate hosting it, inside turns. This scheduler keeps the schedule: an in-memory heap of
fire times, loaded from the instance index at start (which a runtime that stopped uncleanly
rebuilds from the databases first) and kept in step by the isolates, which report every alarm
change once it is durable. It sleeps until the earliest fire time (no polling) and hands each
due actor to `deliver`, which runs `alarm()` as an ordinary turn of that actor.

Retries after a handler throws are the isolate's: it records the retry in the database and
reports the new fire time (about a second later; 3 retries, then the alarm is deleted, spec
3.8). When a delivery never comes back (the isolate died, or no function owns the type), the
alarm stays armed in the database; the scheduler tries again after `redeliver_s`, and passes
the number of such failures so the isolate counts them as retries. Delivery is at least once.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable

ActorKey = tuple[str, str]

# Wake at least this often, so a wall-clock jump cannot leave an alarm waiting behind a
# monotonic-clock timeout computed before the jump.
MAX_SLEEP_S = 30.0

Deliver = Callable[[ActorKey, int], Awaitable["int | None"]]
"""Run the actor's alarm() as a turn: (actor, failures) -> its next fire time, None if none.

Raises when the delivery did not reach the actor (isolate gone, type not owned)."""


def now_ms() -> int:
    return int(time.time() * 1000)


class AlarmScheduler:
    def __init__(
        self,
        deliver: Deliver,
        *,
        on_change: Callable[[ActorKey, int | None], None] | None = None,
        redeliver_s: float = 1.0,
        max_in_flight: int = 256,
        notice: Callable[[str], None] = lambda message: None,
    ) -> None:
        self._deliver = deliver
        self._notice = notice  # the runtime's one reporter (a Notice line), never `logging`
        self._on_change = on_change
        self._redeliver_ms = int(redeliver_s * 1000)
        self._max_in_flight = max_in_flight
        self._fire: dict[ActorKey, int] = {}  # the truth of the schedule
        self._heap: list[tuple[int, ActorKey]] = []  # may hold stale entries; checked against _fire
        self._failures: dict[ActorKey, int] = {}
        self._parked: dict[ActorKey, int] = {}  # came due again while its delivery ran
        self._in_flight: dict[ActorKey, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()
        self._stopping = False
        self._next_wake_ms: int | None = None
        self._runner: asyncio.Task[None] | None = None
        self.deliveries = 0  # attempts started, for tests and diagnostics

    def load(self, entries: list[tuple[ActorKey, int]]) -> None:
        for actor, fire_ms in entries:
            self._put(actor, fire_ms)

    def set(self, actor: ActorKey, fire_ms: int | None) -> None:
        """An isolate committed a new alarm state for `actor` (None: no alarm)."""
        if fire_ms is None:
            self._fire.pop(actor, None)
        else:
            self._put(actor, int(fire_ms))
        if self._on_change is not None:
            self._on_change(actor, fire_ms)
        if fire_ms is not None and (self._next_wake_ms is None or fire_ms < self._next_wake_ms):
            self._wake.set()

    def _put(self, actor: ActorKey, fire_ms: int) -> None:
        if self._fire.get(actor) != fire_ms:
            self._fire[actor] = fire_ms
            heapq.heappush(self._heap, (fire_ms, actor))
            if self._next_wake_ms is None or fire_ms < self._next_wake_ms:
                self._wake.set()

    def fire_time(self, actor: ActorKey) -> int | None:
        return self._fire.get(actor)

    async def start(self) -> None:
        """Start firing. Alarms that came due while nothing was running fire at once."""
        if self._runner is not None:
            raise RuntimeError("the alarm scheduler is already started")
        self._runner = asyncio.create_task(self._run(), name="alarm-scheduler")

    async def stop(self) -> None:
        """Stop firing and wait for the deliveries in flight."""
        self._stopping = True
        self._wake.set()
        if self._runner is not None:
            await self._runner
        await self.wait_idle()

    async def wait_idle(self) -> None:
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            try:
                timeout = self._dispatch_due()
            except Exception as exc:  # noqa: BLE001 - a background loop reports and goes on
                self._notice(f"the alarm scheduler failed to dispatch due alarms ({type(exc).__name__}: {exc}); trying again in 1 s")
                timeout = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _dispatch_due(self) -> float | None:
        """Start every due delivery we may; return how long to sleep until the next one."""
        now = now_ms()
        heap = self._heap
        while heap and heap[0][0] <= now and len(self._in_flight) < self._max_in_flight:
            fire_ms, actor = heapq.heappop(heap)
            if self._fire.get(actor) != fire_ms:
                continue  # stale: re-armed or deleted since
            if actor in self._in_flight:
                self._parked[actor] = fire_ms  # never two deliveries of one actor's alarm at once
                continue
            # The delivery's answer (or its failure) puts the actor back on the schedule.
            del self._fire[actor]
            self._in_flight[actor] = asyncio.create_task(self._attempt(actor), name=f"alarm {actor}")
        while heap and self._fire.get(heap[0][1]) != heap[0][0]:
            heapq.heappop(heap)
        upcoming = heap[0][0] if heap else None
        self._next_wake_ms = upcoming
        if upcoming is None:
            return None
        # +1 ms: wall-clock ms are truncated, so waking exactly on time could see "not yet".
        return min(MAX_SLEEP_S, max(0.0, (upcoming - now_ms() + 1) / 1000))

    async def _attempt(self, actor: ActorKey) -> None:
        self.deliveries += 1
        try:
            try:
                fire = await self._deliver(actor, self._failures.get(actor, 0))
            except Exception as exc:  # noqa: BLE001 - the alarm stays armed; try again later
                failures = self._failures[actor] = self._failures.get(actor, 0) + 1
                if failures == 1:  # once per outage of this actor, not on every retry
                    self._notice(f"the alarm of {actor[0]} {actor[1]!r} could not be delivered ({exc}); retrying with backoff")
                if actor not in self._fire:
                    # Back off (a type nobody owns may stay unowned for long), at most a minute.
                    delay = min(self._redeliver_ms * 2 ** min(failures - 1, 10), 60_000)
                    self._put(actor, now_ms() + delay)
                return
            self._failures.pop(actor, None)
            self.set(actor, fire)
        finally:
            del self._in_flight[actor]
            parked = self._parked.pop(actor, None)
            if parked is not None and self._fire.get(actor) == parked:
                heapq.heappush(self._heap, (parked, actor))
            self._wake.set()
