"""Every acknowledged reply follows an fsync of the WAL that holds its commit (issue 17, item 1).

kill -9 tests cannot see a missing sync: the kernel's page cache survives the process. So this
traces the data plane's system calls (every thread) with strace while acknowledged debits run one
after another, and checks the order: after SQLite writes WAL frames (pwrite64 on an actor's `-wal`
file), an fsync of that WAL must complete before the data plane writes the HTTP reply to the client.
Skipping the sync, or syncing after the reply, fails this test every time.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev

pytestmark = pytest.mark.e2e

DEBITS = 25
_CALL = re.compile(r"^(?P<tid>\d+)\s+(?:<\.\.\. (?P<resumed>\w+) resumed>(?P<rest>.*)|(?P<name>\w+)\((?P<args>.*))$")


def _strace() -> str:
    path = shutil.which("strace")
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("strace is required in CI (.ci/run installs it)")
        pytest.skip("strace is not installed (apt-get install strace)")
    return path


@dataclass
class Verdict:
    replies: int = 0
    synced_replies: int = 0
    wal_syncs: int = 0
    violations: int = 0


def check_trace(lines: list[str]) -> Verdict:
    """Replay the trace: a reply while WAL frames are written but not yet fsync'd is a violation."""
    wal_fds: set[str] = set()
    unsynced = False
    wrote_since_reply = False
    pending: dict[str, tuple[str, str]] = {}  # tid -> (call, args) of an unfinished call
    verdict = Verdict()
    for line in lines:
        match = _CALL.match(line)
        if not match:
            continue
        tid = match["tid"]
        if match["resumed"]:
            name, args = pending.pop(tid, (match["resumed"], ""))
            result = match["rest"].rsplit("=", 1)[-1].strip()
            finished = True
        else:
            name, args = match["name"], match["args"]
            if args.endswith("<unfinished ...>"):
                pending[tid] = (name, args)
                finished = False
                result = ""
            else:
                result = args.rsplit("=", 1)[-1].strip()
                finished = True
        fd_match = re.match(r"\s*(\d+)", args)
        fd = fd_match.group(1) if fd_match else ""
        if name == "openat" and finished and ".sqlite-wal" in args and "/actors/" in args:
            wal_fds.add(result.split()[0])
        elif name == "pwrite64" and fd in wal_fds:  # dirty from the moment the write starts
            unsynced = True
            wrote_since_reply = True
        elif name in ("fsync", "fdatasync") and fd in wal_fds and finished and result.startswith("0"):
            unsynced = False
            verdict.wal_syncs += 1
        elif name in ("write", "writev", "sendmsg", "sendto") and "HTTP/1.1 200" in args and not match["resumed"]:
            verdict.replies += 1
            if unsynced:
                verdict.violations += 1
            elif wrote_since_reply:
                verdict.synced_replies += 1
            wrote_since_reply = False
    return verdict


def test_every_acknowledged_write_is_fsynced_before_its_reply(tmp_path: Path, node_modules: Path) -> None:
    strace = _strace()
    project = copy_project("account", tmp_path)
    server = start_dev(project, "--no-watch")
    trace = tmp_path / "trace.txt"
    tracer = None
    try:
        plane = subprocess.run(
            ["pgrep", "-f", "-P", str(server.proc.pid), "dataplane.mjs"], capture_output=True, text=True, check=True
        ).stdout.split()[0]
        tracer = subprocess.Popen(
            [strace, "-f", "-p", plane, "-e", "trace=openat,pwrite64,fsync,fdatasync,write,writev,sendmsg,sendto",
             "-e", "signal=none", "-s", "48", "-o", str(trace)],
            stderr=subprocess.PIPE, text=True,
        )
        assert tracer.stderr is not None
        for line in tracer.stderr:  # readiness: strace reports each thread it attached to
            if "attached" in line:
                break
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/accounts/sync/deposit", json={"amount": 1000}).status_code == 200
            for i in range(DEBITS):
                reply = client.post("/accounts/sync/debit", json={"amount": 1}).json()
                assert reply == {"account": "sync", "ok": True, "balance": 999 - i}
    finally:
        if tracer is not None:
            tracer.terminate()
            tracer.communicate(timeout=30)
        assert close(server) == 0
    verdict = check_trace(trace.read_text(errors="replace").splitlines())
    assert verdict.violations == 0, verdict
    # Every acknowledged debit wrote WAL frames and was synced before its reply left.
    assert verdict.synced_replies >= DEBITS + 1, verdict
    assert verdict.wal_syncs >= DEBITS + 1, verdict
