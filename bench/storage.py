"""Storage engine benchmark: durable commits/s and commit latency by concurrency.

Each committer loops `await engine.commit((type, name), [Put("k", 16 bytes)])` on its own actor
for a fixed time; every commit is fsync'd (WAL, synchronous=FULL) before it resolves. Prints a
table with the median of RUNS runs per concurrency (each run on a fresh database file).

    python bench/storage.py [--seconds 2] [--runs 3] [--dir PATH]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from telnyx_edge.runtime.storage import Put, StorageEngine  # noqa: E402

CONCURRENCY = (1, 16, 64, 256)
VALUE = b"0123456789abcdef"


async def one_run(path: Path, concurrency: int, seconds: float) -> dict[str, float]:
    engine = StorageEngine(path)
    await engine.start()
    latencies: list[float] = []
    stop_at = 0.0

    async def committer(i: int) -> None:
        actor = ("Bench", f"a{i}")
        while time.perf_counter() < stop_at:
            t0 = time.perf_counter()
            await engine.commit(actor, [Put("k", VALUE)])
            latencies.append(time.perf_counter() - t0)

    # Warm up (page cache, statement cache, WAL file growth), then measure.
    stop_at = time.perf_counter() + 0.3
    await asyncio.gather(*(committer(i) for i in range(concurrency)))
    latencies.clear()
    before = engine.stats
    start = time.perf_counter()
    stop_at = start + seconds
    await asyncio.gather(*(committer(i) for i in range(concurrency)))
    elapsed = time.perf_counter() - start
    after = engine.stats

    # The cost of one committed read from the event loop thread, under no write load.
    reads = 20_000
    t0 = time.perf_counter()
    for i in range(reads):
        engine.get(("Bench", f"a{i % concurrency}"), "k")
    get_us = (time.perf_counter() - t0) / reads * 1e6
    await engine.stop()

    latencies.sort()
    commits = after.commits - before.commits
    transactions = after.transactions - before.transactions
    return {
        "commits_s": commits / elapsed,
        "p50_ms": latencies[len(latencies) // 2] * 1000,
        "p99_ms": latencies[int(len(latencies) * 0.99)] * 1000,
        "per_txn": commits / max(1, transactions),
        "get_us": get_us,
    }


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=None, help="where the database files go")
    parser.add_argument("--concurrency", type=int, nargs="*", default=list(CONCURRENCY))
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="storage-bench-", dir=args.dir))
    print(f"database files in {workdir} ({os.cpu_count()} CPUs), {args.runs} runs x {args.seconds} s")
    print(f"{'conc':>5} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'commits/txn':>12} {'get µs':>7}")
    for concurrency in args.concurrency:
        runs = []
        for run in range(args.runs):
            path = workdir / f"c{concurrency}-r{run}.db"
            runs.append(await one_run(path, concurrency, args.seconds))
            for suffix in ("", "-wal", "-shm", ".lock"):
                Path(f"{path}{suffix}").unlink(missing_ok=True)
        med = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
        print(
            f"{concurrency:>5} {med['commits_s']:>10,.0f} {med['p50_ms']:>8.2f} {med['p99_ms']:>8.2f}"
            f" {med['per_txn']:>12.1f} {med['get_us']:>7.1f}"
        )
    workdir.rmdir()


if __name__ == "__main__":
    asyncio.run(main())
