"""How the storage engine's writes map onto SQLite: the write types, their validation, the schema.

The write types are re-exported by `storage.py`, which is where callers import them from.

`kv` holds every actor's keys (UTF-8 BLOBs, so memcmp order is code point order) and opaque
values. `actors` holds one row per actor that ever committed: last activity and its one alarm.
`alarm_ms` is what getAlarm() returns; `alarm_fire_ms` is when the scheduler fires next
(later than `alarm_ms` while retrying); `alarm_gen` grows with every SetAlarm, so the
scheduler's bookkeeping can name the exact alarm it means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

ActorKey = tuple[str, str]
"""(actor type, actor name)."""


RESERVED_PREFIX = "__telnyx_"


SCHEMA_VERSION = 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    key BLOB NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (type, name, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS actors (
    type TEXT NOT NULL,
    name TEXT NOT NULL,
    last_activity_ms INTEGER NOT NULL,
    alarm_ms INTEGER,
    alarm_fire_ms INTEGER,
    alarm_retries INTEGER NOT NULL DEFAULT 0,
    alarm_gen INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (type, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS actors_alarm_fire ON actors(alarm_fire_ms)
    WHERE alarm_fire_ms IS NOT NULL;
"""

TOUCH = (
    "INSERT INTO actors(type, name, last_activity_ms) VALUES (?, ?, ?) "
    "ON CONFLICT(type, name) DO UPDATE SET last_activity_ms = excluded.last_activity_ms"
)
PUT = "INSERT OR REPLACE INTO kv(type, name, key, value) VALUES (?, ?, ?, ?)"
DELETE = "DELETE FROM kv WHERE type = ? AND name = ? AND key = ?"
DELETE_ALL = "DELETE FROM kv WHERE type = ? AND name = ?"
SET_ALARM = (
    "UPDATE actors SET alarm_ms = ?, alarm_fire_ms = ?, alarm_retries = 0, "
    "alarm_gen = alarm_gen + 1 WHERE type = ? AND name = ?"
)
CLEAR_ALARM = (
    "UPDATE actors SET alarm_ms = NULL, alarm_fire_ms = NULL, alarm_retries = 0 "
    "WHERE type = ? AND name = ?"
)
CONSUME_ALARM = CLEAR_ALARM + " AND alarm_ms = ?"
EXPIRE_ALARM = CLEAR_ALARM + " AND alarm_gen = ? AND alarm_ms IS NOT NULL"
RETRY_ALARM = (
    "UPDATE actors SET alarm_retries = ?, alarm_fire_ms = ? "
    "WHERE type = ? AND name = ? AND alarm_gen = ? AND alarm_ms IS NOT NULL"
)
ALARM_COLUMNS = "type, name, alarm_ms, alarm_fire_ms, alarm_retries, alarm_gen"


@dataclass(frozen=True, slots=True)
class Put:
    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Delete:
    key: str


@dataclass(frozen=True, slots=True)
class DeleteAll:
    """Every key of the actor. The alarm stays (spec: deleteAll() does not clear it)."""


@dataclass(frozen=True, slots=True)
class SetAlarm:
    """Replace the actor's one alarm; its retry count starts again at 0."""

    when_ms: int


@dataclass(frozen=True, slots=True)
class DeleteAlarm:
    pass


@dataclass(frozen=True, slots=True)
class ConsumeAlarm:
    """Delete the alarm iff it is still the one that fired at `when_ms`.

    "Still" means: its time is `when_ms` after the writes before this one, and no `SetAlarm`
    came earlier in the same commit. A handler that re-armed (even to the same time) keeps
    its new alarm.
    """

    when_ms: int


@dataclass(frozen=True, slots=True)
class AlarmRetry:
    """Scheduler bookkeeping: the attempt of alarm `generation` failed; fire again at `fire_ms`."""

    generation: int
    retry_count: int
    fire_ms: int


@dataclass(frozen=True, slots=True)
class AlarmExpire:
    """Scheduler bookkeeping: delete alarm `generation` (retries exhausted, or delivered)."""

    generation: int


Write = Put | Delete | DeleteAll | SetAlarm | DeleteAlarm | ConsumeAlarm | AlarmRetry | AlarmExpire


def encode_key(key: object) -> bytes:
    if not isinstance(key, str):
        raise ValueError(f"storage keys are strings, not {type(key).__name__}")
    # surrogatepass: a lone UTF-16 surrogate from JS still round-trips and still sorts by
    # code point (its three bytes fall between U+D7FF and U+E000).
    return key.encode("utf-8", "surrogatepass")


def _written_key(key: object) -> bytes:
    if isinstance(key, str) and key.startswith(RESERVED_PREFIX):
        raise ValueError(f"keys starting with {RESERVED_PREFIX!r} are reserved: {key!r}")
    return encode_key(key)


def decode_key(raw: bytes) -> str:
    return raw.decode("utf-8", "surrogatepass")


def check_ms(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{what} must be an integer (ms since epoch), not {value!r}")
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{what} out of range: {value}")
    return value


# One write as the writer thread applies it: SQL, ready-made parameters, and what it does to
# the alarm (the writer needs that for ConsumeAlarm and to notify the scheduler).
Op = tuple[str, tuple[Any, ...], int]
PLAIN, ARM, DISARM, CONSUME, RETRY = range(5)


def prepare(actor: ActorKey, writes: Sequence[Write]) -> list[Op]:
    """Validate on the caller's side, so bad input fails that caller before any I/O."""
    if (
        not isinstance(actor, tuple)
        or len(actor) != 2
        or not all(isinstance(part, str) and part for part in actor)
    ):
        raise ValueError(f"actor must be a (type, name) pair of non-empty strings, not {actor!r}")
    kind, name = actor
    ops: list[Op] = []
    for write in writes:
        if isinstance(write, Put):
            value = write.value
            if isinstance(value, (bytearray, memoryview)):
                value = bytes(value)
            if not isinstance(value, bytes):
                raise ValueError(f"values are bytes, not {type(value).__name__}")
            ops.append((PUT, (kind, name, _written_key(write.key), value), PLAIN))
        elif isinstance(write, Delete):
            ops.append((DELETE, (kind, name, _written_key(write.key)), PLAIN))
        elif isinstance(write, DeleteAll):
            ops.append((DELETE_ALL, (kind, name), PLAIN))
        elif isinstance(write, SetAlarm):
            when = check_ms(write.when_ms, "alarm time")
            ops.append((SET_ALARM, (when, when, kind, name), ARM))
        elif isinstance(write, DeleteAlarm):
            ops.append((CLEAR_ALARM, (kind, name), DISARM))
        elif isinstance(write, ConsumeAlarm):
            when = check_ms(write.when_ms, "alarm time")
            ops.append((CONSUME_ALARM, (kind, name, when), CONSUME))
        elif isinstance(write, AlarmRetry):
            fire = check_ms(write.fire_ms, "retry time")
            params = (write.retry_count, fire, kind, name, write.generation)
            ops.append((RETRY_ALARM, params, RETRY))
        elif isinstance(write, AlarmExpire):
            ops.append((EXPIRE_ALARM, (kind, name, write.generation), PLAIN))
        else:
            raise ValueError(f"not a storage write: {write!r}")
    return ops


