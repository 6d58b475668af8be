"""Isolation between actors of one function (not a test): one actor burns the CPU for 1.5 s while
calls to an actor on another Worker are timed one after another; prints their median and max.
The end-to-end test (tests/e2e/test_isolation.py) asserts a generous bound; this prints figures.

    python bench/isolation.py [--runs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.dev_helpers import copy_project, value  # noqa: E402
from tests.e2e.test_isolation import names_on_each_slot  # noqa: E402
from tests.harness import start_server  # noqa: E402

BUSY_MS = 1500


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = copy_project("lab", Path(tmp))
        server = start_server(["dev", "--port", "0", "--no-watch", "--workers", str(args.workers)], cwd=project)
        try:
            timings: list[float] = []
            for run in range(args.runs):
                busy, calm = names_on_each_slot(f"bench{run}")[:2]
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    value(client, calm, "incr")
                    done = threading.Event()
                    threading.Thread(target=lambda: (value(httpx.Client(base_url=server.url, timeout=30), busy, "busy", BUSY_MS), done.set()), daemon=True).start()
                    server.wait_for(rf"busy {busy} for {BUSY_MS} ms")
                    while not done.is_set():
                        t0 = time.perf_counter()
                        value(client, calm, "incr")
                        timings.append((time.perf_counter() - t0) * 1000)
        finally:
            server.stop()
    print(f"workers={args.workers}: {len(timings)} calls to another actor while one burned {BUSY_MS} ms: "
          f"median {statistics.median(timings):.2f} ms, max {max(timings):.1f} ms")


if __name__ == "__main__":
    main()
