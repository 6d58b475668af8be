"""Cold start and hot reload of `telnyx-edge dev` (not a test).

Cold start: process start until the `Ready on` line (bundle, open storage, start the isolate,
bind). Reload: a source edit until the new code answers over HTTP (debounce + esbuild + new
isolate + swap), and the `Reloaded in N ms` figure the runtime reports (rebuild + swap only).

    python bench/dev_lifecycle.py [--runs 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import link_node_modules, start_server  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "account"
        shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / "account", project)
        link_node_modules(project)
        starts = []
        for _ in range(args.runs):
            began = time.perf_counter()
            server = start_server(["dev", "--port", "0", "--no-watch"], cwd=project)
            starts.append((time.perf_counter() - began) * 1000)
            server.stop()
        server = start_server(["dev", "--port", "0"], cwd=project)
        source = project / "src" / "index.ts"
        original = source.read_text()
        visible, reported = [], []
        try:
            with httpx.Client(base_url=server.url) as client:
                for i in range(args.runs):
                    source.write_text(original.replace('new Response("ok")', f'new Response("ok {i}")'))
                    began = time.perf_counter()
                    while client.get("/health/liveness").text != f"ok {i}":
                        pass
                    visible.append((time.perf_counter() - began) * 1000)
                    reported.append(float(server.wait_for(r"Reloaded in (\d+) ms").group(1)))
        finally:
            server.stop()
    print(f"| what | median ms | min-max ms (of {args.runs}) |")
    print("| --- | ---: | ---: |")
    for label, figures in (
        ("cold start to `Ready on`", starts),
        ("edit to new code answering", visible),
        ("`Reloaded in` (rebuild + swap)", reported),
    ):
        print(f"| {label} | {statistics.median(figures):.0f} | {min(figures):.0f}-{max(figures):.0f} |")


if __name__ == "__main__":
    main()
