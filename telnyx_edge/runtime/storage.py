"""The storage engine: every actor's durable key/value state and alarm, in one SQLite file.

Writes go through `commit()`, the durability boundary of a turn: it resolves only once the
writes are inside a COMMITted transaction that SQLite has fsync'd (WAL, `synchronous=FULL`).
One writer thread owns the write connection. It takes every commit waiting in its queue and
applies them all in ONE transaction (group commit), so N waiting turns cost one fsync, then
settles their futures on the event loop. Reads use a second connection: WAL lets them run
while the writer is mid-transaction, and they always see the last committed state.

Values are opaque bytes (the isolate encodes them); keys are ordered by code point. The
layout and its reasons are in `storage_schema.py`.
"""

from __future__ import annotations

import asyncio
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal
from urllib.parse import quote

from telnyx_edge.errors import EdgeError, RuntimeStartError
from telnyx_edge.runtime.storage_sql import (
    ALARM_COLUMNS,
    ARM,
    CONSUME,
    DISARM,
    RESERVED_PREFIX,
    RETRY,
    SCHEMA,
    SCHEMA_VERSION,
    TOUCH,
    ActorKey,
    AlarmExpire,
    AlarmRetry,
    ConsumeAlarm,
    Delete,
    DeleteAlarm,
    DeleteAll,
    Op,
    Put,
    SetAlarm,
    Write,
    decode_key,
    encode_key,
    prepare,
)

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows has no flock; the lock is skipped there
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MAX_LIST_LIMIT",
    "RESERVED_PREFIX",
    "AlarmListener",
    "ActorKey",
    "AlarmExpire",
    "AlarmRetry",
    "AlarmState",
    "ConsumeAlarm",
    "Delete",
    "DeleteAlarm",
    "DeleteAll",
    "EngineStats",
    "InstanceInfo",
    "Put",
    "SetAlarm",
    "StorageEngine",
    "StorageError",
    "Write",
]

log = logging.getLogger(__name__)

MAX_LIST_LIMIT = 1000
# A bound on one transaction: enough to amortise the fsync, small enough that the first
# commit of a burst does not wait behind an unbounded amount of work.
MAX_BATCH = 2048


class StorageError(EdgeError):
    """A commit that could not be made durable, or an engine used outside start()..stop()."""

    exit_code = 10


@dataclass(frozen=True, slots=True)
class InstanceInfo:
    """What `actors instances` may show about one actor: never its values."""

    name: str
    key_count: int
    value_bytes: int
    last_activity_ms: int
    alarm_ms: int | None


@dataclass(frozen=True, slots=True)
class AlarmState:
    """One armed alarm as the scheduler sees it."""

    actor: ActorKey
    when_ms: int
    fire_ms: int
    retry_count: int
    generation: int


@dataclass(frozen=True, slots=True)
class EngineStats:
    transactions: int  # committed write transactions, i.e. fsync batches
    commits: int  # commit() calls made durable
    failed_batches: int  # batches that failed and were retried one commit at a time
    largest_batch: int


@dataclass(slots=True)
class _Job:
    actor: ActorKey
    ops: list[Op]
    future: asyncio.Future[None]


_STOP = object()
AlarmListener = Callable[[int], None]


class StorageEngine:
    """Durable state for every actor of a runtime. Use from one event loop; `get`/`list` are sync."""

    def __init__(self, path: Path, *, read_only: bool = False) -> None:
        """`read_only`: inspect a file another runtime may hold (no lock, no writer, no commits)."""
        self.path = Path(path)
        self.read_only = read_only
        self._state: Literal["new", "running", "stopping", "stopped"] = "new"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._queue: queue.SimpleQueue[_Job | object] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None
        self._wconn: sqlite3.Connection | None = None
        self._rconn: sqlite3.Connection | None = None
        self._lock_fd: int | None = None
        # The read connection is shared by whoever reads (the loop thread, mostly, and
        # helper threads); sqlite3 connections are not safe to use from two threads at once.
        self._read_lock = threading.Lock()
        self._alarm_listeners: list[AlarmListener] = []
        self._stopped = asyncio.Event()
        self._transactions = 0
        self._commits = 0
        self._failed_batches = 0
        self._largest_batch = 0

    # -- lifecycle -------------------------------------------------------------------------

    async def start(self) -> None:
        if self._state != "new":
            raise StorageError("a storage engine can be started once")
        self._loop = asyncio.get_running_loop()
        if self.read_only:
            self._open_read_only()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_lock()
            self._wconn = self._connect()
            mode = self._wconn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.OperationalError(f"could not switch to WAL (got {mode})")
            version = self._wconn.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise RuntimeStartError(
                    f"{self.path} was written by a newer telnyx-edge (schema {version})",
                    hint="Upgrade telnyx-edge, or move the state file aside.",
                )
            self._wconn.executescript(SCHEMA + f"PRAGMA user_version = {SCHEMA_VERSION};")
            self._rconn = self._connect()
            self._rconn.execute("PRAGMA query_only = ON")
        except (sqlite3.Error, OSError) as exc:
            self._close_connections()
            self._state = "stopped"
            raise RuntimeStartError(
                f"cannot open actor storage {self.path}: {exc}",
                hint="Check that the directory is writable and the file is a telnyx-edge state file.",
            ) from exc
        except BaseException:
            self._close_connections()
            self._state = "stopped"
            raise
        self._writer = threading.Thread(target=self._writer_main, name="storage-writer", daemon=True)
        self._state = "running"
        self._writer.start()

    def _open_read_only(self) -> None:
        if not self.path.is_file():
            self._state = "stopped"
            raise RuntimeStartError(
                f"no actor state at {self.path}", hint="Run the project once to create it."
            )
        try:
            uri = f"file:{quote(str(self.path.resolve()))}?mode=ro"
            self._rconn = sqlite3.connect(uri, uri=True, check_same_thread=False)
            self._rconn.execute("PRAGMA busy_timeout = 5000")
        except sqlite3.Error as exc:
            self._state = "stopped"
            raise RuntimeStartError(f"cannot read actor storage {self.path}: {exc}") from exc
        self._state = "running"

    def _take_lock(self) -> None:
        """One runtime per state file: two would both fire its alarms and host its actors."""
        if fcntl is None:
            return
        fd = os.open(self.path.with_name(self.path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 20, 0).decode(errors="replace").strip() or "?"
            os.close(fd)
            raise RuntimeStartError(
                f"actor storage {self.path} is in use by another telnyx-edge runtime (pid {holder})",
                hint="Stop the other `telnyx-edge dev` or `serve`: one runtime owns a state file.",
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        self._lock_fd = fd  # the kernel drops the lock when this closes, even on SIGKILL

    def _connect(self) -> sqlite3.Connection:
        # isolation_level=None: we issue BEGIN/COMMIT ourselves, so one batch is one transaction.
        conn = sqlite3.connect(
            self.path, isolation_level=None, check_same_thread=False, cached_statements=64
        )
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute("PRAGMA busy_timeout = 5000")
        return conn

    async def stop(self) -> None:
        """Finish every queued commit, checkpoint the WAL into the file, close. Idempotent."""
        if self._state == "stopping":
            await self._stopped.wait()
            return
        if self._state == "stopped":
            return
        if self._state == "new":
            self._state = "stopped"
            return
        self._state = "stopping"
        # 1. no new commits (commit() checks the state); 2. the sentinel queues behind every
        # commit already accepted, so the writer makes them all durable before it exits;
        # 3. the writer checkpoints and closes its connection; 4. close the reader.
        self._queue.put(_STOP)
        writer = self._writer
        if writer is not None:
            await asyncio.to_thread(writer.join)
        # The writer settled its last batch with call_soon_threadsafe: let those callbacks run.
        await asyncio.sleep(0)
        self._close_connections()
        self._state = "stopped"
        self._stopped.set()

    def _close_connections(self) -> None:
        for conn in (self._wconn, self._rconn):
            if conn is not None:
                conn.close()
        self._wconn = self._rconn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @property
    def running(self) -> bool:
        return self._state == "running"

    # -- writes ----------------------------------------------------------------------------

    async def commit(self, actor: ActorKey, writes: Sequence[Write]) -> None:
        """Make `writes` durable as one atomic unit, in order. The reply waits for this."""
        if self._state != "running" or self._loop is None:
            raise StorageError("the storage engine is not running")
        if self.read_only:
            raise StorageError("this storage engine was opened read-only")
        ops = prepare(actor, writes)
        if not ops:
            return
        future: asyncio.Future[None] = self._loop.create_future()
        self._queue.put(_Job(actor, ops, future))
        await future

    def add_alarm_listener(self, listener: AlarmListener) -> Callable[[], None]:
        """Call `listener(fire_ms)` on the loop after a commit arms an alarm; returns an unsubscribe."""
        self._alarm_listeners.append(listener)
        return lambda: self._alarm_listeners.remove(listener)

    @property
    def stats(self) -> EngineStats:
        return EngineStats(
            self._transactions, self._commits, self._failed_batches, self._largest_batch
        )

    def _writer_main(self) -> None:
        stopping = False
        while not stopping:
            first = self._queue.get()
            if first is _STOP:
                break
            assert isinstance(first, _Job)
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stopping = True
                    break
                assert isinstance(item, _Job)
                batch.append(item)
            try:
                self._run_batch(batch)
            except Exception as exc:  # noqa: BLE001 - a bug must not leave callers waiting forever
                self._fail_all(batch, exc)
        conn = self._wconn
        if conn is not None:
            try:
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            except sqlite3.Error:
                pass  # the WAL stays and is replayed on the next open: nothing is lost
            conn.close()
            self._wconn = None

    def _fail_all(self, batch: list[_Job], exc: BaseException) -> None:
        error = StorageError(f"the storage writer failed: {exc!r}")
        results: list[tuple[asyncio.Future[None], BaseException | None]] = [
            (job.future, error) for job in batch
        ]
        if self._wconn is not None and self._wconn.in_transaction:
            self._wconn.execute("ROLLBACK")
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._settle, results, None)

    def _run_batch(self, batch: list[_Job]) -> None:
        conn = self._wconn
        assert conn is not None
        results: list[tuple[asyncio.Future[None], BaseException | None]] = []
        earliest: int | None = None
        try:
            earliest = self._transaction(conn, batch)
            results = [(job.future, None) for job in batch]
        except Exception:
            # One bad commit must fail only its own caller: redo them one per transaction.
            if len(batch) > 1:
                self._failed_batches += 1
            for job in batch:
                try:
                    alarm = self._transaction(conn, [job])
                    if alarm is not None and (earliest is None or alarm < earliest):
                        earliest = alarm
                    results.append((job.future, None))
                except Exception as exc:  # noqa: BLE001 - handed to the caller, not swallowed
                    error = StorageError(f"commit failed: {exc}")
                    error.__cause__ = exc
                    results.append((job.future, error))
        loop = self._loop
        assert loop is not None
        try:
            loop.call_soon_threadsafe(self._settle, results, earliest)
        except RuntimeError:
            pass  # the loop is closed: nobody is waiting any more

    def _transaction(self, conn: sqlite3.Connection, batch: list[_Job]) -> int | None:
        """Apply `batch` in one transaction; return the earliest fire time it armed."""
        now = int(time.time() * 1000)
        earliest: int | None = None
        conn.execute("BEGIN IMMEDIATE")
        try:
            for job in batch:
                armed = self._apply(conn, job, now)
                if armed is not None and (earliest is None or armed < earliest):
                    earliest = armed
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        self._transactions += 1
        self._commits += len(batch)
        self._largest_batch = max(self._largest_batch, len(batch))
        return earliest

    @staticmethod
    def _apply(conn: sqlite3.Connection, job: _Job, now: int) -> int | None:
        kind, name = job.actor
        conn.execute(TOUCH, (kind, name, now))
        armed: int | None = None
        rearmed = False
        for sql, params, effect in job.ops:
            if effect == CONSUME and rearmed:
                continue  # the handler re-armed in this very turn: keep the new alarm
            cursor = conn.execute(sql, params)
            if effect == ARM:
                armed, rearmed = params[0], True
            elif effect == DISARM:
                armed = None
            elif effect == RETRY and cursor.rowcount:
                armed = params[1]
        return armed

    def _settle(
        self,
        results: list[tuple[asyncio.Future[None], BaseException | None]],
        earliest: int | None,
    ) -> None:
        if earliest is not None:
            for listener in list(self._alarm_listeners):
                try:
                    listener(earliest)
                except Exception:  # noqa: BLE001 - a listener must not strand the commits
                    log.exception("alarm listener %r failed", listener)
        for future, error in results:
            if future.done():
                continue  # the caller was cancelled; the write is durable regardless
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)

    # -- reads (committed state, from any thread) ------------------------------------------

    def _read(self, sql: str, params: tuple[object, ...]) -> list[Any]:
        conn = self._rconn
        if conn is None:
            raise StorageError("the storage engine is not running")
        with self._read_lock:
            return conn.execute(sql, params).fetchall()

    def get(self, actor: ActorKey, key: str) -> bytes | None:
        conn = self._rconn
        if conn is None:
            raise StorageError("the storage engine is not running")
        params = (actor[0], actor[1], encode_key(key))
        with self._read_lock:
            row = conn.execute(
                "SELECT value FROM kv WHERE type = ? AND name = ? AND key = ?", params
            ).fetchone()
        return None if row is None else bytes(row[0])

    def key_names(self, actor: ActorKey, *, limit: int = 50) -> list[str]:
        """The first `limit` key names of an actor (for inspection: never values)."""
        rows = self._read(
            "SELECT key FROM kv WHERE type = ? AND name = ? ORDER BY key LIMIT ?",
            (actor[0], actor[1], limit),
        )
        return [decode_key(row[0]) for row in rows]

    def get_alarm(self, actor: ActorKey) -> int | None:
        rows = self._read(
            "SELECT alarm_ms FROM actors WHERE type = ? AND name = ?", (actor[0], actor[1])
        )
        return None if not rows else int(rows[0][0]) if rows[0][0] is not None else None

    def alarm_state(self, actor: ActorKey) -> AlarmState | None:
        rows = self._read(
            f"SELECT {ALARM_COLUMNS} FROM actors WHERE type = ? AND name = ? "
            "AND alarm_ms IS NOT NULL",
            (actor[0], actor[1]),
        )
        return _alarm_state(rows[0]) if rows else None

    def due_alarms(self, now_ms: int, *, limit: int = 1000) -> list[AlarmState]:
        """Armed alarms whose next fire time is at or before `now_ms`, earliest first."""
        rows = self._read(
            f"SELECT {ALARM_COLUMNS} FROM actors WHERE alarm_fire_ms <= ? "
            "ORDER BY alarm_fire_ms LIMIT ?",
            (now_ms, limit),
        )
        return [_alarm_state(row) for row in rows]

    def next_alarm_after(self, after_ms: int) -> int | None:
        """The earliest fire time strictly after `after_ms`, if any."""
        rows = self._read(
            "SELECT MIN(alarm_fire_ms) FROM actors WHERE alarm_fire_ms > ?", (after_ms,)
        )
        value = rows[0][0]
        return None if value is None else int(value)

    def instances(self, actor_type: str, *, limit: int | None = None) -> list[InstanceInfo]:
        """Actors of a type that ever committed, newest activity first."""
        rows = self._read(
            "SELECT a.name, COALESCE(k.n, 0), COALESCE(k.b, 0), a.last_activity_ms, a.alarm_ms "
            "FROM actors AS a LEFT JOIN ("
            "  SELECT name, COUNT(*) AS n, SUM(LENGTH(value)) AS b FROM kv WHERE type = ?"
            "  GROUP BY name) AS k ON k.name = a.name "
            "WHERE a.type = ? ORDER BY a.last_activity_ms DESC, a.name LIMIT ?",
            (actor_type, actor_type, -1 if limit is None else limit),
        )
        return [InstanceInfo(str(n), int(c), int(b), int(t), a) for n, c, b, t, a in rows]

    def actor_types(self) -> list[str]:
        rows = self._read("SELECT DISTINCT type FROM actors ORDER BY type", ())
        return [str(row[0]) for row in rows]


    # Last in the class: once `list` is a method name, it shadows the builtin in annotations.
    def list(
        self,
        actor: ActorKey,
        *,
        prefix: str | None = None,
        start: str | None = None,
        start_after: str | None = None,
        end: str | None = None,
        reverse: bool = False,
        limit: int = 128,
    ) -> list[tuple[str, bytes]]:
        """Keys in code point order (reversed on request), at most `limit` of them."""
        if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIST_LIMIT:
            raise ValueError(f"limit must be an integer from 1 to {MAX_LIST_LIMIT}, not {limit!r}")
        if start is not None and start_after is not None:
            raise ValueError("start and start_after cannot be used together")
        if not isinstance(reverse, bool):
            raise ValueError(f"reverse must be a boolean, not {reverse!r}")
        where = ["type = ?", "name = ?"]
        params: list[object] = [actor[0], actor[1]]
        for option, op, value in (
            ("prefix", ">=", prefix),
            ("start", ">=", start),
            ("start_after", ">", start_after),
            ("end", "<", end),
        ):
            if value is None:
                continue
            if not isinstance(value, str):
                raise ValueError(f"{option} must be a string, not {type(value).__name__}")
            where.append(f"key {op} ?")
            params.append(value.encode("utf-8", "surrogatepass"))
        if prefix:
            # Every key with the prefix sorts below the prefix with its last byte bumped
            # (UTF-8 never contains 0xFF, so the bump cannot overflow).
            raw = prefix.encode("utf-8", "surrogatepass")
            where.append("key < ?")
            params.append(raw[:-1] + bytes([raw[-1] + 1]))
        order = "DESC" if reverse else "ASC"
        sql = f"SELECT key, value FROM kv WHERE {' AND '.join(where)} ORDER BY key {order} LIMIT ?"
        params.append(limit)
        return [(decode_key(k), bytes(v)) for k, v in self._read(sql, tuple(params))]


def _alarm_state(row: Any) -> AlarmState:
    kind, name, when, fire, retries, gen = row
    return AlarmState((str(kind), str(name)), int(when), int(fire), int(retries), int(gen))
