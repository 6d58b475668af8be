"""Our `telnyx-edge dev` side by side with Cloudflare's miniflare and workerd (not a test).

One run starts all three on free loopback ports, each on the same Account actor: ours is the spec
9.1 project bench/actors.py uses (tests/fixtures/projects/account, or account-sql), the peers run
bench/peers/worker.mjs, the same Account as a SQLite-backed Durable Object stored on disk. All
accounts are funded first (1,000 + `hot`), then one load client, wrk with bench/peers/load.lua,
drives each runtime in turn on every cell: the health route (a trivial response), debits on one
hot actor, debits spread over 1,000 actors, at 1, 16 and 64 connections. Cells are interleaved
(for each run, each cell, each runtime) so drifting load on a shared machine hits all three alike;
each figure is the median of --runs runs of --seconds after --warmup seconds.

wrk is a C client (epoll, one thread per core); bench/load.mjs, the Node client of
bench/actors.py, spends about 50-100 µs of CPU per request and cannot drive a 20,000/s route from a
2-core machine. The client's own CPU (its rusage) and the machine's (from /proc/stat) are recorded
for every cell so a client-bound cell shows. So is the CPU of the runtime's processes and of
everything else: on a shared machine, a cell in which other work used more than --max-other % of a
core is measured again (up to --retries times); each attempt first waits, up to --quiet-wait s,
for a quiet half second. A cell still disturbed is marked with a dagger.

    (cd bench/peers && npm ci)            # once: miniflare + workerd, pinned in package-lock.json
    python bench/peers/run.py [--seconds 3] [--runs 3] [--warmup 1] [--concurrency 1,16,64]
        [--accounts 1000] [--storage kv|sql] [--runtimes ours,miniflare,workerd]
        [--max-other 30] [--retries 1] [--quiet-wait 10] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.harness import link_node_modules, start_server  # noqa: E402

FUNDS = 10**12
LUA = HERE / "load.lua"
PROJECTS = {"kv": "account", "sql": "account-sql"}
WORKERD_CONFIGS = {"kv": "workerd.capnp", "sql": "workerd-sql.capnp"}
MINIFLARE_CLASSES = {"kv": "Account", "sql": "AccountSql"}
PEERS = ("miniflare", "workerd")


@dataclass
class Runtime:
    """One running runtime: its base URL and how to stop it."""

    name: str
    url: str
    stop: Callable[[], None]
    pid: int  # the runtime's first process; its CPU is counted with all its descendants'
    results: dict[tuple[str, int], list[dict[str, float]]] = field(default_factory=dict)


def node_eval(code: str) -> str:
    return subprocess.run(["node", "-e", code], cwd=HERE, capture_output=True, text=True, check=True).stdout.strip()


def versions() -> dict[str, str]:
    import telnyx_edge

    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    return {
        "telnyx-edge": f"{telnyx_edge.__version__} ({commit})",
        "miniflare": node_eval("console.log(require('miniflare/package.json').version)"),
        "workerd": node_eval("console.log(require('workerd/package.json').version)"),
        "node": node_eval("console.log(process.version)"),
        "python": platform.python_version(),
        "wrk": subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split(" [")[0],
    }


def machine() -> dict[str, Any]:
    model = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.machine())
    return {"cpus": os.cpu_count(), "cpu": model, "kernel": platform.release()}


def stop_group(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    """Signal the process group, wait, then SIGKILL it (workerd children of miniflare included)."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited ({proc.returncode}) before answering")
        try:
            if httpx.get(f"{url}/health/liveness", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


def start_ours(storage: str, tmp: Path) -> Runtime:
    project = tmp / "ours" / "account"
    shutil.copytree(ROOT / "tests" / "fixtures" / "projects" / PROJECTS[storage], project)
    link_node_modules(project)
    server = start_server(["dev", "--port", "0", "--no-watch"], cwd=project)

    def stop() -> None:
        server.stop()

    return Runtime("ours", server.url, stop, server.proc.pid)


def start_workerd(storage: str, tmp: Path) -> Runtime:
    binary = node_eval("import('workerd').then((m) => console.log(m.default.default))")
    storage_dir = tmp / "workerd"
    storage_dir.mkdir()
    # We bind the socket (port 0: the kernel picks a free port) and hand workerd the descriptor.
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1024)
    port = listener.getsockname()[1]
    proc = subprocess.Popen(
        [binary, "serve", f"--socket-fd=http={listener.fileno()}", f"--directory-path=do-disk={storage_dir}",
         WORKERD_CONFIGS[storage]],
        cwd=HERE, pass_fds=[listener.fileno()], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    listener.close()
    url = f"http://127.0.0.1:{port}"
    wait_ready(url, proc)
    return Runtime("workerd", url, lambda: stop_group(proc), proc.pid)


def start_miniflare(storage: str, tmp: Path) -> Runtime:
    proc = subprocess.Popen(
        ["node", str(HERE / "miniflare.mjs"), str(tmp / "miniflare"), MINIFLARE_CLASSES[storage]],
        cwd=HERE, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, start_new_session=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline().decode()
    if not line.startswith("Ready on "):
        stop_group(proc)
        raise RuntimeError(f"miniflare did not start: {line!r}")
    url = line.split()[-1]
    wait_ready(url, proc)
    return Runtime("miniflare", url, lambda: stop_group(proc), proc.pid)


STARTERS = {"ours": start_ours, "miniflare": start_miniflare, "workerd": start_workerd}


def fund(url: str, accounts: int) -> None:
    with httpx.Client(base_url=url, timeout=60) as client:
        for name in ["hot", *(f"acct{i}" for i in range(accounts))]:
            reply = client.post(f"/accounts/{name}/deposit", json={"amount": FUNDS})
            reply.raise_for_status()


TICK = os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU-seconds the whole machine has spent busy (all cores), from /proc/stat."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / TICK  # less idle and iowait; guest is within user


def tree_cpu(root: int) -> float:
    """CPU-seconds used so far by a live process and its live descendants (all their threads).
    By tree, not process group: the runtime may start its isolates in sessions of their own."""
    parent, ticks = {}, {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        pid = int(stat.parent.name)
        parent[pid] = int(fields[1])  # ppid; utime and stime are fields 11 and 12 after the name
        ticks[pid] = int(fields[11]) + int(fields[12])
    total = 0
    for pid, own in ticks.items():
        walk = pid
        while walk > 1 and walk != root:
            walk = parent.get(walk, 0)
        if walk == root:
            total += own
    return total / TICK


def run_wrk(url: str, workload: str, connections: int, seconds: int, accounts: int, pid: int = 0) -> dict[str, float]:
    """One wrk run; returns req/s, p50/p99 in ms, errors, and the CPU (in % of one core) that the
    client, the runtime (process `pid` and its descendants) and everything else on the machine used meanwhile."""
    threads = min(connections, os.cpu_count() or 1)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy0, runtime0 = machine_busy(), tree_cpu(pid) if pid else 0.0
    began = time.perf_counter()
    out = subprocess.run(
        ["wrk", f"-t{threads}", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s", "-s", str(LUA), url,
         "--", "health" if workload == "health" else "debit", str(accounts)],
        capture_output=True, text=True, check=True,
    )
    wall = time.perf_counter() - began
    busy1, runtime1 = machine_busy(), tree_cpu(pid) if pid else 0.0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    raw = json.loads(out.stdout.strip().splitlines()[-1])
    client_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {
        "rps": raw["requests"] / (raw["duration_us"] / 1e6),
        "p50_ms": raw["p50_us"] / 1000, "p99_ms": raw["p99_us"] / 1000,
        "errors": raw["errors"], "requests": raw["requests"],
        "client_cpu_pct": 100 * client_cpu / wall,
        "runtime_cpu_pct": 100 * (runtime1 - runtime0) / wall,
        # The rest of the machine's busy time: other people's work on a shared machine, the kernel's
        # interrupt work, and this script (a few %).
        "other_cpu_pct": max(0.0, 100 * ((busy1 - busy0) - client_cpu - (runtime1 - runtime0)) / wall),
    }


WORKLOADS = {"health": ("health route", 1), "hot": ("hot debit (1 actor)", 1), "spread": ("spread debit", 0)}


def measure(runtimes: list[Runtime], levels: list[int], args: argparse.Namespace) -> None:
    for run in range(args.runs):
        for workload in WORKLOADS:
            accounts = args.accounts if workload == "spread" else 1
            for c in levels:
                for rt in runtimes:
                    for attempt in range(1 + args.retries):
                        wait_quiet(args.max_other, args.quiet_wait)
                        if args.warmup:
                            run_wrk(rt.url, workload, c, args.warmup, accounts)
                        result = run_wrk(rt.url, workload, c, args.seconds, accounts, rt.pid)
                        result["attempts"] = attempt + 1
                        print(f"  run {run + 1} {workload:<6} c={c:<3} {rt.name:<9} {result['rps']:>8.0f} req/s  "
                              f"p50 {result['p50_ms']:6.2f}  p99 {result['p99_ms']:6.2f} ms  errors {result['errors']:.0f}  "
                              f"CPU % of a core: wrk {result['client_cpu_pct']:3.0f}, runtime {result['runtime_cpu_pct']:3.0f}, "
                              f"other {result['other_cpu_pct']:3.0f}", file=sys.stderr)
                        if result["other_cpu_pct"] <= args.max_other:
                            break
                    rt.results.setdefault((workload, c), []).append(result)


def wait_quiet(max_other: float, limit: float) -> None:
    """Wait (up to `limit` s) for a half second in which the machine, idle of ours, is busy less than
    `max_other` % of one core: a shared machine's other work then falls on fewer cells."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        before = machine_busy()
        time.sleep(0.5)
        if 100 * (machine_busy() - before) / 0.5 <= max_other:
            return


def summarize(runtimes: list[Runtime], levels: list[int], args: argparse.Namespace) -> list[dict[str, Any]]:
    rows = []
    for workload, (label, _) in WORKLOADS.items():
        for c in levels:
            row: dict[str, Any] = {"workload": workload, "label": label if workload != "spread" else f"spread debit ({args.accounts:,} actors)",
                                   "connections": c}
            for rt in runtimes:
                runs = rt.results[(workload, c)]
                row[rt.name] = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
                row[rt.name]["errors"] = sum(r["errors"] for r in runs)
            row["contended"] = any(row[rt.name]["other_cpu_pct"] > args.max_other for rt in runtimes)
            peers = [row[p]["rps"] for p in PEERS if p in row]
            if "ours" in row and peers:
                row["ratio"] = row["ours"]["rps"] / max(peers)
            rows.append(row)
    return rows


def table(rows: list[dict[str, Any]], names: list[str]) -> str:
    head = "| workload | conns | " + " | ".join(f"{n} req/s (p50 / p99 ms)" for n in names)
    has_ratio = "ours" in names and any(p in names for p in PEERS)
    lines = [head + (" | ours / better peer |" if has_ratio else " |"),
             "| --- | ---: | " + " | ".join("---:" for _ in names) + (" | ---: |" if has_ratio else " |")]
    for row in rows:
        cells = [f"{row[n]['rps']:,.0f} ({row[n]['p50_ms']:.2f} / {row[n]['p99_ms']:.2f})" for n in names]
        ratio = f" | {row['ratio']:.2f}x |" if has_ratio else " |"
        mark = " †" if row["contended"] else ""
        lines.append(f"| {row['label']}{mark} | {row['connections']} | " + " | ".join(cells) + ratio)
    return "\n".join(lines)


def client_table(rows: list[dict[str, Any]], names: list[str]) -> str:
    lines = ["| workload | conns | " + " | ".join(f"{n}: wrk / runtime / other" for n in names) + " |",
             "| --- | ---: | " + " | ".join("---:" for _ in names) + " |"]
    for row in rows:
        cells = [f"{row[n]['client_cpu_pct']:.0f} / {row[n]['runtime_cpu_pct']:.0f} / {row[n]['other_cpu_pct']:.0f}" for n in names]
        lines.append(f"| {row['label']} | {row['connections']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=3, help="measured seconds per cell and run (whole seconds: wrk)")
    parser.add_argument("--runs", type=int, default=3, help="runs per cell; each figure is their median")
    parser.add_argument("--warmup", type=int, default=1, help="seconds of unmeasured load before each cell, 0 for none")
    parser.add_argument("--concurrency", default="1,16,64", help="connections, comma-separated")
    parser.add_argument("--accounts", type=int, default=1000, help="actors of the spread workload")
    parser.add_argument("--storage", choices=sorted(PROJECTS), default="kv",
                        help="kv: the Account on storage.get/put; sql: the Account on sql.exec")
    parser.add_argument("--runtimes", default="ours,miniflare,workerd")
    parser.add_argument("--max-other", type=float, default=30,
                        help="%% of one core that other work on the machine may use during a cell before it is retried")
    parser.add_argument("--retries", type=int, default=1, help="repeats of a cell that other work disturbed")
    parser.add_argument("--quiet-wait", type=float, default=10,
                        help="seconds to wait at most, before each cell, for the machine to be quiet (0: do not wait)")
    parser.add_argument("--json", type=Path, help="also write the figures, versions and machine to this file")
    args = parser.parse_args()
    levels = [int(c) for c in args.concurrency.split(",")]
    names = [n for n in args.runtimes.split(",") if n]
    unknown = [n for n in names if n not in STARTERS]
    if unknown:
        parser.error(f"unknown runtime {unknown[0]!r}: choose from {', '.join(STARTERS)}")
    if any(n in PEERS for n in names) and not (HERE / "node_modules" / "miniflare").is_dir():
        sys.exit("❌ miniflare and workerd are not installed: run `npm ci` in bench/peers first")
    if shutil.which("wrk") is None:
        sys.exit("❌ wrk is not installed: `apt-get install wrk` (Debian/Ubuntu) or build it from source")

    load_before = os.getloadavg()
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    runtimes: list[Runtime] = []
    with tempfile.TemporaryDirectory() as raw:
        tmp = Path(raw)
        try:
            for name in names:
                runtimes.append(STARTERS[name](args.storage, tmp))
                print(f"  {name} ready on {runtimes[-1].url}; funding {args.accounts + 1} accounts", file=sys.stderr)
                fund(runtimes[-1].url, args.accounts)
            measure(runtimes, levels, args)
        finally:
            for rt in runtimes:
                rt.stop()
    rows = summarize(runtimes, levels, args)
    info = {"date": started, "versions": versions(), "machine": machine(), "storage": args.storage,
            "seconds": args.seconds, "runs": args.runs, "warmup": args.warmup, "max_other_pct": args.max_other,
            "load_average_before": load_before, "load_average_after": os.getloadavg()}
    print(f"{info['date']}; {args.storage} Account; median of {args.runs} runs x {args.seconds} s "
          f"(after {args.warmup} s warm-up); client wrk, closed loop, keep-alive")
    print("versions: " + ", ".join(f"{k} {v}" for k, v in info["versions"].items()))
    print(f"machine: {info['machine']['cpus']} CPUs ({info['machine']['cpu']}), Linux {info['machine']['kernel']}; "
          f"load average before {load_before[0]:.2f}, after {info['load_average_after'][0]:.2f}\n")
    print(table(rows, names))
    if any(row["contended"] for row in rows):
        print(f"\n† other work on the machine used more than {args.max_other:g} % of a core during this cell "
              f"(median of the runs, after up to {args.retries} retries): its figures are lower than on a quiet machine.")
    print()
    print(f"CPU used during each cell, in % of one core ({os.cpu_count()} cores = {100 * (os.cpu_count() or 1)} %): the client "
          "(wrk), the runtime's processes, and everything else on the machine (other work, kernel, this script)\n")
    print(client_table(rows, names))
    if args.json:
        args.json.write_text(json.dumps({**info, "rows": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
