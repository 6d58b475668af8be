"""One isolate: a Node.js child process running one function's bundle, and its supervision.

The isolate hosts the function's `fetch` handler and every activation of the actor types the
function owns, each with its own SQLite database that the isolate opens and commits itself
(js/actordb.mjs). The process may die at any instant: a turn whose batch was not fsync'd was
never acknowledged, and SQLite's WAL recovery leaves each database at its last commit. When the
process exits, or stops answering pings for longer than the method budget (a synchronous
loop), its in-flight requests fail with a named error and the owner (the registry) starts a
replacement; the kernel has released the dead process's database locks by then.

Messages are those of `wire.py`; `_HANDLERS` maps each one the isolate sends to a method whose
parameters are named as the message's fields.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shlex
import shutil
import signal
import socket
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from telnyx_edge.errors import RuntimeStartError, ToolNotFound
from telnyx_edge.runtime.jsmodule import JS_DIR
from telnyx_edge.runtime.protocol import FrameConnection, Message
from telnyx_edge.runtime.streams import STREAM_DRAIN_S, ResponseStream, StreamCut
from telnyx_edge.runtime.wire import TO_PYTHON

ActorKey = tuple[str, str]
"""(actor type, actor name)."""

HOST_SCRIPT = JS_DIR / "host.mjs"


class CallError(Exception):
    """A failed call, with the error `name` the caller branches on (e.g. ActorMethodError)."""

    def __init__(self, name: str, message: str) -> None:
        super().__init__(f"{name}: {message}")
        self.name = name
        self.message = message

    def wire(self) -> list[str]:
        return [self.name, self.message]


class IsolateBackend(Protocol):
    """What an isolate asks of the runtime: calls to other isolates, and what it reports."""

    async def call(self, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> bytes: ...
    async def fetch_actor(self, type_: str, name: str, request: list[Any], chain: list[str]) -> list[Any]: ...
    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None: ...
    def actor_stats(self, rows: list[list[Any]]) -> None: ...


@functools.cache
def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFound("node was not found on PATH", hint="Install Node.js 18 or newer (https://nodejs.org).")
    return node


STARTUP_TIMEOUT_ENV = "TELNYX_EDGE_STARTUP_TIMEOUT_MS"
DEFAULT_STARTUP_TIMEOUT_S = 10.0


def startup_timeout_s() -> float:
    """How long an isolate may take to load its bundle: `TELNYX_EDGE_STARTUP_TIMEOUT_MS`, default 10 s."""
    raw = os.environ.get(STARTUP_TIMEOUT_ENV, "")
    return int(raw) / 1000 if raw.isdigit() and int(raw) > 0 else DEFAULT_STARTUP_TIMEOUT_S


_PR_SET_PDEATHSIG = 1
# Looked up once here: the child runs as little Python as possible between fork and exec.
_prctl = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the runtime's process exits (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Isolate:
    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        backend: IsolateBackend,
        *,
        method_timeout_ms: int,
        on_exit: Callable[[Isolate, str], None],
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.backend = backend
        self.method_timeout_ms = method_timeout_ms
        self._on_exit = on_exit
        self._env = dict(env or {})  # added to the inherited environment: secrets, [env_vars] (spec 2.3)
        self._proc: asyncio.subprocess.Process | None = None
        self._conn: FrameConnection | None = None
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._backend_tasks: set[asyncio.Task[None]] = set()
        self._streams: dict[int, ResponseStream] = {}  # bodies this isolate streams to us
        self._relays: dict[int, ResponseStream] = {}  # bodies we relay to this isolate (its fetchactor)
        self._relay_tasks: set[asyncio.Task[None]] = set()
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._stopping = False
        self._exit_reason: str | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._pong = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._lost = asyncio.Event()
        self.info: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> dict[str, Any]:
        """Spawn node, send the config, wait for `ready` (racing the process exiting)."""
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            # The protocol socket is passed as an extra fd (its number is the last argument);
            # stdout/stderr stay the user's console output.
            # TELNYX_EDGE_NODE_FLAGS: extra node flags, e.g. --inspect or --cpu-prof.
            flags = shlex.split(os.environ.get("TELNYX_EDGE_NODE_FLAGS", ""))
            env = {**os.environ, **self._env}
            env["TELNYX_EDGE_NODE_PACKAGES"] = str(self.config["packages_dir"])
            # fsyncs of different actors' databases run in libuv's pool, in parallel.
            env.setdefault("UV_THREADPOOL_SIZE", "16")
            self._proc = await asyncio.create_subprocess_exec(
                node_binary(), "--enable-source-maps", *flags, str(HOST_SCRIPT), str(child.fileno()),
                stdin=asyncio.subprocess.DEVNULL, pass_fds=(child.fileno(),), env=env,
                # Out of the terminal's process group: Ctrl-C reaches only the runtime, which
                # stops isolates in order (lifecycle.py). If the runtime dies, they die with it.
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        finally:
            child.close()
        _, conn = await loop.create_connection(
            lambda: FrameConnection(self._on_message, self._on_lost), sock=parent
        )
        self._conn = conn
        self._ready = loop.create_future()
        self._waiter = asyncio.create_task(self._wait_exit())
        conn.send(["init", self.config])
        bound = startup_timeout_s()
        try:
            self.info = await asyncio.wait_for(asyncio.shield(self._ready), timeout=bound)
        except RuntimeStartError:
            await self.stop()
            raise
        except asyncio.TimeoutError:
            # Stuck in its top level: nothing to drain (no turn has run), so kill it now. The
            # future is settled here so the exit that follows leaves no unretrieved exception.
            self._ready.cancel()
            self._stopping = True
            self.kill()
            await self.stop()
            raise RuntimeStartError(
                f"the code of {self.name} did not finish loading within {bound:g} s "
                "(a loop or an await at module top level that never ends, or an import that hangs?)",
                hint=f"Make the top level of main and its imports finish; {STARTUP_TIMEOUT_ENV} sets the bound (ms).",
            ) from None
        self._watchdog = asyncio.create_task(self._watch())
        return self.info

    async def _wait_exit(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        reason = self._exit_reason or f"the isolate for {self.name} exited (code {code})"
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeStartError(reason))
        self._fail_pending("ActorIsolateCrashedError" if self._exit_reason is None else "ActorMethodTimeoutError", reason)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if not self._stopping:
            self._on_exit(self, reason)

    def _fail_pending(self, name: str, reason: str) -> None:
        relays, self._relays = self._relays, {}
        for relay in relays.values():
            relay.cancel(f"the isolate reading it is gone: {reason}")
        streams, self._streams = self._streams, {}
        for stream in streams.values():
            stream.finish(f"{name}: {reason}")
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(CallError(name, reason))
        self._idle.set()

    async def _watch(self) -> None:
        """Kill the process if its event loop stops answering (a synchronous hang)."""
        budget = max(self.method_timeout_ms / 1000, 0.2)
        interval = min(1.0, budget / 4)
        seq = 0
        while True:
            await asyncio.sleep(interval)
            if not self._pending or self._conn is None:
                continue
            seq += 1
            sent = time.monotonic()
            self._conn.send(["ping", seq])
            while self._pong < seq:
                await asyncio.sleep(interval / 4)
                if time.monotonic() - sent > budget + interval:
                    self._exit_reason = (
                        f"the isolate for {self.name} was blocked for more than {int(budget * 1000)} ms "
                        "(a synchronous loop in user code?) and was replaced"
                    )
                    self.kill()
                    return

    async def drain(self) -> None:
        """Wait until nothing is in flight: every request answered (so every batch durable),
        and every response stream ended (cut after STREAM_DRAIN_S)."""
        await asyncio.gather(self._drain_requests(), self.drain_streams(STREAM_DRAIN_S))

    async def _drain_requests(self) -> None:
        while self._pending or self._backend_tasks:
            await self._idle.wait()
            if self._backend_tasks:
                await asyncio.gather(*list(self._backend_tasks), return_exceptions=True)

    async def drain_streams(self, seconds: float) -> None:
        """Let open response streams run for up to `seconds`, then cut them."""
        streams = list(self._streams.values())
        if not streams:
            return
        ended = [asyncio.ensure_future(s.ended.wait()) for s in streams]
        _, late = await asyncio.wait(ended, timeout=seconds)
        for waiter in late:
            waiter.cancel()
        for stream in streams:
            stream.cancel(f"the isolate for {self.name} is stopping (streams get {seconds:g} s to finish)")

    async def stop(self, timeout: float = 5) -> None:
        """End our side of the pipe (the isolate reports its last usage figures, closes its
        databases and exits when it sees EOF), wait, then SIGKILL."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._conn is not None:
            self._conn.finish()
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.kill()
                await self._proc.wait()
        if self._waiter is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter
        # The process is gone; its last frames (usage figures) may still sit in the socket.
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._lost.wait(), 1.0)

    def kill(self) -> None:
        if self._proc is not None and self._proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signal.SIGKILL)

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.returncode is None and not self._stopping

    # -- requests to the isolate -----------------------------------------------------------

    def _request(self, op: str, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._conn is None or self._conn.closed or not self.alive:
            fut.set_exception(CallError("ActorIsolateCrashedError", f"the isolate for {self.name} is not running"))
            return fut
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = fut
        self._idle.clear()
        self._conn.send([op, rid, *args])
        return fut

    async def fetch(
        self, method: str, url: str, headers: Sequence[str], body: bytes,
    ) -> tuple[int, list[str], bytes | ResponseStream]:
        """The response: its body whole, or a ResponseStream when the handler streams it."""
        status, out_headers, out_body = await self._request("fetch", method, url, headers, body)
        return status, out_headers, out_body

    async def call(self, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> bytes:
        result: bytes = await self._request("call", type_, name, method, args, chain)
        return result

    async def alarm(self, type_: str, name: str, failures: int) -> int | None:
        """Run the actor's alarm() if it is due; returns its next fire time (None: no alarm).

        `failures`: earlier deliveries that never came back (the isolate died), counted as retries.
        """
        fire: int | None = await self._request("alarm", type_, name, failures)
        return fire

    async def fetch_actor(self, type_: str, name: str, request: list[Any], chain: list[str]) -> list[Any]:
        result: list[Any] = await self._request("fetchactor", type_, name, request, chain)
        return result

    # -- messages from the isolate ---------------------------------------------------------

    def _settle(self, rid: int, ok: bool, payload: Any) -> None:
        fut = self._pending.pop(rid, None)
        if not self._pending:
            self._idle.set()
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(payload)
        else:
            name, message = payload if isinstance(payload, list) and len(payload) == 2 else ("Error", str(payload))
            fut.set_exception(CallError(str(name), str(message)))

    def _on_message(self, msg: Message) -> None:
        handler = _HANDLERS.get(msg[0])
        if handler is not None and len(msg) == len(TO_PYTHON[msg[0]]) + 1:
            handler(self, *msg[1:])

    def _on_fetch_done(self, id_: int, status: int, headers: list[str], body: bytes) -> None:
        self._settle(id_, True, (status, headers, body))

    def _on_fetch_head(self, id_: int, status: int, headers: list[str]) -> None:
        if id_ not in self._pending or self._conn is None:
            return
        stream = ResponseStream(id_, self._conn.send, on_end=lambda: self._streams.pop(id_, None))
        self._streams[id_] = stream
        self._settle(id_, True, (status, headers, stream))

    def _on_fetch_chunk(self, id_: int, data: bytes) -> None:
        stream = self._streams.get(id_)
        if stream is not None:
            stream.feed(data)

    def _on_fetch_end(self, id_: int, error: str | None) -> None:
        stream = self._streams.get(id_)
        if stream is not None:
            stream.finish(error)

    def _on_result(self, id_: int, ok: bool, payload: Any) -> None:
        self._settle(id_, ok, payload)

    def _on_call(self, id_: int, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> None:
        self._reply_async(id_, self.backend.call(type_, name, method, args, chain))

    def _on_fetchactor(self, id_: int, type_: str, name: str, request: list[Any], chain: list[str]) -> None:
        self._reply_async(id_, self.backend.fetch_actor(type_, name, request, chain))

    def _on_alarm_changed(self, type_: str, name: str, fire_ms: int | None) -> None:
        self.backend.alarm_changed((type_, name), fire_ms)

    def _on_actor_stats(self, rows: list[list[Any]]) -> None:
        self.backend.actor_stats(rows)

    def _on_pong(self, seq: int) -> None:
        self._pong = max(self._pong, int(seq))

    def _on_ready(self, info: dict[str, Any]) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(info)

    def _on_fatal(self, message: str) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeStartError(
                str(message), hint="Fix the error above; main and every module it imports run when the isolate starts.",
            ))

    def _reply_async(self, rid: int, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._backend_tasks.add(task)
        conn = self._conn

        def done(t: asyncio.Task[Any]) -> None:
            self._backend_tasks.discard(t)
            if conn is None or conn.closed:
                return
            exc = t.exception()
            if exc is None:
                result = t.result()
                if isinstance(result, tuple) and isinstance(result[2], ResponseStream):
                    # A streamed actor body from another isolate: the reply, then its chunks.
                    conn.send(["reply", rid, True, [result[0], result[1], None]])
                    self._relay(conn, rid, result[2])
                else:
                    conn.send(["reply", rid, True, result])
            elif isinstance(exc, CallError):
                conn.send(["reply", rid, False, exc.wire()])
            else:
                conn.send(["reply", rid, False, [type(exc).__name__, str(exc)]])

        task.add_done_callback(done)

    def _relay(self, conn: FrameConnection, rid: int, stream: ResponseStream) -> None:
        self._relays[rid] = stream

        async def relay() -> None:
            try:
                async for chunk in stream.chunks():
                    conn.send(["body_chunk", rid, chunk])
                conn.send(["body_end", rid, None])
            except StreamCut as exc:
                conn.send(["body_end", rid, str(exc)])
            finally:
                self._relays.pop(rid, None)

        task = asyncio.ensure_future(relay())
        self._relay_tasks.add(task)
        task.add_done_callback(self._relay_tasks.discard)

    def _on_body_ack(self, id_: int, bytes_: int) -> None:
        relay = self._relays.get(id_)
        if relay is not None:
            relay.taken(bytes_)

    def _on_body_cancel(self, id_: int) -> None:
        relay = self._relays.get(id_)
        if relay is not None:
            relay.cancel("the caller stopped reading")

    def _on_lost(self, exc: Exception | None) -> None:
        # The process exit (not the socket) drives failure handling; see _wait_exit. EOF only
        # tells stop() that every frame the isolate wrote has been read.
        self._lost.set()


_HANDLERS: dict[str, Callable[..., None]] = {
    "fetch_done": Isolate._on_fetch_done,
    "fetch_head": Isolate._on_fetch_head,
    "fetch_chunk": Isolate._on_fetch_chunk,
    "fetch_end": Isolate._on_fetch_end,
    "body_ack": Isolate._on_body_ack,
    "body_cancel": Isolate._on_body_cancel,
    "result": Isolate._on_result,
    "call": Isolate._on_call,
    "fetchactor": Isolate._on_fetchactor,
    "alarm_changed": Isolate._on_alarm_changed,
    "actor_stats": Isolate._on_actor_stats,
    "pong": Isolate._on_pong,
    "ready": Isolate._on_ready,
    "fatal": Isolate._on_fatal,
}
"""One handler per message of `wire.TO_PYTHON`, its parameters named as the fields."""
