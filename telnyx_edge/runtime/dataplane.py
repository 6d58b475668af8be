"""The data plane: one Node.js process that serves HTTP and runs every function's code, and the
Python end of its control channel (DESIGN.md, "Data plane and control plane").

Python binds the listening socket (so port 0 and "port in use" are answered here) and hands its
descriptor to the process at spawn; from then on a request never crosses into Python: Node's own
server parses it, routes it by Host to a function's pool of Worker threads (js/group.mjs), and
the Worker hosting the target activation runs the turn and commits its storage. Python keeps
supervision and placement: it tells the data plane which revision serves which function
(`load`, `install`, `handover`, `drain`, `unload`), fires alarms (`alarm`), and hears what it must
know (`alarm_changed`, `actor_stats`, `replaced`).

Messages are those of `wire.py`; `_HANDLERS` maps each one the data plane sends to a method whose
parameters are named as the message's fields. A Worker that exits or hangs is replaced inside
the data plane; if the data-plane process itself dies, the runtime stops (`on_exit`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

from telnyx_edge import settings
from telnyx_edge.errors import ISOLATE_CRASHED, CallError, RuntimeStartError, ToolNotFound
from telnyx_edge.runtime.jsmodule import JS_DIR
from telnyx_edge.runtime.protocol import FrameConnection, Message
from telnyx_edge.runtime.wire import FROM_DATAPLANE

ActorKey = tuple[str, str]
"""(actor type, actor name)."""

DATAPLANE_SCRIPT = JS_DIR / "dataplane.mjs"


class DataPlaneBackend(Protocol):
    """What the data plane reports to the control plane."""

    def alarm_changed(self, actor: ActorKey, fire_ms: int | None) -> None: ...
    def actor_stats(self, rows: list[list[Any]]) -> None: ...
    def replaced(self, function: str, reason: str) -> None: ...
    def log(self, records: list[list[Any]]) -> None: ...


@functools.cache
def node_binary() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFound("node was not found on PATH", hint="Install Node.js 18 or newer (https://nodejs.org).")
    return node


_PR_SET_PDEATHSIG = 1
# Looked up once here: the child runs as little Python as possible between fork and exec.
_prctl = getattr(ctypes.CDLL(None), "prctl", None) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child before exec: SIGKILL it when the runtime's process exits (Linux only)."""
    if _prctl is not None:
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


class Listener:
    """The listening socket, created before the data plane starts so its descriptor can be
    inherited, and bound only when the runtime starts serving (`bind`). One socket per address
    family; the one not used is closed once the other is bound."""

    def __init__(self) -> None:
        self.sockets: dict[int, socket.socket] = {}
        for family in (socket.AF_INET, socket.AF_INET6):
            with contextlib.suppress(OSError):  # a kernel without IPv6
                self.sockets[family] = socket.socket(family, socket.SOCK_STREAM)
        self.bound: socket.socket | None = None
        self.family: int | None = None

    def fds(self) -> tuple[int, int]:
        """(IPv4 fd, IPv6 fd); -1 for a family this machine lacks."""
        return tuple(s.fileno() if (s := self.sockets.get(f)) else -1 for f in (socket.AF_INET, socket.AF_INET6))  # type: ignore[return-value]

    def bind(self, host: str, port: int) -> int:
        """Bind and listen on host:port; returns the address family. Raises RuntimeStartError."""
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        sock = self.sockets.get(family)
        if sock is None:
            raise RuntimeStartError(f"cannot listen on {host}: this machine has no IPv6", hint="Use --host 127.0.0.1.")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            raise RuntimeStartError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="Pick another port with --port (0 picks a free one), or stop what is using it.",
            ) from exc
        sock.listen(2048)
        self.bound = sock
        self.family = int(family)
        return self.family

    @property
    def port(self) -> int:
        assert self.bound is not None
        return int(self.bound.getsockname()[1])

    def close(self) -> None:
        for sock in self.sockets.values():
            sock.close()


class DataPlane:
    def __init__(
        self, listener: Listener, packages_dir: Path, backend: DataPlaneBackend, on_exit: Callable[[str], None],
        inspect: str | None = None,
    ) -> None:
        self._inspect = inspect  # "HOST:PORT" for node's --inspect (dev/serve --inspect), else None
        self.info: dict[str, Any] = {}  # the data plane's `ready` info: pid, inspector (its ws:// URL or None)
        self._listener = listener
        self._packages_dir = packages_dir
        self._backend = backend
        self._on_exit = on_exit
        self._proc: asyncio.subprocess.Process | None = None
        self._conn: FrameConnection | None = None
        self._next_id = 1
        self._pending: dict[int, asyncio.Future[Any]] = {}
        self._ready: asyncio.Future[dict[str, Any]] | None = None
        self._waiter: asyncio.Task[None] | None = None
        self._lost = asyncio.Event()
        self._stopping = False

    async def start(self) -> None:
        """Spawn the data-plane process with the control socket and the listening sockets."""
        loop = asyncio.get_running_loop()
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        v4, v6 = self._listener.fds()
        inherited = tuple(fd for fd in (child.fileno(), v4, v6) if fd >= 0)
        try:
            # TELNYX_EDGE_NODE_FLAGS: extra node flags, e.g. --inspect or --cpu-prof.
            flags = settings.get().node_flags
            if self._inspect is not None:
                # publish-uid=http: the ws:// URL at /json/list, not node's own two-line banner
                # on stderr beside our `Inspector on` line (events.InspectorOpen).
                flags = (f"--inspect={self._inspect}", "--inspect-publish-uid=http", *flags)
            env = dict(os.environ)  # the data plane inherits the runtime's environment
            env["TELNYX_EDGE_NODE_PACKAGES"] = str(self._packages_dir)
            # fsyncs of different actors' databases run in libuv's pool, in parallel.
            env.setdefault("UV_THREADPOOL_SIZE", "16")
            self._proc = await asyncio.create_subprocess_exec(
                node_binary(), "--enable-source-maps", *flags, str(DATAPLANE_SCRIPT),
                str(child.fileno()), str(v4), str(v6),
                stdin=asyncio.subprocess.DEVNULL, pass_fds=inherited, env=env,
                # Out of the terminal's process group: Ctrl-C reaches only the runtime, which
                # stops the data plane in order (lifecycle.py). If the runtime dies, it dies too.
                start_new_session=True, preexec_fn=_die_with_parent,
            )
        finally:
            child.close()
        _, conn = await loop.create_connection(lambda: FrameConnection(self._on_message, self._on_lost), sock=parent)
        self._conn = conn
        self._ready = loop.create_future()
        self._waiter = asyncio.create_task(self._wait_exit())
        self.info = await self._ready

    async def _wait_exit(self) -> None:
        assert self._proc is not None
        code = await self._proc.wait()
        if code < 0:
            reason = f"the data plane was killed by {signal.Signals(-code).name}"
        else:
            reason = f"the data plane exited (code {code})"
        if self._ready is not None and not self._ready.done():
            self._ready.set_exception(RuntimeStartError(reason))
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(CallError(ISOLATE_CRASHED, reason))
        if not self._stopping:
            self._on_exit(reason)

    async def stop(self, timeout: float = 5) -> None:
        """End our side of the channel (the process exits on EOF), wait, then SIGKILL."""
        self._stopping = True
        if self._conn is not None:
            self._conn.finish()
        if self._proc is not None and self._proc.returncode is None:
            try:
                await asyncio.wait_for(self._proc.wait(), timeout)
            except asyncio.TimeoutError:
                with contextlib.suppress(ProcessLookupError):
                    self._proc.send_signal(signal.SIGKILL)
                await self._proc.wait()
        if self._waiter is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._waiter
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._lost.wait(), 1.0)

    # -- requests ----------------------------------------------------------------------------

    def _send(self, *msg: Any) -> None:
        if self._conn is not None:
            self._conn.send(list(msg))

    def _request(self, op: str, *args: Any) -> asyncio.Future[Any]:
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._conn is None or self._conn.closed:
            fut.set_exception(CallError(ISOLATE_CRASHED, "the data plane is not running"))
            return fut
        rid = self._next_id
        self._next_id += 1
        self._pending[rid] = fut
        self._conn.send([op, rid, *args])
        return fut

    async def load(self, group: int, config: Mapping[str, Any]) -> dict[str, Any]:
        """Start a revision's Worker pool; returns its `ready` info. Raises CallError
        (StartupError, StartupTimeout, ActorIsolateCrashedError when a Worker exited while loading)."""
        info: dict[str, Any] = await self._request("load", group, dict(config))
        return info

    def install(self, function: str, group: int, hosts: tuple[str, ...], fallback: bool, owned_types: tuple[str, ...]) -> None:
        self._send("install", function, group, list(hosts), fallback, list(owned_types))

    def uninstall(self, function: str) -> None:
        self._send("uninstall", function)

    async def handover(self, group: int, timeout_ms: int) -> None:
        """A swap's old pool gives up its actors: once it has answered what was in flight
        (bounded by `timeout_ms`; past it the pool is unloaded instead), its Workers close every
        actor database, and the new pool's Workers, which held their turns, open them."""
        await self._request("handover", group, timeout_ms)

    async def drain(self, group: int, timeout_ms: int) -> None:
        await self._request("drain", group, timeout_ms)

    async def unload(self, group: int) -> None:
        await self._request("unload", group)

    async def alarm(self, type_: str, name: str, failures: int) -> int | None:
        """Run the actor's alarm() if it is due; returns its next fire time (None: no alarm).

        `failures`: earlier deliveries that never came back (a Worker died), counted as retries.
        """
        fire: int | None = await self._request("alarm", type_, name, failures)
        return fire

    async def explore(self, type_: str, name: str, action: str, args: Mapping[str, Any]) -> Any:
        """The explorer (telnyx_edge/explorer): a read (`read_*`, from the actor's file) or an
        action, run as a turn of the actor. Raises CallError (its name says why)."""
        return await self._request("explore", type_, name, action, dict(args))

    async def listen(self, family: int) -> None:
        await self._request("listen", family)

    async def close(self) -> None:
        """Stop accepting HTTP, let in-flight requests finish and open streams run out their drain."""
        await self._request("close")

    # -- messages from the data plane --------------------------------------------------------

    def _on_message(self, msg: Message) -> None:
        handler = _HANDLERS.get(msg[0])
        if handler is not None and len(msg) == len(FROM_DATAPLANE[msg[0]]) + 1:
            handler(self, *msg[1:])

    def _on_ready(self, info: dict[str, Any]) -> None:
        if self._ready is not None and not self._ready.done():
            self._ready.set_result(info)

    def _on_result(self, id_: int, ok: bool, payload: Any) -> None:
        fut = self._pending.pop(id_, None)
        if fut is None or fut.done():
            return
        if ok:
            fut.set_result(payload)
        else:
            # [name, message] or [name, message, stack]: the stack is user code's, for JavaScript callers.
            name, message = payload[:2] if isinstance(payload, list) and len(payload) >= 2 else ("Error", str(payload))
            fut.set_exception(CallError(str(name), str(message)))

    def _on_alarm_changed(self, type_: str, name: str, fire_ms: int | None) -> None:
        self._backend.alarm_changed((type_, name), fire_ms)

    def _on_actor_stats(self, rows: list[list[Any]]) -> None:
        self._backend.actor_stats(rows)

    def _on_replaced(self, function_name: str, reason: str) -> None:
        self._backend.replaced(function_name, reason)

    def _on_log(self, records: list[list[Any]]) -> None:
        self._backend.log(records)

    def _on_lost(self, exc: Exception | None) -> None:
        self._lost.set()


_HANDLERS: dict[str, Callable[..., None]] = {
    "ready": DataPlane._on_ready,
    "result": DataPlane._on_result,
    "alarm_changed": DataPlane._on_alarm_changed,
    "actor_stats": DataPlane._on_actor_stats,
    "replaced": DataPlane._on_replaced,
    "log": DataPlane._on_log,
}
"""One handler per message of `wire.FROM_DATAPLANE`, its parameters named as the fields."""
