"""Streamed response bodies (issue 10, item 5): a ReadableStream body reaches the client as it
is produced (from the fetch handler, and from an actor's fetch() through a stub), server-sent
events work, a slow client slows the producer, and a reload or a stop gives open streams a
bounded drain (5 s) and never waits longer."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, eventually, start_dev
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e

DRAIN_S = 5.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("faults", tmp_path_factory.mktemp("streams"))
    # One Worker: /produced reads the firehose's byte count from module scope, which is per Worker.
    proc = start_dev(project, "--no-watch", "--workers", "1")
    yield proc
    assert close(proc) == 0


def arrivals(url: str) -> list[tuple[float, str]]:
    """Each line of a streamed body with the time it arrived, from the request's start."""
    out: list[tuple[float, str]] = []
    started = time.monotonic()
    with httpx.stream("GET", url, timeout=30) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            out.append((time.monotonic() - started, line))
    return out


@pytest.mark.parametrize("route", ["stream", "actorstream"])
def test_a_stream_arrives_as_it_is_produced(server: ServerProcess, route: str) -> None:
    got = arrivals(f"{server.url}/{route}/4/400")  # a chunk every 400 ms: the last at 1.2 s
    assert [line.split()[-1] for _, line in got] == ["0", "1", "2", "3"]
    first, last = got[0][0], got[-1][0]
    assert first < 0.8, f"the first chunk waited for the others ({first:.2f} s)"
    assert last - first > 0.8, got


def test_a_stream_from_another_functions_actor_arrives_as_it_is_produced(tmp_path: Path, node_modules: Path) -> None:
    owner = copy_project("faults", tmp_path)
    reference = copy_project("faults-ref", tmp_path)
    proc = start_dev(reference, "--no-watch", "--with", str(owner))
    try:
        got = arrivals(f"{proc.url}/actorstream/4/400")
        assert [line.split()[-1] for _, line in got] == ["0", "1", "2", "3"]
        assert got[0][0] < 0.8 and got[-1][0] - got[0][0] > 0.8, got
        whole = httpx.get(f"{proc.url}/actorecho", timeout=30)
        assert whole.status_code == 200 and '"method":"GET"' in whole.text
    finally:
        assert close(proc) == 0


def test_server_sent_events_flow_and_the_producer_stops_when_the_client_leaves(server: ServerProcess) -> None:
    with httpx.stream("GET", f"{server.url}/sse", timeout=30) as response:
        assert response.headers["content-type"] == "text/event-stream"
        assert "content-length" not in response.headers
        events = []
        for line in response.iter_lines():
            if line.startswith("data: "):
                events.append(line)
            if len(events) == 3:
                break
    assert events == ["data: tick 0", "data: tick 1", "data: tick 2"]
    server.wait_for(r"stream cancelled after \d+ chunks", timeout=10)


def test_a_slow_client_slows_the_producer(server: ServerProcess) -> None:
    parts = urlsplit(server.url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(f"GET /firehose HTTP/1.1\r\nHost: {parts.netloc}\r\n\r\n".encode())
        assert sock.recv(4096).startswith(b"HTTP/1.1 200")
        # The client reads nothing more: production must come to a halt, bounded by the window
        # and the socket buffers, instead of buffering the endless body. Poll until two readings
        # 0.5 s apart agree (the firehose produces 64 KB per pull as fast as it is allowed).
        def produced() -> int:
            return int(httpx.get(f"{server.url}/produced", timeout=30).text)

        deadline = time.monotonic() + 20
        before, total = -1, produced()
        while total != before:
            assert time.monotonic() < deadline, f"the producer never stopped ({total} bytes)"
            time.sleep(0.5)
            before, total = total, produced()
        assert total < 32 * 1024 * 1024, total
    server.wait_for("firehose cancelled", timeout=10)


def _open_sse(url: str, ended: threading.Event, lines: list[str], cut: list[str] | None = None) -> threading.Thread:
    """Read /sse into `lines` until it ends; a body that ended early (the connection aborted
    mid-body, as a drain that cuts a stream does) is noted in `cut`."""
    def run() -> None:
        try:
            with httpx.stream("GET", f"{url}/sse", timeout=60) as response:
                for line in response.iter_lines():
                    lines.append(line)
        except httpx.HTTPError as exc:
            if cut is not None:
                cut.append(type(exc).__name__)
        ended.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_a_reload_drains_open_streams_within_the_bound(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("faults", tmp_path)
    proc = start_dev(project)
    try:
        ended, lines, cut = threading.Event(), [], []
        _open_sse(proc.url, ended, lines, cut)
        eventually(lambda: len(lines), lambda n: n >= 2)
        index = project / "src" / "index.ts"
        index.write_text(index.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
        match = proc.wait_for(r"Reloaded in (\d+) ms", timeout=30)
        assert int(match.group(1)) < (DRAIN_S + 2) * 1000
        # The new code serves at once; the old stream runs out its drain in the background
        # (tests/e2e/test_reload_streams.py checks the timing).
        assert ended.wait(timeout=DRAIN_S + 3), "the stream was not closed after the drain"
        assert cut, "a stream cut by the drain must not look complete to the client"
        assert httpx.get(proc.url + "/version", timeout=30).text == "v2"
        assert "500" not in "".join(lines)
    finally:
        assert close(proc) == 0


def test_a_stop_drains_open_streams_within_the_bound(tmp_path: Path, node_modules: Path) -> None:
    project = copy_project("faults", tmp_path)
    proc = start_dev(project, "--no-watch")
    ended, lines = threading.Event(), []
    _open_sse(proc.url, ended, lines)
    eventually(lambda: len(lines), lambda n: n >= 2)
    started = time.monotonic()
    os.kill(proc.proc.pid, signal.SIGTERM)
    code = proc.proc.wait(timeout=30)
    elapsed = time.monotonic() - started
    proc.stop()
    assert code == 0, proc.output
    assert elapsed < DRAIN_S + 5, f"stop took {elapsed:.1f} s"
    assert ended.wait(timeout=5)
