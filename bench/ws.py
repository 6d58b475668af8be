"""WebSockets through `telnyx-edge dev` (not a test): connect time, and messages per second with
one sender and 100 listeners in one chat room (the spec 9.3 chat, tests/fixtures/projects/chat).

Starts the real `dev` on a temporary copy of the chat project, then runs bench/ws_load.mjs (a Node
client on the runtime's own `ws` package: a Python client would eat the CPU the runtime needs on
a 2-core machine). The sender keeps --window messages unacknowledged; every message is one turn of
the room actor (a storage read and write, committed and fsync'd) and one broadcast to all 101
members. Each figure is the median of --runs runs.

    python bench/ws.py [--listeners 100] [--seconds 3] [--runs 3] [--window 1,16]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import RUNTIME_PACKAGES, link_node_modules, start_server  # noqa: E402

LOAD = ROOT / "bench" / "ws_load.mjs"
KEYS = ("connect_p50_ms", "connect_p99_ms", "messages_per_s", "deliveries_per_s", "ack_p50_ms", "ack_p99_ms")


def run_load(url: str, room: str, listeners: int, seconds: float, window: int) -> dict[str, float]:
    env = dict(os.environ)
    env.setdefault("TELNYX_EDGE_NODE_PACKAGES", str(RUNTIME_PACKAGES))
    out = subprocess.run(
        ["node", str(LOAD), url.replace("http://", "ws://") + f"/rooms/{room}", str(listeners), str(seconds), str(window)],
        capture_output=True, text=True, check=True, env=env, timeout=120,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--listeners", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--window", default="1,16", help="messages the sender keeps unacknowledged")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "chat"
        shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / "chat", project)
        link_node_modules(project)
        server = start_server(["dev", "--port", "0", "--no-watch"], cwd=project, env={"TELNYX_EDGE_HOME": str(Path(tmp) / "home")})
        try:
            print(f"| window | connect p50 ms | connect p99 ms | messages/s | deliveries/s | ack p50 ms | ack p99 ms |")
            print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
            for window in (int(w) for w in args.window.split(",")):
                runs = [run_load(server.url, f"bench-{window}-{i}", args.listeners, args.seconds, window) for i in range(args.runs)]
                med = {k: statistics.median(r[k] for r in runs) for k in KEYS}
                print(
                    f"| {window} | {med['connect_p50_ms']:.2f} | {med['connect_p99_ms']:.2f} | {med['messages_per_s']:,.0f} "
                    f"| {med['deliveries_per_s']:,.0f} | {med['ack_p50_ms']:.2f} | {med['ack_p99_ms']:.2f} |"
                )
        finally:
            server.stop()


if __name__ == "__main__":
    main()
