"""Durable debits per second through `telnyx-edge dev` (not a test).

Starts the real `telnyx-edge dev` on the spec 9.1 Account project (a temporary copy, fsync on),
funds the accounts, then drives it with bench/load.mjs (a Node keep-alive client: a Python
client would eat the CPU the runtime needs on a 2-core machine) at concurrency 1, 16 and 64,
on one hot account and spread over 1,000 accounts. Each cell is the median of --runs runs.
`--storage kv,sql` runs the KV Account (`storage.get/put`) and the SQL Account (balance in a
table, debit as one conditional UPDATE), each under its own `dev`.

    python bench/actors.py [--seconds 5] [--runs 3] [--concurrency 1,16,64] [--storage kv,sql] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import link_node_modules, start_server  # noqa: E402

LOAD = ROOT / "bench" / "load.mjs"
FUNDS = 10**12


def run_load(url: str, concurrency: int, seconds: float, accounts: int, host: str = "") -> dict[str, float]:
    out = subprocess.run(
        ["node", str(LOAD), url, str(concurrency), str(seconds), str(accounts), "1", *([host] if host else [])],
        capture_output=True, text=True, check=True,
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", default="1,16,64")
    parser.add_argument("--accounts", type=int, default=1000)
    parser.add_argument("--only", choices=["hot", "spread"], help="run one workload only")
    parser.add_argument("--storage", default="kv,sql", help="kv, sql or both: which Account to run")
    parser.add_argument("--workers", type=int, help="Worker threads per function (dev --workers; default: one per CPU)")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    rows: list[tuple[str, int, float, float, float, int]] = []
    for storage in args.storage.split(","):
        rows += bench_project(storage, levels, args)
    return rows


PROJECTS = {"kv": "account", "sql": "account-sql"}


def bench_project(storage: str, levels: list[int], args: argparse.Namespace) -> list[tuple[str, int, float, float, float, int]]:
    with tempfile.TemporaryDirectory() as tmp:
        project = Path(tmp) / "account"
        shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / PROJECTS[storage], project)
        link_node_modules(project)
        workers = ["--workers", str(args.workers)] if args.workers else []
        server = start_server(["dev", "--port", "0", "--no-watch", *workers], cwd=project)
        try:
            with httpx.Client(base_url=server.url, timeout=60) as client:
                client.post("/accounts/hot/deposit", json={"amount": FUNDS})
                for i in range(args.accounts):
                    client.post(f"/accounts/acct{i}/deposit", json={"amount": FUNDS})
            rows = []
            workloads = [("hot", f"{storage} hot (1 account)", 1), ("spread", f"{storage} spread ({args.accounts} accounts)", args.accounts)]
            for key, label, accounts in workloads:
                if args.only and key != args.only:
                    continue
                for c in levels:
                    runs = [run_load(server.url, c, args.seconds, accounts) for _ in range(args.runs)]
                    errors = sum(int(r["errors"]) for r in runs)
                    rows.append((
                        label, c, statistics.median(r["rps"] for r in runs),
                        statistics.median(r["p50_ms"] for r in runs),
                        statistics.median(r["p99_ms"] for r in runs), errors,
                    ))
                    print(f"  {label:<24} c={c:<3} {rows[-1][2]:>8.0f} req/s  p50 {rows[-1][3]:6.2f} ms  p99 {rows[-1][4]:6.2f} ms", file=sys.stderr)
        finally:
            server.stop()
            if server.proc.stdout is not None:
                server.proc.stdout.close()

    return rows


if __name__ == "__main__":
    main()
