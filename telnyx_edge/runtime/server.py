"""HTTP ingress: uvicorn (uvloop + httptools) in front of the registry.

One front door per runtime. A request becomes a `fetch` message to the isolate of the function
that serves its Host; a failure the user's code could not answer itself (its isolate crashed,
no function for the host) becomes a 5xx with the error's name, so callers can tell.
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import uvicorn

from telnyx_edge.errors import RuntimeStartError
from telnyx_edge.runtime.authority import Authority, BadHost, parse_host, request_url
from telnyx_edge.runtime.isolate import CallError
from telnyx_edge.runtime.registry import Registry
from telnyx_edge.runtime.streams import STREAM_DRAIN_S, ResponseStream, StreamCut

_HOP_BY_HOP = {"content-length", "transfer-encoding", "connection", "keep-alive"}
_TIMEOUT_ERRORS = {"ActorMethodTimeoutError", "ActorFetchTimeoutError"}

Scope = dict[str, Any]


class Ingress:
    """The ASGI application."""

    def __init__(self, registry: Registry, max_body: int = 10 * 1024 * 1024) -> None:
        self.registry = registry
        self.max_body = max_body
        self.streams: set[ResponseStream] = set()

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1011, "reason": "WebSockets are not supported by telnyx-edge dev yet"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > self.max_body:
                await _respond(send, 413, [], b"request body exceeds 10 MB\n")
                return
            if not message.get("more_body"):
                break
        headers: list[str] = []
        hosts: list[str] = []
        for key, value in scope["headers"]:
            name = key.decode("latin-1")
            text = value.decode("latin-1")
            if name == "host":
                hosts.append(text)
            headers.append(name)
            headers.append(text)
        try:
            authority = _authority(hosts, scope.get("http_version", "1.1"))
        except BadHost as exc:
            await _respond(send, 400, ["content-type", "text/plain; charset=utf-8"], f"400 Bad Request: {exc}\n".encode())
            return
        path = scope.get("raw_path") or scope["path"].encode()
        url = request_url(authority, path, scope.get("query_string") or b"")
        try:
            status, out_headers, out_body = await self.registry.fetch(authority.name, scope["method"], url, headers, body)
        except CallError as exc:
            status = 504 if exc.name in _TIMEOUT_ERRORS else 404 if exc.name == "FunctionNotFound" else 500
            await _respond(send, status, ["content-type", "text/plain; charset=utf-8"], f"{exc.name}: {exc.message}\n".encode())
            return
        if isinstance(out_body, ResponseStream):
            await self._stream(receive, send, status, out_headers, out_body)
        else:
            await _respond(send, status, out_headers, out_body)

    async def _stream(self, receive: Any, send: Any, status: int, headers: list[str], stream: ResponseStream) -> None:
        """Send a streamed body as it arrives (chunked); stop if the client goes away."""
        self.streams.add(stream)
        watcher = asyncio.ensure_future(_until_disconnect(receive))
        watcher.add_done_callback(lambda _: stream.cancel("the client went away"))
        try:
            await send({"type": "http.response.start", "status": status, "headers": _raw_headers(headers)})
            try:
                async for chunk in stream.chunks():
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
                    stream.taken(len(chunk))
            except StreamCut:
                pass  # the status line has gone: ending the body is all that is left to do
            await send({"type": "http.response.body", "body": b""})
        finally:
            watcher.cancel()
            stream.cancel("the response ended")
            self.streams.discard(stream)

    async def drain_streams(self, seconds: float) -> None:
        """Let open response streams run for up to `seconds`, then end them."""
        open_streams = list(self.streams)
        if open_streams:
            await asyncio.wait([asyncio.ensure_future(s.ended.wait()) for s in open_streams], timeout=seconds)
            for stream in open_streams:
                stream.cancel(f"the runtime is stopping (streams get {seconds:g} s to finish)")


async def _until_disconnect(receive: Any) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _authority(hosts: list[str], http_version: str) -> Authority:
    """The one valid Host of a request (HTTP/1.0 may omit it: then localhost)."""
    if len(hosts) > 1:
        raise BadHost("the request has more than one Host header")
    if not hosts:
        if http_version == "1.0":
            return Authority("localhost", None)
        raise BadHost("the request has no Host header")
    return parse_host(hosts[0])


def _raw_headers(headers: list[str]) -> list[tuple[bytes, bytes]]:
    raw = []
    for i in range(0, len(headers) - 1, 2):
        name = headers[i].lower()
        if name not in _HOP_BY_HOP:
            raw.append((name.encode("latin-1"), headers[i + 1].encode("latin-1")))
    return raw


async def _respond(send: Any, status: int, headers: list[str], body: bytes) -> None:
    raw = [(b"content-length", str(len(body)).encode())]
    raw += _raw_headers(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})


def bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise RuntimeStartError(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="Pick another port with --port (0 picks a free one), or stop what is using it.",
        ) from exc
    sock.listen(2048)
    sock.setblocking(False)
    return sock


class HttpServer:
    """uvicorn driven without its signal handling: the dev command owns Ctrl-C."""

    def __init__(self, app: Ingress, sock: socket.socket) -> None:
        self.sock = sock
        self._app = app
        config = uvicorn.Config(
            app, http="httptools", loop="none", lifespan="off", access_log=False,
            log_level="warning", server_header=False, date_header=False, backlog=2048,
            timeout_keep_alive=30, proxy_headers=False,
        )
        self._server = uvicorn.Server(config)
        self._task: asyncio.Task[None] | None = None

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def start(self) -> None:
        # serve() minus capture_signals(), which would take SIGINT away from the CLI.
        server = self._server
        server.config.load()
        server.lifespan = server.config.lifespan_class(server.config)
        await server.startup(sockets=[self.sock])
        self._task = asyncio.create_task(server.main_loop())

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (uvicorn's graceful shutdown); open
        response streams get STREAM_DRAIN_S, then they are ended."""
        self._server.should_exit = True
        if self._task is not None:
            await self._task
            await asyncio.gather(
                self._server.shutdown(sockets=[self.sock]), self._app.drain_streams(STREAM_DRAIN_S),
            )
