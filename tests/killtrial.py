"""One kill -9 trial: durable debits under load, SIGKILL of the runtime mid-flight, restart, and
the balances checked against what was acknowledged. Used by a test (a few trials) and by
bench/killtest.py (20 trials and a tally)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.harness import ServerProcess, start_server

START = 1_000_000


@dataclass(frozen=True)
class Trial:
    accounts: int
    acked: dict[str, int]  # debits acknowledged per account
    attempted: dict[str, int]  # debits sent per account (acknowledged or not)
    balances: dict[str, int]  # after the restart

    @property
    def lost(self) -> int:
        """Acknowledged debits missing after the restart (must be 0)."""
        return sum(max(0, self.balances[a] - (START - self.acked[a])) for a in self.balances)

    @property
    def phantom(self) -> int:
        """Debits applied that were never even sent (must be 0)."""
        return sum(max(0, (START - self.attempted[a]) - self.balances[a]) for a in self.balances)

    @property
    def total_acked(self) -> int:
        return sum(self.acked.values())


def _dev(project: Path, state: Path) -> ServerProcess:
    return start_server(["dev", "--port", "0", "--no-watch", "--state", str(state)], cwd=project)


def run_trial(project: Path, state: Path, *, accounts: int = 4, kill_after: int = 300, workers: int = 32) -> Trial:
    """Fund `accounts` accounts, debit them from `workers` clients, SIGKILL after `kill_after` acks."""
    names = [f"k{i}" for i in range(accounts)]
    first = _dev(project, state)
    acked = dict.fromkeys(names, 0)
    attempted = dict.fromkeys(names, 0)
    try:
        with httpx.Client(base_url=first.url, timeout=30) as client:
            for name in names:
                assert client.post(f"/accounts/{name}/deposit", json={"amount": START}).json()["balance"] == START

        async def load() -> None:
            killed = asyncio.Event()
            total = 0

            async def worker(client: httpx.AsyncClient, n: int) -> None:
                nonlocal total
                i = n
                while not killed.is_set():
                    name = names[i % accounts]
                    i += workers
                    attempted[name] += 1
                    try:
                        response = await client.post(f"/accounts/{name}/debit", json={"amount": 1})
                        ok = response.json()["ok"] is True
                    except (httpx.HTTPError, ValueError):
                        return
                    if ok:
                        acked[name] += 1
                        total += 1
                    if total >= kill_after and not killed.is_set():
                        killed.set()
                        first.kill()  # SIGKILL of the runtime and its isolate while others are in flight

            limits = httpx.Limits(max_connections=workers)
            async with httpx.AsyncClient(base_url=first.url, timeout=10, limits=limits) as client:
                await asyncio.gather(*(worker(client, n) for n in range(workers)))

        asyncio.run(load())
    finally:
        first.kill()
    second = _dev(project, state)
    try:
        with httpx.Client(base_url=second.url, timeout=30) as client:
            balances = {name: int(client.get(f"/accounts/{name}/balance").json()["balance"]) for name in names}
    finally:
        second.stop()
    return Trial(accounts, acked, attempted, balances)
