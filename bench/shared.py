"""Durable debits per second through `telnyx-edge serve`, owner versus reference (not a test).

Ships the Account owner and a reference function (binding READONLY, no class) to a temporary
account, starts the real `telnyx-edge serve`, funds the accounts through the owner, then drives
debits with bench/load.mjs through each function's host name. The owner runs its turns in its own
isolate; the reference's calls cross to the owner's isolate through the runtime (one more hop).

    python bench/shared.py [--seconds 4] [--runs 3] [--concurrency 1,64]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.actors import FUNDS, run_load  # noqa: E402
from tests.harness import link_node_modules, run_cli, start_server  # noqa: E402


def make(tmp: Path, name: str, source: str, index: Path | None, env: dict[str, str]) -> Path:
    result = run_cli("new-func", "--actor", f"--name={name}", "--no-install", "--dir", str(tmp), env=env)
    assert result.returncode == 0, result.stderr
    project = tmp / name
    (project / "src" / "counter.ts").unlink()
    for file in (ROOT / "tests" / "fixtures" / "projects" / source / "src").iterdir():
        shutil.copy(file, project / "src" / file.name)
    if index is not None:
        shutil.copy(index, project / "src" / "index.ts")
    binding, type_ = ("ACCOUNT", "Account") if index is None else ("READONLY", "Account")
    text = (project / "telnyx.toml").read_text().replace('"COUNTER"', f'"{binding}"').replace('"Counter"', f'"{type_}"')
    (project / "telnyx.toml").write_text(text)
    link_node_modules(project)
    shipped = run_cli("ship", "-f", str(project), env=env)
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    return project


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", default="1,64")
    parser.add_argument("--accounts", type=int, default=1000)
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        env = {"TELNYX_EDGE_HOME": str(tmp / "home")}
        make(tmp, "account", "ship-owner", None, env)
        make(tmp, "account-readonly", "ship-owner", ROOT / "tests" / "fixtures" / "shared" / "readonly-index.ts", env)
        os.environ.update(env)
        server = start_server(["serve", "--port", "0"], env=env)
        hosts = {m.group(1): m.group(2) for line in server.lines if (m := re.match(r"^\s+(\S+)\s+http://(\S+?):\d+$", line))}
        rows = []
        try:
            with httpx.Client(base_url=server.url, timeout=60, headers={"Host": hosts["account"]}) as client:
                client.post("/accounts/hot/deposit", json={"amount": FUNDS})
                for i in range(args.accounts):
                    client.post(f"/accounts/acct{i}/deposit", json={"amount": FUNDS})
            for function in ("account", "account-readonly"):
                for label, accounts in (("hot", 1), ("spread", args.accounts)):
                    for c in levels:
                        runs = [run_load(server.url, c, args.seconds, accounts, hosts[function]) for _ in range(args.runs)]
                        rows.append((function, label, c, statistics.median(r["rps"] for r in runs),
                                     statistics.median(r["p50_ms"] for r in runs), statistics.median(r["p99_ms"] for r in runs),
                                     sum(int(r["errors"]) for r in runs)))
                        print(f"  {function:<17} {label:<7} c={c:<3} {rows[-1][3]:>8.0f} req/s  p99 {rows[-1][5]:6.2f} ms", file=sys.stderr)
        finally:
            server.stop()
    print(f"median of {args.runs} runs x {args.seconds:g} s each, durable (fsync) commits, via `serve`\n")
    print("| through | workload | concurrency | debits/s | p50 ms | p99 ms | errors |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for function, label, c, rps, p50, p99, errors in rows:
        print(f"| {function} | {label} | {c} | {rps:,.0f} | {p50:.2f} | {p99:.2f} | {errors} |")


if __name__ == "__main__":
    main()
