"""Design promise 2: an activation's turns run one at a time in the order the calls arrived.

`Tally("q").hold()` keeps the actor's turn open (on a latch in another function) while one
request sends `note(0)` .. `note(N-1)` to it at once, in that order; they queue in its mailbox.
Each note reads a stored list, waits a timer tick, and appends: after the release the list must
be 0..N-1 exactly (a mailbox out of order reorders it; interleaved turns lose entries).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, hosts_of, start_dev

pytestmark = pytest.mark.e2e

N = 30


def test_queued_calls_run_one_at_a_time_in_arrival_order(tmp_path: Path, edge_home: Path) -> None:
    swap = copy_project("swap", tmp_path)
    latch = copy_project("latch", tmp_path)
    # The latch project's latches live at module scope (shared by its fetch handler and its actor):
    # that needs one Worker per function, since module state is per Worker.
    server = start_dev(swap, "--with", str(latch), "--no-watch", "--workers", "1", env={"TELNYX_EDGE_METHOD_TIMEOUT_MS": "20000"})
    try:
        hosts = hosts_of(server)

        async def scenario() -> tuple[object, list[int], list[int]]:
            async with httpx.AsyncClient(base_url=server.url, timeout=60) as http:
                swap_host, latch_host = {"Host": hosts["swap"]}, {"Host": hosts["latch"]}
                hold = asyncio.create_task(http.post("/call/q/hold", headers=swap_host))
                try:
                    assert (await http.get("/until/hold:arrived", headers=latch_host)).text == "arrived"
                    sequence = asyncio.create_task(http.post(f"/sequence/q/{N}", headers=latch_host))
                    # All N calls are on their way to the mailbox before the held turn ends.
                    assert (await http.get("/until/sequenced:q", headers=latch_host)).text == "sent"
                finally:
                    await http.post("/release/hold", headers=latch_host)
                held = (await hold).json()
                lengths = (await sequence).json()
                notes = (await http.post("/call/q/notes", headers=swap_host)).json()
                return held, lengths, notes

        held, lengths, notes = asyncio.run(scenario())
        assert held == {"ok": True, "value": "v1"}
        assert notes == {"ok": True, "value": list(range(N))}
        assert lengths == list(range(1, N + 1))
    finally:
        assert close(server) == 0
