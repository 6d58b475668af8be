"""Cold start and hot reload of `telnyx-edge dev` (not a test).

Cold start: from the start of the `telnyx-edge dev` process (Python start, bundle, open storage,
start the isolate, bind) until its `Ready on` line, and until the first actor reply: a deposit to
an actor that has never run (activation and a durable write included), sent as soon as the line
is read. Each run starts a new process on the same project.

Hot reload: from a file save until the new code answers over HTTP (watcher debounce, esbuild, new
isolate, swap), for an edit to the fetch handler (src/index.ts, the health route's text) and an
edit to the actor (src/account.ts, a field in balance()'s reply, so the actor must be activated
again on the new code); and the `Reloaded in N ms` figure the runtime prints (rebuild + swap only).
The poll that sees the new code sleeps 1 ms between requests so it does not starve the runtime of
the two cores.

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


def cold_starts(project: Path, runs: int) -> tuple[list[float], list[float]]:
    """(ms to `Ready on`, ms to the first actor reply) of `runs` fresh `dev` processes."""
    ready, first_reply = [], []
    for i in range(runs):
        began = time.perf_counter()
        server = start_server(["dev", "--port", "0", "--no-watch"], cwd=project)
        ready.append((time.perf_counter() - began) * 1000)
        try:
            reply = httpx.post(f"{server.url}/accounts/cold{i}/deposit", json={"amount": 1}, timeout=30)
            first_reply.append((time.perf_counter() - began) * 1000)
            if reply.json() != {"account": f"cold{i}", "balance": 1}:
                raise RuntimeError(f"unexpected first reply: {reply.status_code} {reply.text}")
        finally:
            server.stop()
    return ready, first_reply


def until(client: httpx.Client, path: str, check: str) -> None:
    """Poll `path` until its body contains `check` (requests failing during the swap are retried)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if check in client.get(path).text:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.001)
    raise TimeoutError(f"{path} never answered {check!r}")


def reloads(project: Path, runs: int) -> tuple[list[float], list[float], list[float]]:
    """(ms save to new fetch handler answering, ms save to new actor code answering, `Reloaded in` ms)."""
    index, account = project / "src" / "index.ts", project / "src" / "account.ts"
    index_text, account_text = index.read_text(), account.read_text()
    handler, actor, reported = [], [], []
    server = start_server(["dev", "--port", "0"], cwd=project)
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            client.post("/accounts/reload/deposit", json={"amount": 1}).raise_for_status()
            for i in range(runs):
                index.write_text(index_text.replace('new Response("ok")', f'new Response("ok {i}")'))
                began = time.perf_counter()
                until(client, "/health/liveness", f"ok {i}")
                handler.append((time.perf_counter() - began) * 1000)
                reported.append(float(server.wait_for(r"Reloaded in (\d+) ms").group(1)))

                account.write_text(account_text.replace(
                    "return { balance: await this._stored() };", f"return {{ balance: await this._stored(), code: {i} }};"))
                began = time.perf_counter()
                until(client, "/accounts/reload/balance", f'"code":{i}')
                actor.append((time.perf_counter() - began) * 1000)
                reported.append(float(server.wait_for(r"Reloaded in (\d+) ms").group(1)))
    finally:
        server.stop()
        index.write_text(index_text)
        account.write_text(account_text)
    return handler, actor, reported


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "account"
        shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / "account", project)
        link_node_modules(project)
        ready, first_reply = cold_starts(project, args.runs)
        handler, actor, reported = reloads(project, args.runs)
    print(f"| what | median ms | min-max ms (of {args.runs}) |")
    print("| --- | ---: | ---: |")
    for label, figures in (
        ("cold start to `Ready on`", ready),
        ("cold start to the first actor reply", first_reply),
        ("save to the new fetch handler answering", handler),
        ("save to the new actor code answering", actor),
        ("`Reloaded in` as printed (rebuild + swap)", reported),
    ):
        print(f"| {label} | {statistics.median(figures):.0f} | {min(figures):.0f}-{max(figures):.0f} |")


if __name__ == "__main__":
    main()
