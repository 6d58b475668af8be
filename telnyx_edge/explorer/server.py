"""The explorer's HTTP server: aiohttp in the runtime's own event loop, on its own loopback port
(never a path a user's function could own), serving the page (static files shipped in the
package, no network) and the JSON API (api.py).

The guard, before any handler: a request whose Host is not this server's own `127.0.0.1:PORT`
(or `localhost:PORT`), or that carries an Origin other than its own, is refused with 403. This
stops another site's page from reading or driving the explorer, also through DNS rebinding.
State-changing requests are POST with a JSON body (`Content-Type: application/json`), which a
plain HTML form cannot send.

Start/stop: `start()` binds and writes the runtime file (runtime_file.py) for the CLI;
`stop()` removes the file, then closes the server (requests in flight get a short grace).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aiohttp import web

from telnyx_edge import __version__
from telnyx_edge.explorer import runtime_file
from telnyx_edge.errors import ExplorerError
from telnyx_edge.explorer.api import ExplorerApi

if TYPE_CHECKING:
    from telnyx_edge.runtime.core import RuntimeCore

STATIC = Path(__file__).parent / "static"
_PAGES = {"/": "index.html", "/app.js": "app.js", "/app.css": "app.css"}
_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
}
MAX_BODY = 4 * 1024 * 1024

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _error(status: int, error: str, message: str) -> web.Response:
    return web.json_response({"error": error, "message": " ".join(message.split())}, status=status, headers=_HEADERS)


class ExplorerServer:
    def __init__(self, core: RuntimeCore, home: Path, *, account_home: Path | None = None) -> None:
        self._core = core
        self._home = home
        self._api = ExplorerApi(core, account_home)
        self._runner: web.AppRunner | None = None
        self._file: Path | None = None
        self.port = 0
        self.url = ""
        self.file_error: str | None = None  # the runtime file could not be written

    # -- lifecycle -----------------------------------------------------------------------------

    async def start(self, port: int) -> str:
        """Listen on 127.0.0.1:`port` (0: a free one); returns the URL. Raises RuntimeStartError."""
        from telnyx_edge.errors import RuntimeStartError

        app = web.Application(middlewares=[self._guard], client_max_size=MAX_BODY)
        app.router.add_get("/", self._static)
        app.router.add_get("/app.js", self._static)
        app.router.add_get("/app.css", self._static)
        app.router.add_get("/api/health", self._health)
        app.router.add_get("/api/overview", self._overview)
        app.router.add_get("/api/instances", self._instances)
        app.router.add_get("/api/actor", self._actor)
        app.router.add_get("/api/actor/value", self._value)
        app.router.add_get("/api/actor/table", self._table)
        app.router.add_post("/api/actor/query", self._query)
        app.router.add_post("/api/actor/action", self._action)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", port)
        try:
            await site.start()
        except OSError as exc:
            await runner.cleanup()
            raise RuntimeStartError(
                f"the explorer cannot listen on 127.0.0.1:{port}: {exc.strerror or exc}",
                hint="Pick another port with --explorer-port (0 picks a free one), or turn it off with --no-explorer.",
            ) from exc
        self._runner = runner
        self.port = int(runner.addresses[0][1])
        self.url = f"http://127.0.0.1:{self.port}"
        try:
            self._file = runtime_file.write(self._home, self._core.state_dir, self.url)
        except OSError as exc:  # the page works; only the CLI will not find this runtime
            self.file_error = f"cannot write {runtime_file.run_dir(self._home)} ({exc.strerror or exc}): `actors storage` and `actors alarm` will not find this runtime"
        return self.url

    async def stop(self) -> None:
        # 1. the CLI stops finding us; 2. the server closes (in-flight requests get a grace).
        if self._file is not None:
            runtime_file.remove(self._file)
            self._file = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    # -- the guard -----------------------------------------------------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        host = request.headers.get("Host", "")
        allowed = {f"127.0.0.1:{self.port}", f"localhost:{self.port}"}
        if host.lower() not in allowed:
            return _error(403, "Forbidden", f"Host {host!r} is not this explorer's (open {self.url})")
        origin = request.headers.get("Origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            return _error(403, "Forbidden", f"Origin {origin!r} is not this explorer's: another site cannot use it")
        if request.method == "POST" and request.content_type != "application/json":
            return _error(415, "UnsupportedMediaType", "send a JSON body with Content-Type: application/json")
        try:
            response = await handler(request)
        except ExplorerError as exc:
            return _error(exc.status, exc.error, exc.message)
        except web.HTTPException as exc:
            return _error(exc.status, exc.reason, exc.text or exc.reason)
        for key, value in _HEADERS.items():
            response.headers.setdefault(key, value)
        return response

    # -- handlers ------------------------------------------------------------------------------

    async def _static(self, request: web.Request) -> web.StreamResponse:
        name = _PAGES[request.path]
        return web.Response(body=(STATIC / name).read_bytes(), headers={"Content-Type": _TYPES[Path(name).suffix]})

    async def _health(self, request: web.Request) -> web.Response:
        import os

        return web.json_response({"ok": True, "pid": os.getpid(), "state_dir": str(self._core.state_dir.resolve()), "version": __version__})

    async def _overview(self, request: web.Request) -> web.Response:
        return web.json_response(self._api.overview())

    async def _instances(self, request: web.Request) -> web.Response:
        q = request.query
        limit = _int(q.get("limit", "200"), "limit", 1, 1000)
        return web.json_response(self._api.instances(q.get("type", ""), q.get("q", ""), limit))

    async def _actor(self, request: web.Request) -> web.Response:
        q = request.query
        return web.json_response(await self._api.actor(q.get("type", ""), q.get("name", "")))

    async def _value(self, request: web.Request) -> web.Response:
        q = request.query
        return web.json_response(await self._api.read(q.get("type", ""), q.get("name", ""), "key", {"key": q.get("key", "")}))

    async def _table(self, request: web.Request) -> web.Response:
        q = request.query
        args = {
            "table": q.get("table", ""), "offset": _int(q.get("offset", "0"), "offset", 0, 10**12),
            "limit": _int(q.get("limit", "50"), "limit", 1, 500),
        }
        return web.json_response(await self._api.read(q.get("type", ""), q.get("name", ""), "table", args))

    async def _query(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        args = {"sql": body.get("sql"), "params": body.get("params", [])}
        return web.json_response(await self._api.query(body.get("type", ""), body.get("name", ""), args))

    async def _action(self, request: web.Request) -> web.Response:
        body = await _json_body(request)
        return web.json_response(await self._api.action(body.get("type", ""), body.get("name", ""), body))


def _int(raw: str, what: str, low: int, high: int) -> int:
    if not raw.isascii() or not raw.isdigit() or not low <= int(raw) <= high:
        raise ExplorerError(400, "BadRequest", f"{what} must be a whole number from {low} to {high}")
    return int(raw)


async def _json_body(request: web.Request) -> dict[str, Any]:
    import json

    def not_json(constant: str) -> Any:
        raise ExplorerError(
            400, "BadRequest", f'{constant} is not JSON: send it typed, {{"type": "number", "value": "{constant}"}}'
        )

    try:
        # Numbers as the page's JSON.parse reads them: a whole number past 2^53 is a double (the
        # control channel carries 64 bits at most); NaN and Infinity are not JSON.
        body = json.loads(await request.text(), parse_int=_js_int, parse_constant=not_json)
    except (ValueError, UnicodeDecodeError):
        raise ExplorerError(400, "BadRequest", "the body is not valid JSON") from None
    if not isinstance(body, dict):
        raise ExplorerError(400, "BadRequest", "the body must be a JSON object")
    return body


def _js_int(text: str) -> int | float:
    value = int(text)
    return value if abs(value) <= 2**53 else float(text)
