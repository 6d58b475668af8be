"""One isolate: a Node.js child process running one function's bundle, and its supervision.

The isolate hosts the function's `fetch` handler and every activation of the actor types the
function owns. Python owns everything durable, so the process may die at any instant: when it
exits, or stops answering pings for longer than the method budget (a synchronous loop), its
in-flight requests fail with a named error and the owner (the registry) starts a replacement.
A turn that had not sent its commit commits nothing; one whose commit reached the engine is
durable, and the replacement only starts serving after such commits have settled.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import shlex
import shutil
import signal
import socket
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Protocol

from telnyx_edge.errors import RuntimeStartError, ToolNotFound
from telnyx_edge.runtime.jsmodule import JS_DIR
from telnyx_edge.runtime.protocol import FrameConnection, Message
from telnyx_edge.runtime.storage import ActorKey

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
    """What an isolate asks Python for: durable state and calls to other isolates."""

    def get(self, actor: ActorKey, key: str) -> bytes | None: ...
    def list_range(self, actor: ActorKey, options: dict[str, Any]) -> list[list[Any]]: ...
    def get_alarm(self, actor: ActorKey) -> int | None: ...
    async def commit(self, actor: ActorKey, epoch: int, writes: list[list[Any]], consume_alarm: int | None) -> None: ...
    async def call(self, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> bytes: ...
    async def fetch_actor(self, type_: str, name: str, request: list[Any], chain: list[str]) -> list[Any]: ...


@functools.cache
def _spawn_env() -> dict[str, str]:
    """Our environment plus TELNYX_EDGE_NODE_PACKAGES: the isolate loads the runtime's own
    Node packages (`telnyx` for the `[telnyx]` binding) from there, never from the project."""
    from telnyx_edge.runtime import packages

    return {**os.environ, packages.ENV_DIR: str(packages.packages_dir())}


def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFound("node was not found on PATH", hint="Install Node.js 18 or newer (https://nodejs.org).")
    return node


class Isolate:
    def __init__(
        self,
        name: str,
        config: dict[str, Any],
        backend: IsolateBackend,
        *,
        method_timeout_ms: int,
        on_exit: Callable[[Isolate, str], None],
    ) -> None:
        self.name = name
        self.config = config
        self.backend = backend
        self.method_timeout_ms = method_timeout_ms
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._conn: FrameConnection | None = None
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._backend_tasks: set[asyncio.Task[None]] = set()
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._stopping = False
        self._exit_reason: str | None = None
        self._watchdog: asyncio.Task[None] | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._pong = 0
        self._idle = asyncio.Event()
        self._idle.set()
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
            self._proc = await asyncio.create_subprocess_exec(
                node_binary(), "--enable-source-maps", *flags, str(HOST_SCRIPT), str(child.fileno()),
                stdin=asyncio.subprocess.DEVNULL, pass_fds=(child.fileno(),), env=_spawn_env(),
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
        try:
            self.info = await asyncio.wait_for(asyncio.shield(self._ready), timeout=30)
        except (asyncio.TimeoutError, RuntimeStartError) as exc:
            await self.stop()
            if isinstance(exc, RuntimeStartError):
                raise
            raise RuntimeStartError(f"the isolate for {self.name} did not start within 30 s") from exc
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
        """Wait until nothing is in flight: every request answered, every commit settled."""
        while self._pending or self._backend_tasks:
            await self._idle.wait()
            if self._backend_tasks:
                await asyncio.gather(*list(self._backend_tasks), return_exceptions=True)

    async def settle_commits(self) -> None:
        if self._backend_tasks:
            await asyncio.gather(*list(self._backend_tasks), return_exceptions=True)

    async def stop(self, timeout: float = 5) -> None:
        """Close the pipe (the isolate exits when it sees EOF), wait, then SIGKILL."""
        self._stopping = True
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._conn is not None:
            self._conn.close()
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except asyncio.TimeoutError:
                self.kill()
                await self._proc.wait()
        if self._waiter is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter

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

    async def fetch(self, method: str, url: str, headers: Sequence[str], body: bytes) -> tuple[int, list[str], bytes]:
        status, out_headers, out_body = await self._request("fetch", method, url, headers, body)
        return status, out_headers, out_body

    async def call(self, type_: str, name: str, method: str, args: bytes, chain: list[str]) -> bytes:
        result: bytes = await self._request("call", type_, name, method, args, chain)
        return result

    async def alarm(self, type_: str, name: str, when_ms: int, retry_count: int) -> None:
        await self._request("alarm", type_, name, when_ms, retry_count)

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
        op = msg[0]
        if op == "fetch_done":
            self._settle(msg[1], True, (msg[2], msg[3], msg[4]))
        elif op == "result":
            self._settle(msg[1], msg[2], msg[3])
        elif op == "get":
            self._reply_sync(msg[1], self.backend.get, (msg[2], msg[3]), msg[4])
        elif op == "commit":
            self._reply_async(msg[1], self.backend.commit((msg[2], msg[3]), msg[4], msg[5], msg[6]))
        elif op == "list":
            self._reply_sync(msg[1], self.backend.list_range, (msg[2], msg[3]), msg[4])
        elif op == "getalarm":
            self._reply_sync(msg[1], lambda actor, _: self.backend.get_alarm(actor), (msg[2], msg[3]), None)
        elif op == "call":
            self._reply_async(msg[1], self.backend.call(msg[2], msg[3], msg[4], msg[5], msg[6]))
        elif op == "fetchactor":
            self._reply_async(msg[1], self.backend.fetch_actor(msg[2], msg[3], msg[4], msg[5]))
        elif op == "pong":
            self._pong = max(self._pong, int(msg[1]))
        elif op == "ready":
            if self._ready is not None and not self._ready.done():
                self._ready.set_result(msg[1])
        elif op == "fatal":
            if self._ready is not None and not self._ready.done():
                self._ready.set_exception(RuntimeStartError(
                    str(msg[1]), hint="Fix the error above; main and every module it imports run when the isolate starts.",
                ))

    def _reply_sync(self, rid: int, fn: Callable[[Any, Any], Any], actor: Any, arg: Any) -> None:
        assert self._conn is not None
        try:
            result = fn(tuple(actor), arg)
        except (ValueError, TypeError) as exc:
            self._conn.send(["reply", rid, False, ["TypeError", str(exc)]])
        except Exception as exc:  # noqa: BLE001 - reported to the caller, not swallowed
            self._conn.send(["reply", rid, False, [type(exc).__name__, str(exc)]])
        else:
            self._conn.send(["reply", rid, True, result])

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
                conn.send(["reply", rid, True, t.result()])
            elif isinstance(exc, CallError):
                conn.send(["reply", rid, False, exc.wire()])
            else:
                conn.send(["reply", rid, False, [type(exc).__name__, str(exc)]])

        task.add_done_callback(done)

    def _on_lost(self, exc: Exception | None) -> None:
        # The process exit (not the socket) drives failure handling; see _wait_exit.
        pass
