"""Issue 14: seeing what runs under `telnyx-edge dev`: a line per request, actor invocations at
-v, console output attributed to its function and actor, throws mapped to the .ts source (in
dev's output and in the caller's err.stack), `logs --tail`, and the inspector across a reload."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from websockets.sync.client import connect

from tests.e2e.dev_helpers import close, start_dev
from tests.harness import child_env

_TS_FRAME = re.compile(r"at Counter\.explode \((?P<file>[^()]*src/counter\.ts):(?P<line>\d+):\d+\)")


def test_request_lines_actor_output_and_mapped_errors(copy_fixture: Any, edge_home: Path) -> None:
    project = copy_fixture("observe")
    server = start_dev(project, "-v", "--no-watch", "--workers", "2")
    try:
        with httpx.Client(base_url=server.url) as client:
            assert client.get("/hello/alice").text == "hi world"
            expect(server, r"^\[[\d:.]+\] observe Counter:alice \[log\] hello world #1$")
            expect(server, r"^\[[\d:.]+\] observe Counter:alice \[warn\] careful \{ n: 1 \}$")
            expect(server, r"^\[[\d:.]+\] observe Counter:alice hello ok [\d.]+ms$")  # -v: the invocation
            expect(server, r"^\[[\d:.]+\] observe GET /hello/alice 200 [\d.]+ms$")

            # A throwing method: the caller's err.stack names the .ts line that threw, no runtime frames.
            caller = client.get("/explode/bob")
            assert caller.status_code == 500
            assert caller.text.startswith("ActorMethodError: exploded: on purpose\n"), caller.text
            frame = _TS_FRAME.search(caller.text)
            assert frame is not None, caller.text
            assert "runtime/js" not in caller.text and "node:" not in caller.text
            thrown_at = int(frame.group("line"))
            source = (project / "src" / "counter.ts").read_text().splitlines()
            assert "throw new Error(`exploded" in source[thrown_at - 1]
            # ... and dev printed it, attributed, with the same frame.
            expect(server, r"observe Counter:bob \[error\] explode\(\) threw: Error: exploded: on purpose")
            expect(server, rf"^\s+at Counter\.explode \(.*src/counter\.ts:{thrown_at}:\d+\)$")
            expect(server, r"observe Counter:bob explode ActorMethodError [\d.]+ms$")

            # err.stack read inside the actor: mapped, without the runtime's frames.
            inner = client.get("/inner/carol").text
            assert re.search(r"at Counter\.innerStack \(.*src/counter\.ts:\d+:\d+\)", inner), inner
            assert "runtime/js" not in inner and "node:" not in inner, inner

            # The fetch handler's own output and throw: attributed to the function alone.
            assert client.get("/plain").text == "plain"
            expect(server, r"^\[[\d:.]+\] observe \[info\] plain request$")
            assert client.get("/crash").status_code == 500
            expect(server, r"observe \[error\] fetch GET /crash threw: TypeError: the fetch handler threw")
            expect(server, r"^\s+at Object\.fetch \(.*src/index\.ts:\d+:\d+\)$")
            expect(server, r"^\[[\d:.]+\] observe GET /crash 500 [\d.]+ms$")

            # A constructor that throws: printed once per attempt, pointing at its line.
            assert client.get("/broken/eve").status_code == 500
            expect(server, r"observe Broken:eve \[error\] the constructor threw: RangeError: no way to build this one")
            expect(server, r"^\s+at new Broken \(.*src/counter\.ts:\d+:\d+\)$")
    finally:
        close(server)
    # One request line per request, none lost.
    assert len(re.findall(r"^\[[\d:.]+\] observe GET /", server.output, re.M)) == 6

    # What was recorded is readable afterwards (spec 1.8, 1.11 line formats).
    logs = _cli("logs", "observe", "--type", "invocations")
    assert re.findall(r"^\[\S+Z\] GET (\S+) (\d+) [\d.]+ms$", logs.stdout, re.M) == [
        ("/hello/alice", "200"), ("/explode/bob", "500"), ("/inner/carol", "200"), ("/plain", "200"), ("/crash", "500"),
        ("/broken/eve", "500"),
    ]
    actor = _cli("actors", "logs", "Counter", "--instance", "bob", "--json")
    records = json.loads(actor.stdout)["data"]
    assert sorted(r["kind"] for r in records) == ["call", "console"]
    call = next(r for r in records if r["kind"] == "call")
    assert (call["name"], call["method"], call["outcome"]) == ("bob", "explode", "ActorMethodError")
    assert _cli("actors", "logs", "Counter", "--type", "invocations", "-n", "1").stdout.startswith("[")


def test_request_lines_without_verbose_leave_out_invocations(copy_fixture: Any, edge_home: Path) -> None:
    server = start_dev(copy_fixture("observe"), "--no-watch", "--workers", "1")
    try:
        assert httpx.get(f"{server.url}/hello/dave").status_code == 200
        expect(server, r"observe GET /hello/dave 200")
    finally:
        close(server)
    assert "Counter:dave [log] hello world #1" in server.output
    assert "Counter:dave hello ok" not in server.output


def test_logs_tail_sees_a_request_made_after_it_started(copy_fixture: Any, edge_home: Path) -> None:
    server = start_dev(copy_fixture("observe"), "--no-watch", "--workers", "1")
    tail = subprocess.Popen(
        [sys.executable, "-m", "telnyx_edge", "logs", "observe", "--tail"], env=child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, bufsize=1,
    )
    try:
        assert tail.stderr is not None and tail.stdout is not None
        assert "Streaming new lines of function observe" in tail.stderr.readline()
        assert httpx.get(f"{server.url}/plain?token=secret").status_code == 200
        line = _readline_within(tail.stdout, 20)
        assert re.match(r"^\[\S+Z\] (GET /plain 200 [\d.]+ms|\[info\] plain request)$", line), line
    finally:
        tail.kill()
        tail.communicate()  # reaps it and closes its pipes
        close(server)
    assert "secret" not in server.output  # the query string is not logged


def test_inspector_keeps_its_port_across_a_reload(copy_fixture: Any, edge_home: Path) -> None:
    project = copy_fixture("observe")
    server = start_dev(project, "--inspect", "0", "--workers", "1")  # the value after a space, as for --port
    try:
        url = re.search(r"^Inspector on (ws://\S+)$", server.output, re.M)  # printed before Ready
        assert url is not None, server.output
        port = urlsplit(url.group(1)).port
        assert urlsplit(url.group(1)).hostname == "127.0.0.1"
        first = _bundle_script(port)
        (project / "src" / "counter.ts").write_text((project / "src" / "counter.ts").read_text() + "\n// edited\n")
        server.wait_for(r"Reloaded in \d+ ms")
        second = _bundle_script(port)
        assert first != second  # the new revision's bundle, seen through the same port
        # A data plane that dies is restarted with its inspector on the same port.
        plane = subprocess.run(["pgrep", "-f", "-P", str(server.proc.pid), "dataplane.mjs"], capture_output=True, text=True, check=True)
        os.kill(int(plane.stdout.split()[0]), signal.SIGKILL)
        server.wait_for(r"Isolate replaced: the data plane was killed by SIGKILL; restarting it")
        again = server.wait_for(r"^Inspector on (ws://\S+)$")
        assert urlsplit(again.group(1)).port == port
        assert re.search(r"/build/\d+/index\.js$", _bundle_script(port))
    finally:
        close(server)
    # Only our line names the inspector: node's own banner (twice: at start and after the
    # restart) is not printed beside it.
    assert "Debugger listening on" not in server.output and "For help, see:" not in server.output, server.output
    assert len(re.findall(r"^Inspector on ws://", server.output, re.M)) == 2


def expect(server: Any, pattern: str) -> None:
    """Wait for a line matching `pattern`, whether already printed or not: stdout and stderr
    lines (warnings, errors) of one batch reach the pipe in either order."""
    if not re.search(pattern, server.output, re.M):
        server.wait_for(pattern)


def _bundle_script(port: int | None) -> str:
    """Over the Chrome DevTools Protocol: attach to the data plane's Workers (NodeWorker domain:
    the isolate Workers, and spare ones that have loaded no bundle yet), enable their debuggers,
    and return the URL of the bundle one reports, after checking that the bundle's source map
    points at src/counter.ts."""
    target = httpx.get(f"http://127.0.0.1:{port}/json/list").json()[0]["webSocketDebuggerUrl"]
    with connect(target, open_timeout=10, max_size=None) as ws:
        ws.send(json.dumps({"id": 1, "method": "NodeWorker.enable", "params": {"waitForDebuggerOnStart": False}}))
        next_id = 2
        while True:
            msg = json.loads(ws.recv(timeout=20))
            if msg.get("method") == "NodeWorker.attachedToWorker":
                session = msg["params"]["sessionId"]
                inner = json.dumps({"id": 1, "method": "Debugger.enable"})
                ws.send(json.dumps({"id": next_id, "method": "NodeWorker.sendMessageToWorker", "params": {"sessionId": session, "message": inner}}))
                next_id += 1
            elif msg.get("method") == "NodeWorker.receivedMessageFromWorker":
                event = json.loads(msg["params"]["message"])
                params = event.get("params", {})
                if event.get("method") == "Debugger.scriptParsed" and re.search(r"/build/\d+/index\.js$", params.get("url", "")):
                    assert params.get("sourceMapURL"), params
                    script = Path(urlsplit(params["url"]).path)
                    source_map = json.loads((script.parent / params["sourceMapURL"]).read_text())
                    assert any(s.endswith("src/counter.ts") for s in source_map["sources"]), source_map["sources"]
                    return str(params["url"])


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "telnyx_edge", *args], env=child_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result


def _readline_within(stream: Any, seconds: float) -> str:
    out: list[str] = []
    reader = threading.Thread(target=lambda: out.append(stream.readline()), daemon=True)
    reader.start()
    reader.join(seconds)
    assert out, f"no line within {seconds} s"
    return out[0].rstrip("\n")


def test_an_inspector_port_in_use_is_said_before_ready(copy_fixture: Any, edge_home: Path) -> None:
    """Node runs on without its inspector when the port is taken; the runtime must say so."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        server = start_dev(copy_fixture("observe"), f"--inspect=127.0.0.1:{port}", "--workers", "1")
        try:
            assert f"the inspector could not listen on 127.0.0.1:{port} (is the port in use?)" in server.output, server.output
            assert "Inspector on" not in server.output
        finally:
            close(server)


def test_a_bad_inspect_host_names_the_inspect_flag(copy_fixture: Any, edge_home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "telnyx_edge", "dev", "--inspect=nosuchhost.invalid:19232"],
        env=child_env(), capture_output=True, text=True, timeout=60, cwd=copy_fixture("observe"),
    )
    assert result.returncode == 2
    assert "--inspect 'nosuchhost.invalid' is not an address or a known host name" in result.stderr, result.stderr
