"""A hot swap does not make new requests wait for the old revision's open response streams
(`dev`'s reload on save and `serve`'s hot swap of a new ship).

New requests go to the new revision as soon as it has loaded; requests already in flight finish
in the old one; the actors are handed over once the old revision has answered what it had in
flight (its Workers close their actor databases, then the new revision's open them), so actor
calls work at once too. The old revision's open streams (server-sent events from the fetch
handler, a body an actor's fetch() produces after it returned) keep running in the background
for the drain time (5 s), then they are cut: the connection is aborted, so the client sees a
truncated body, never a complete-looking one.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, eventually, hosts_of, serve_function, ship, start_dev
from tests.harness import run_cli

pytestmark = pytest.mark.e2e

DRAIN_S = 5.0  # js/group.mjs STREAM_DRAIN_MS
PROMPT_S = 1.5  # "at once": well under the drain time


class OpenStream:
    """A streamed GET read on a thread: its non-empty lines, when and how it ended."""

    def __init__(self, url: str, headers: dict[str, str] | None = None) -> None:
        self.url = url
        self.headers = headers or {}
        self.lines: list[str] = []
        self.status = 0
        self.ended = threading.Event()
        self.ended_at = 0.0
        self.cut = ""  # the client's error when the body ended early (the connection was aborted)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            with httpx.stream("GET", self.url, headers=self.headers, timeout=60) as response:
                self.status = response.status_code
                for line in response.iter_lines():
                    if line:
                        self.lines.append(line)
        except httpx.HTTPError as exc:
            self.cut = type(exc).__name__
        self.ended_at = time.monotonic()
        self.ended.set()

    def flowing(self, at_least: int = 2) -> None:
        """Wait until `at_least` more lines have arrived than now."""
        start = len(self.lines)
        eventually(lambda: len(self.lines), lambda n: n >= start + at_least)


def set_version(project: Path, version: str) -> None:
    source = project / "src" / "index.ts"
    text = source.read_text()
    assert 'VERSION = "v1"' in text
    source.write_text(text.replace('VERSION = "v1"', f'VERSION = "{version}"'))


def check_cut_after_drain(streams: list[OpenStream], reloaded: float) -> None:
    """Each stream ran on after the swap and was cut about the drain time later."""
    for stream in streams:
        stream.flowing()  # still producing in the old revision after the swap
    for stream in streams:
        assert stream.ended.wait(timeout=DRAIN_S + 5), f"{stream.url} was not ended after the drain"
        assert stream.status == 200
        assert stream.cut, f"{stream.url}: a stream cut by the drain must not look complete to the client"
        after = stream.ended_at - reloaded
        assert DRAIN_S - 1 < after < DRAIN_S + 3, f"{stream.url} ended {after:.1f} s after the swap"


def test_a_reload_serves_new_requests_at_once_while_old_streams_run_out(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("faults", tmp_path)
    proc = start_dev(project)
    try:
        sse = OpenStream(proc.url + "/sse")
        # An actor's body, produced after its fetch() returned: its activation is handed over
        # while the body keeps streaming from the old Worker.
        actor = OpenStream(proc.url + "/actorstream/100000/100")
        sse.flowing()
        actor.flowing()
        set_version(project, "v2")
        proc.wait_for(r"^Reloaded in \d+ ms$", timeout=30)
        reloaded = time.monotonic()
        assert not sse.ended.is_set() and not actor.ended.is_set(), "the reload waited for the open streams"

        with httpx.Client(base_url=proc.url, timeout=30) as client:
            started = time.monotonic()
            version = client.get("/version").text
            mark = client.post("/rpc/log/after/mark", json={"args": ["reloaded"]}).json()
            # The actor whose old activation still streams: its new activation opens its database.
            again = client.get("/actorstream/2/10").text
            answered = time.monotonic() - started
        assert version == "v2"
        assert mark == {"ok": True, "value": None}
        assert again == "actor chunk 0\nactor chunk 1\n"
        assert answered < PROMPT_S, f"the new code took {answered:.2f} s to answer while an old stream was open"
        assert not sse.ended.is_set() and not actor.ended.is_set()

        check_cut_after_drain([sse, actor], reloaded)
        assert "Isolate replaced" not in proc.output
    finally:
        assert close(proc) == 0


def test_a_request_in_flight_at_a_reload_finishes_in_the_old_code(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("faults", tmp_path)
    proc = start_dev(project)
    try:
        slow: list[str] = []
        thread = threading.Thread(target=lambda: slow.append(httpx.get(proc.url + "/slowversion/6000", timeout=30).text))
        thread.start()
        proc.wait_for("slow version 6000 ms")  # in flight in the old code
        set_version(project, "v2")
        with httpx.Client(base_url=proc.url, timeout=30) as client:
            eventually(lambda: client.get("/version").text, lambda v: v == "v2", timeout=20)
        assert slow == [], "new requests waited for the request in flight in the old code"
        # The swap completes (the old code's actors are handed over) once it has answered.
        proc.wait_for(r"^Reloaded in \d+ ms$", timeout=30)
        thread.join(timeout=30)
        assert slow == ["v1"]
    finally:
        assert close(proc) == 0


def test_serve_hot_swap_serves_new_requests_at_once_while_an_old_stream_runs_out(
    tmp_path: Path, edge_home: Path, node_modules: Path,
) -> None:
    project = copy_project("faults", tmp_path)
    ship(project, "faults")
    server, client = serve_function("faults")
    try:
        sse = OpenStream(server.url + "/sse", {"Host": hosts_of(server)["faults"]})
        sse.flowing()
        set_version(project, "v2")
        shipped = run_cli("ship", "-f", str(project))
        assert shipped.returncode == 0, shipped.stdout + shipped.stderr
        server.wait_for(r"^Reloaded faults \(revision \S+\) in \d+ ms: ", timeout=30)
        reloaded = time.monotonic()
        assert not sse.ended.is_set(), "the hot swap waited for the open stream"

        started = time.monotonic()
        version = client.get("/version").text
        mark = client.post("/rpc/log/after/mark", json={"args": ["swapped"]}).json()
        answered = time.monotonic() - started
        assert version == "v2"
        assert mark == {"ok": True, "value": None}
        assert answered < PROMPT_S, f"the new code took {answered:.2f} s to answer while an old stream was open"
        assert not sse.ended.is_set()

        check_cut_after_drain([sse], reloaded)
        assert "Isolate replaced" not in server.output
    finally:
        client.close()
        assert server.stop() == 0
