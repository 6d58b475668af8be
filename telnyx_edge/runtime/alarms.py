"""The alarm scheduler: fires each actor's one durable alarm, with retries kept in the database.

Alarms are rows in the storage engine, never timers in an isolate, so they survive reloads and
restarts. The scheduler sleeps until the earliest fire time in the database (no polling), and
the engine wakes it early when a commit arms something sooner. Each due alarm is handed to
`deliver`, which runs the actor's `alarm()` as an ordinary turn. Delivery is at least once:
the alarm row is only removed after a delivery succeeded (the runtime commits the turn's
writes together with `ConsumeAlarm`), so a crash mid-delivery fires it again after restart.

A failed delivery is retried `max_retries` times, `retry_delay_s` apart, with `retry_count`
1..max_retries; the count and the next fire time are written to the database before the
retry is due, so a restart resumes the sequence instead of starting it over. After the last
failure the alarm is deleted. Every bookkeeping write names the alarm's generation, so it is a
no-op if a turn re-armed or deleted the alarm in the meantime.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from telnyx_edge.runtime.storage import (
    ActorKey,
    AlarmExpire,
    AlarmRetry,
    AlarmState,
    StorageEngine,
    StorageError,
)

log = logging.getLogger(__name__)

# Re-read the database at least this often, so a wall-clock jump cannot leave an alarm
# waiting behind a monotonic-clock timeout computed before the jump.
MAX_SLEEP_S = 30.0


@dataclass(frozen=True)
class AlarmInfo:
    retry_count: int  # 0 on the first delivery
    is_retry: bool  # retry_count > 0


Deliver = Callable[[ActorKey, int, AlarmInfo], Awaitable[bool]]
"""Run the actor's alarm() as a turn: (actor, when_ms, info) -> True iff it succeeded.

On success the runtime commits the turn's writes plus `ConsumeAlarm(when_ms)` in one commit.
"""


def now_ms() -> int:
    return int(time.time() * 1000)


class AlarmScheduler:
    def __init__(
        self,
        engine: StorageEngine,
        deliver: Deliver,
        *,
        retry_delay_s: float = 1.0,
        max_retries: int = 3,
        max_in_flight: int = 256,
    ) -> None:
        self._engine = engine
        self._deliver = deliver
        self._retry_delay_ms = int(retry_delay_s * 1000)
        self._max_retries = max_retries
        self._max_in_flight = max_in_flight
        self._wake = asyncio.Event()
        self._in_flight: dict[ActorKey, asyncio.Task[None]] = {}
        self._paused = False
        self._stopping = False
        self._next_wake_ms: int | None = None
        self._runner: asyncio.Task[None] | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self.deliveries = 0  # attempts started, for tests and diagnostics

    async def start(self) -> None:
        """Start firing. Alarms that came due while nothing was running fire at once."""
        if self._runner is not None:
            raise RuntimeError("the alarm scheduler is already started")
        self._unsubscribe = self._engine.add_alarm_listener(self._armed)
        self._runner = asyncio.create_task(self._run(), name="alarm-scheduler")

    async def stop(self) -> None:
        """Stop firing and wait for the deliveries in flight (and their bookkeeping)."""
        self._stopping = True
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._runner is not None:
            await self._runner
        await self.wait_idle()

    def pause(self) -> None:
        """Start no new delivery until `resume()` (a hot reload is swapping isolates)."""
        self._paused = True

    def resume(self) -> None:
        self._paused = False
        self._wake.set()

    async def wait_idle(self) -> None:
        """Wait until no delivery is in flight."""
        while self._in_flight:
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    @property
    def in_flight(self) -> frozenset[ActorKey]:
        return frozenset(self._in_flight)

    def _armed(self, fire_ms: int) -> None:
        # Called by the engine on the loop after a commit armed an alarm. Only an alarm
        # sooner than the planned wake-up needs the loop to recompute its sleep.
        if self._next_wake_ms is None or fire_ms < self._next_wake_ms:
            self._wake.set()

    async def _run(self) -> None:
        while not self._stopping:
            self._wake.clear()
            timeout: float | None = None
            if self._paused:
                self._next_wake_ms = None
            else:
                try:
                    timeout = self._dispatch_due()
                except StorageError:
                    return  # the engine stopped under us: nothing more to fire
                except Exception:  # noqa: BLE001 - keep firing alarms after a bad read
                    log.exception("alarm scheduler: reading due alarms failed")
                    timeout = 1.0
            try:
                await asyncio.wait_for(self._wake.wait(), timeout)
            except TimeoutError:
                pass

    def _dispatch_due(self) -> float | None:
        """Start every due delivery we may; return how long to sleep until the next one."""
        now = now_ms()
        for state in self._engine.due_alarms(now, limit=self._max_in_flight * 2):
            if len(self._in_flight) >= self._max_in_flight:
                break  # a finishing delivery wakes the loop, which picks up the rest
            if state.actor in self._in_flight:
                continue  # never two deliveries of one actor's alarm at once
            task = asyncio.create_task(self._attempt(state), name=f"alarm {state.actor}")
            self._in_flight[state.actor] = task
        upcoming = self._engine.next_alarm_after(now)
        self._next_wake_ms = upcoming
        if upcoming is None:
            return None
        # +1 ms: wall-clock ms are truncated, so waking exactly on time could see "not yet".
        return min(MAX_SLEEP_S, max(0.0, (upcoming - now_ms() + 1) / 1000))

    async def _attempt(self, state: AlarmState) -> None:
        actor = state.actor
        self.deliveries += 1
        info = AlarmInfo(retry_count=state.retry_count, is_retry=state.retry_count > 0)
        try:
            try:
                ok = await self._deliver(actor, state.when_ms, info)
            except Exception:  # noqa: BLE001 - a broken delivery is a failed delivery
                log.exception("alarm delivery to %s/%s raised", *actor)
                ok = False
            await self._after(state, ok)
        except StorageError:
            pass  # engine stopped: the row is unchanged and fires again on the next start
        except Exception:  # noqa: BLE001 - the row is unchanged, so the alarm fires again
            log.exception("alarm bookkeeping for %s/%s failed", *actor)
        finally:
            del self._in_flight[actor]
            self._wake.set()

    async def _after(self, state: AlarmState, ok: bool) -> None:
        actor = state.actor
        if ok:
            # The runtime consumed the alarm with the turn's commit. If the same generation
            # is still armed, it did not (or could not): expire it here, or it would refire
            # in a tight loop.
            current = self._engine.alarm_state(actor)
            if current is not None and current.generation == state.generation:
                await self._engine.commit(actor, [AlarmExpire(state.generation)])
        elif state.retry_count >= self._max_retries:
            log.info("alarm of %s/%s failed %d times; deleted", *actor, state.retry_count + 1)
            await self._engine.commit(actor, [AlarmExpire(state.generation)])
        else:
            retry = AlarmRetry(
                state.generation, state.retry_count + 1, now_ms() + self._retry_delay_ms
            )
            await self._engine.commit(actor, [retry])
