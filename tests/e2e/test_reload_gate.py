"""A hot swap drops no queued call (design promise 6), under `dev` and under `serve`.

The window is made certain, not hoped for. Two functions run: `swap` (actor type Tally, the one
swapped) and `latch` (never swapped), whose module-level latches the test settles over HTTP.

1. `Tally("t").hold()` reads the count, then waits in `Latch("gate").wait()`: a turn in flight
   in the old code that the old isolate cannot drain until the test says so.
2. The new code is loaded (a save under `dev`, a ship under `serve`). Its module tells the latch
   function it loaded; the runtime reads that after the isolate is ready, so by then the new
   code is installed, its Workers hold every turn of Tally until the old code hands the actors
   over, and the swap waits for the held turn before it does.
3. Many callers are queued behind that handover: stub calls relayed through the latch function
   (the test knows each was sent) and direct HTTP requests (the new code's fetch handler runs
   at once; its call to Tally waits).
4. The test releases the held turn. Every call must succeed exactly once: the held one in the
   old code, all the queued ones in the new code, and the count equals the successes. A swap
   that rejects or drops queued calls, or that lets the new code run a Tally turn before the
   old isolate drained (two activations of Tally("t") at once), fails this.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import tomlkit

from tests.e2e.dev_helpers import close, copy_project, hosts_of, register, start_dev
from tests.harness import ServerProcess, run_cli, start_server

pytestmark = pytest.mark.e2e

RELAYED = 40  # stub calls queued on the gate, each known to be sent before the release
DIRECT = 20  # HTTP requests to the swapped function sent after the gate closed
# The latch project keeps its latches at module scope, shared by its fetch handler and its actor
# and across requests: that needs one Worker per function (module state is per Worker).
ENV = {"TELNYX_EDGE_METHOD_TIMEOUT_MS": "20000", "TELNYX_EDGE_WORKERS": "1"}


def set_version(project: Path, version: str) -> None:
    source = project / "src" / "index.ts"
    text = source.read_text()
    assert 'export const VERSION = "v1";' in text
    source.write_text(text.replace('export const VERSION = "v1";', f'export const VERSION = "{version}";'))


async def swap_under_load(server: ServerProcess, swap_host: str, latch_host: str, load_new_code: Callable[[], None]) -> None:
    limits = httpx.Limits(max_connections=RELAYED + DIRECT + 8)
    async with httpx.AsyncClient(base_url=server.url, timeout=60, limits=limits) as http:
        swap = {"Host": swap_host}
        latch = {"Host": latch_host}

        async def call(method: str) -> dict[str, Any]:
            response = await http.post(f"/call/t/{method}", headers=swap)
            assert response.status_code == 200, response.text
            return dict(response.json())

        async def relay() -> dict[str, Any]:
            response = await http.post("/relay/t", headers=latch)
            assert response.status_code == 200, response.text
            return dict(response.json())

        async def until(key: str) -> None:
            response = await http.get(f"/until/{key}", headers=latch)
            assert response.status_code == 200, response.text

        assert await call("count") == {"ok": True, "value": 0}
        hold = asyncio.create_task(call("hold"))
        queued: list[asyncio.Task[dict[str, Any]]] = []
        try:
            await until("hold:arrived")  # the old code's turn is in flight and cannot finish
            await asyncio.to_thread(load_new_code)
            await until("loaded:v2")  # the new code is loaded: the gate is closed, the swap waits
            queued += [asyncio.create_task(relay()) for _ in range(RELAYED)]
            queued += [asyncio.create_task(call("incr")) for _ in range(DIRECT)]
            await until(f"relayed:{RELAYED}")  # every relayed call is on its way to the closed gate
            # Nothing answers before the release: the old code is busy and the gate is closed.
            early = [repr(t.exception() or t.result()) for t in (hold, *queued[:RELAYED]) if t.done()]
        finally:
            released = await http.post("/release/hold", headers=latch)  # also when a step failed
        assert released.status_code == 200
        answers = await asyncio.gather(hold, *queued, return_exceptions=True)

        assert early == []
        assert answers[0] == {"ok": True, "value": "v1"}  # the held turn finished in the old code
        # Every queued call succeeded, once, in the new code.
        assert [a for a in answers[1:] if a != {"ok": True, "value": "v2"}] == []
        assert await call("count") == {"ok": True, "value": 1 + RELAYED + DIRECT}


def test_dev_reload_drops_no_call_queued_behind_a_turn_in_flight(tmp_path: Path, edge_home: Path) -> None:
    swap = copy_project("swap", tmp_path)
    latch = copy_project("latch", tmp_path)
    server = start_dev(swap, "--with", str(latch), "--state", str(tmp_path / "state"), env=ENV)
    try:
        hosts = hosts_of(server)
        asyncio.run(swap_under_load(server, hosts["swap"], hosts["latch"], lambda: set_version(swap, "v2")))
        assert re.search(r"^Reloaded in \d+ ms$", server.output, re.M)
        assert "Isolate replaced" not in server.output
        assert server.output.count("Reloaded") == 1
    finally:
        assert close(server) == 0


def _ship(project: Path) -> None:
    result = run_cli("ship", "-f", str(project))
    assert result.returncode == 0, result.stdout + result.stderr


def test_serve_hot_swap_drops_no_call_queued_behind_a_turn_in_flight(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    swap = copy_project("swap", tmp_path)
    latch = copy_project("latch", tmp_path)
    register(swap, "swap")
    register(latch, "latch")
    # Each references the other's type, and a reference ships only once its type has an owner:
    # latch first without its reference, then swap, then latch with it.
    manifest = latch / "telnyx.toml"
    full = manifest.read_text()
    doc = tomlkit.parse(full)
    del doc["actors"][1]  # type: ignore[union-attr]
    manifest.write_text(tomlkit.dumps(doc))
    _ship(latch)
    _ship(swap)
    manifest.write_text(full)
    _ship(latch)

    server = start_server(["serve", "--port", "0"], env=ENV)
    try:
        hosts = hosts_of(server)

        def ship_v2() -> None:
            set_version(swap, "v2")
            _ship(swap)

        asyncio.run(swap_under_load(server, hosts["swap"], hosts["latch"], ship_v2))
        server.wait_for(r"^Reloaded swap \(revision \S+\) in \d+ ms: ", timeout=30)
        assert "Isolate replaced" not in server.output
    finally:
        assert server.stop() == 0
