"""WebSockets on actors (spec 3.9, issue 12), with a real client (the `websockets` package)
against the real `dev` and `serve`: the spec 9.3 chat, every close code, events as turns, and
bad input."""

from __future__ import annotations

import json
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from tests.e2e.dev_helpers import copy_project, eventually, hosts_of, serve_function, ship, start_dev
from tests.harness import ServerProcess

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

METHOD_BUDGET_MS = 2000


def ws_url(server: ServerProcess, path: str) -> str:
    return server.url.replace("http://", "ws://") + path


def open_ws(server: ServerProcess, path: str, host: str | None = None) -> ClientConnection:
    """A client connection; with `host`, to that host name over the server's address."""
    if host is None:
        return connect(ws_url(server, path), open_timeout=30, max_size=None)
    port = urlsplit(server.url).port
    sock = socket.create_connection(("127.0.0.1", port))
    return connect(f"ws://{host}:{port}{path}", sock=sock, open_timeout=30, max_size=None)


def recv_json(ws: ClientConnection) -> dict[str, Any]:
    message = ws.recv(timeout=30)
    assert isinstance(message, str), message
    result: dict[str, Any] = json.loads(message)
    return result


def closed_with(ws: ClientConnection) -> tuple[int, str]:
    """Read until the connection closes; its close code and reason (1006: dropped, no close frame)."""
    while True:
        try:
            ws.recv(timeout=30)
        except ConnectionClosed as exc:
            return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd is not None else (1006, "")


def raw_exchange(server: ServerProcess, request: bytes) -> bytes:
    """Send raw bytes; everything the server answers until it closes."""
    port = urlsplit(server.url).port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


# -- the spec 9.3 chat ------------------------------------------------------------------------


def chat_walkthrough(server: ServerProcess, host: str | None = None) -> None:
    with open_ws(server, "/rooms/lobby?user=alice", host) as alice:
        assert recv_json(alice) == {"type": "welcome", "user": "alice", "present": 1}
        alice.send(json.dumps({"text": "hello"}))
        assert recv_json(alice) == {"type": "message", "seq": 1, "user": "alice", "text": "hello"}
        assert recv_json(alice) == {"type": "sent", "seq": 1, "delivered": 1}
        with open_ws(server, "/rooms/lobby?user=bob", host) as bob:
            assert recv_json(bob) == {"type": "welcome", "user": "bob", "present": 2}
            bob.send(json.dumps({"text": "hi all"}))
            expected = {"type": "message", "seq": 2, "user": "bob", "text": "hi all"}
            assert recv_json(alice) == expected
            assert recv_json(bob) == expected
            assert recv_json(bob) == {"type": "sent", "seq": 2, "delivered": 2}
            # Another room is another actor: its own members and its own sequence.
            with open_ws(server, "/rooms/attic?user=carol", host) as carol:
                assert recv_json(carol) == {"type": "welcome", "user": "carol", "present": 1}
                carol.send(json.dumps({"text": "anyone?"}))
                assert recv_json(carol) == {"type": "message", "seq": 1, "user": "carol", "text": "anyone?"}
                assert recv_json(carol) == {"type": "sent", "seq": 1, "delivered": 1}
        assert recv_json(alice) == {"type": "left", "user": "bob", "present": 1}


def test_chat_under_dev(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("chat", tmp_path)
    server = start_dev(project, "--no-watch")
    try:
        chat_walkthrough(server)
        # Not an upgrade: the function's own answer.
        response = httpx.get(server.url + "/rooms/lobby", timeout=30)
        assert response.status_code == 426 and response.text == "expected a WebSocket upgrade"
        # An upgrade the function refuses itself: its answer goes back as is, no socket opens.
        with pytest.raises(InvalidStatus) as refused:
            open_ws(server, "/rooms/lobby")
        assert refused.value.response.status_code == 400
        assert refused.value.response.body == b"user (letters, digits, - or _) required"
    finally:
        server.stop()


def test_chat_under_serve(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("chat", tmp_path)
    ship(project, "chat")
    server, http = serve_function("chat")
    try:
        chat_walkthrough(server, hosts_of(server)["chat"])
        assert http.get("/rooms/lobby").status_code == 426
    finally:
        http.close()
        server.stop()


def test_a_member_that_does_not_read_is_dropped_and_the_room_goes_on(tmp_path: Path, edge_home: Path) -> None:
    """alice completes the handshake, then never reads: once 16 MiB wait for her the runtime drops
    her (1006 on the actor's side), and the room tells bob she left."""
    project = copy_project("chat", tmp_path)
    server = start_dev(project, "--no-watch")
    try:
        port = urlsplit(server.url).port
        with socket.create_connection(("127.0.0.1", port), timeout=30) as alice:
            alice.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            alice.sendall(
                b"GET /rooms/slow?user=alice HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
            )
            assert alice.recv(4096).startswith(b"HTTP/1.1 101 ")
            with open_ws(server, "/rooms/slow?user=bob") as bob:
                assert recv_json(bob)["present"] == 2
                text = "x" * 60_000
                left = None
                for _ in range(2000):
                    bob.send(json.dumps({"text": text}))
                    while (reply := recv_json(bob))["type"] not in ("sent", "left"):
                        pass
                    if reply["type"] == "left":
                        left = reply
                        break
                assert left == {"type": "left", "user": "alice", "present": 1}
        assert server.proc.poll() is None
    finally:
        server.stop()


def test_reload_closes_sockets_1001_and_the_sequence_continues(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("chat", tmp_path)
    server = start_dev(project)
    try:
        with open_ws(server, "/rooms/lobby?user=alice") as alice:
            recv_json(alice)
            alice.send(json.dumps({"text": "before"}))
            assert recv_json(alice)["seq"] == 1
            recv_json(alice)
            room = project / "src" / "room.ts"
            room.write_text(room.read_text().replace('type: "welcome"', 'type: "welcome", v: 2'))
            assert closed_with(alice)[0] == 1001
        server.wait_for(r"Reloaded in")
        with open_ws(server, "/rooms/lobby?user=alice") as again:
            assert recv_json(again) == {"type": "welcome", "v": 2, "user": "alice", "present": 1}
            again.send(json.dumps({"text": "after"}))
            assert recv_json(again) == {"type": "message", "seq": 2, "user": "alice", "text": "after"}
    finally:
        server.stop()


def test_a_reference_function_forwards_the_upgrade_to_the_owners_actor(tmp_path: Path, edge_home: Path) -> None:
    """dev --with: the lobby function binds ChatRoom, which the chat function owns; the socket
    crosses from the lobby's Worker to the owner's through the main thread."""
    chat = copy_project("chat", tmp_path)
    lobby = copy_project("chat-lobby", tmp_path)
    server = start_dev(lobby, "--no-watch", "--with", str(chat))
    try:
        hosts = hosts_of(server)
        with open_ws(server, "/rooms/hall?user=alice", hosts["chat"]) as alice:
            assert recv_json(alice)["present"] == 1
            with open_ws(server, "/lobby/hall?user=bob", hosts["chat-lobby"]) as bob:
                assert recv_json(bob) == {"type": "welcome", "user": "guest-bob", "present": 2}
                bob.send(json.dumps({"text": "hi"}))
                expected = {"type": "message", "seq": 1, "user": "guest-bob", "text": "hi"}
                assert recv_json(alice) == expected and recv_json(bob) == expected
                assert recv_json(bob) == {"type": "sent", "seq": 1, "delivered": 2}
    finally:
        server.stop()


# -- the socket's semantics, on one ws-lab runtime ----------------------------------------------


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    root = tmp_path_factory.mktemp("ws-lab")
    project = copy_project("ws-lab", root)
    env = {"TELNYX_EDGE_HOME": str(root / "edge-home")}
    server = start_dev(project, "--no-watch", "--method-timeout-ms", str(METHOD_BUDGET_MS), env=env)
    try:
        yield server
    finally:
        server.stop()


def lab_http(lab: ServerProcess, path: str) -> Any:
    response = httpx.get(lab.url + path, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def test_frames_sent_before_web_socket_returns_are_replayed_in_order(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/late?mode=late&ms=300") as ws:
        for i in range(5):
            ws.send(f"m{i}")
        hello = recv_json(ws)
        assert hello == {"type": "hello", "leaked": [], "count": 1}  # handshake headers stripped
        echoes = [recv_json(ws) for _ in range(5)]
        assert [(e["text"], e["received"]) for e in echoes] == [(f"m{i}", i + 1) for i in range(5)]
        ws.send(b"\x00\xffbytes")
        assert ws.recv(timeout=30) == b"\x00\xffbytes"


def test_deliberate_closes_are_1000_both_ways(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/closer") as ws:
        recv_json(ws)
        ws.send("close")
        assert closed_with(ws) == (1000, "bye")
    with open_ws(lab, "/lab/closer2") as ws:
        recv_json(ws)
    # The actor's close listener ran as a turn and its write committed.
    assert eventually(lambda: lab_http(lab, "/rpc/closer2/lastClose"), bool) == {"code": 1000, "reason": ""}


def test_a_throwing_handler_closes_its_socket_1011_and_the_actor_keeps_serving(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/thrower") as ws, open_ws(lab, "/lab/thrower") as other:
        recv_json(ws)
        assert recv_json(other)["count"] == 2
        ws.send("throw")
        code, reason = closed_with(ws)
        assert code == 1011 and "Error" in reason
        other.send("still there?")
        assert recv_json(other) == {"type": "echo", "text": "still there?", "received": 1, "count": 1}
    assert eventually(lambda: lab_http(lab, "/rpc/thrower/lastClose"), bool)["code"] in (1000, 1011)
    assert "boom" in lab.output


def test_a_handler_past_the_budget_closes_1011_and_the_next_socket_works(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/hanger") as ws:
        recv_json(ws)
        ws.send("hang")
        assert closed_with(ws)[0] == 1011
    with open_ws(lab, "/lab/hanger") as ws:
        assert recv_json(ws)["count"] == 1
        ws.send("ok")
        assert recv_json(ws)["text"] == "ok"


def test_an_actor_without_a_web_socket_handler_closes_1011(lab: ServerProcess) -> None:
    with open_ws(lab, "/plain/p") as ws:
        assert closed_with(ws) == (1011, "actor has no webSocket handler")


def test_an_isolate_that_dies_closes_its_sockets_1001(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/doomed") as ws:
        recv_json(ws)
        ws.send("exit")
        assert closed_with(ws)[0] == 1001
    lab.wait_for(r"Isolate replaced")
    with open_ws(lab, "/lab/doomed") as ws:
        assert recv_json(ws)["type"] == "hello"


def test_a_synchronous_loop_in_a_handler_gets_its_isolate_replaced(lab: ServerProcess) -> None:
    """Nothing but the socket is asking the Worker for work: the watchdog still notices."""
    with open_ws(lab, "/lab/spinner") as ws:
        recv_json(ws)
        ws.send("spin")
        assert closed_with(ws)[0] == 1001
    lab.wait_for(r"Isolate replaced: .*blocked")
    with open_ws(lab, "/lab/spinner") as ws:
        assert recv_json(ws)["type"] == "hello"


def test_a_frame_over_1_mib_closes_1009(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/big") as ws:
        recv_json(ws)
        ws.send(b"x" * (1024 * 1024))  # exactly 1 MiB is allowed
        assert len(ws.recv(timeout=30)) == 1024 * 1024
        ws.send(b"x" * (1024 * 1024 + 1))
        assert closed_with(ws)[0] == 1009
    with open_ws(lab, "/lab/big") as ws:
        assert recv_json(ws)["type"] == "hello"


def test_an_overflowing_inbound_queue_closes_1013(lab: ServerProcess) -> None:
    with open_ws(lab, "/lab/flood") as ws:
        recv_json(ws)
        # The first message holds the turn for 1 s (inside the budget); 300 more wait behind it.
        ws.send(f"block:{METHOD_BUDGET_MS // 2}")
        for i in range(300):
            ws.send(f"f{i}")
        code, reason = closed_with(ws)
        assert code == 1013 and "queue" in reason


def test_socket_events_and_rpcs_are_one_turn_at_a_time(lab: ServerProcess) -> None:
    """30 "bump" messages and 30 bump() RPCs, each a read, a wait and a write of one counter: were
    two turns of the actor to interleave, increments would be lost."""
    with open_ws(lab, "/lab/inter") as ws:
        recv_json(ws)

        def rpcs() -> None:
            with httpx.Client(base_url=lab.url, timeout=30) as http:
                for _ in range(30):
                    assert http.get("/rpc/inter/bump").status_code == 200

        thread = threading.Thread(target=rpcs)
        thread.start()
        for _ in range(30):
            ws.send("bump")
        thread.join()
        assert [recv_json(ws)["text"] for _ in range(30)] == ["bump"] * 30
    assert lab_http(lab, "/rpc/inter/counter") == 60


def test_bad_input(lab: ServerProcess) -> None:
    host = urlsplit(lab.url).netloc.encode()
    # Not an upgrade: the function's 426.
    assert httpx.get(lab.url + "/lab/x", timeout=30).status_code == 426
    # Malformed handshakes: a 400 naming the problem, before user code runs.
    head = b"GET /lab/x HTTP/1.1\r\nHost: " + host + b"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    no_key = raw_exchange(lab, head + b"Sec-WebSocket-Version: 13\r\n\r\n")
    assert no_key.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Key" in no_key
    bad_version = raw_exchange(lab, head + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n")
    assert bad_version.startswith(b"HTTP/1.1 400 ") and b"Sec-WebSocket-Version" in bad_version
    # A name the platform refuses for sockets: the stub's TypeError, a 500 from the function.
    with pytest.raises(InvalidStatus) as refused:
        open_ws(lab, "/lab/%20padded")
    assert refused.value.response.status_code == 500
    assert b"printable ASCII" in refused.value.response.body
    for value in ("%01", "%C3%A9"):  # a control character; a non-ASCII one
        with pytest.raises(InvalidStatus) as bad_header:
            open_ws(lab, f"/lab/h?header={value}")
        assert bad_header.value.response.status_code == 500
        assert b"header x-forwarded-value is not printable ASCII" in bad_header.value.response.body
    # A client that vanishes mid-frame: the runtime keeps serving.
    port = urlsplit(lab.url).port
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(head + b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        assert sock.recv(4096).startswith(b"HTTP/1.1 101 ")
        sock.sendall(b"\x81\xfe\x10\x00\x00\x00\x00\x00partial")  # a masked 4 KB text frame, cut short
    with open_ws(lab, "/lab/x") as ws:
        assert recv_json(ws)["type"] == "hello"
    assert lab.proc.poll() is None


def test_an_open_socket_keeps_its_actor_in_memory_and_closes_1006_past_its_lifetime(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("ws-lab", tmp_path)
    env = {"TELNYX_EDGE_WS_LIFETIME_MS": "1500", "TELNYX_EDGE_IDLE_MS": "50"}
    server = start_dev(project, "--no-watch", env=env)
    try:
        started = time.monotonic()
        with open_ws(server, "/lab/old") as ws:
            recv_json(ws)
            # Many idle sweeps pass: an evicted activation would have closed its database under
            # the socket, and the write below would fail the turn (1011).
            time.sleep(0.6)
            ws.send("bump")
            assert recv_json(ws) == {"type": "echo", "text": "bump", "received": 1, "count": 1}
            assert closed_with(ws) == (1006, "")
        assert 1.4 < time.monotonic() - started < 10
        last = eventually(lambda: httpx.get(server.url + "/rpc/old/lastClose", timeout=30).json(), bool)
        assert last == {"code": 1006, "reason": ""}
    finally:
        server.stop()


def test_a_stop_closes_open_sockets_1001(tmp_path: Path, edge_home: Path) -> None:
    project = copy_project("chat", tmp_path)
    server = start_dev(project, "--no-watch")
    try:
        with open_ws(server, "/rooms/lobby?user=alice") as alice:
            recv_json(alice)
            alice.send(json.dumps({"text": "hello"}))
            recv_json(alice)
            server.proc.send_signal(signal.SIGINT)
            assert closed_with(alice)[0] == 1001
        assert server.proc.wait(timeout=30) == 0
    finally:
        server.stop()
