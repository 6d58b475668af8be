"""The runtime core with two functions at once (what `serve` will build on): each function has
its own isolate and bindings, the Account type has one owner, and the reference function's stub
calls reach the owner's activations through the registry (spec 9.2)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from telnyx_edge import bundle
from telnyx_edge.runtime import events
from telnyx_edge.runtime.jsmodule import link_runtime
from telnyx_edge.runtime.core import RuntimeCore
from telnyx_edge.runtime.registry import FunctionSpec, Limits, Registry
from tests.e2e.dev_helpers import copy_project
from tests.harness import RUNTIME_PACKAGES

pytestmark = pytest.mark.e2e


def _spec(project: Path, name: str, host: str, owned: tuple[str, ...], bindings: dict[str, str]) -> FunctionSpec:
    builds = project / ".telnyx" / "dev" / "build"
    link_runtime(builds)
    result = bundle.build(project, "src/index.ts", builds / "1")
    return FunctionSpec(name=name, bundle_path=result.js_path, bindings=bindings, owned_types=owned, hosts=(host,))


@contextlib.asynccontextmanager
async def running(
    state_dir: Path, limits: Limits, report: events.Reporter, *specs: FunctionSpec
) -> AsyncIterator[tuple[Registry, str]]:
    """A runtime core without the CLI: state, registry with `specs`, and HTTP ingress on a free port."""
    core = RuntimeCore(state_dir, limits, report, packages_dir=RUNTIME_PACKAGES)
    registry = await core.open()
    try:
        for spec in specs:
            await registry.add(spec)
        yield registry, await core.serve("127.0.0.1", 0)
    finally:
        await core.stop()


def test_reference_function_reaches_the_owners_actor(tmp_path: Path, node_modules: Path) -> None:
    owner = _spec(copy_project("account", tmp_path), "account", "own.localhost", ("Account",), {"ACCOUNT": "Account"})
    reference = _spec(copy_project("account-readonly", tmp_path), "account-readonly", "ref.localhost", (), {"READONLY": "Account"})
    seen: list[events.Event] = []

    async def scenario() -> None:
        async with running(tmp_path / "state", Limits(method_timeout_ms=2000), seen.append, owner, reference) as (registry, url):
            assert registry.unresolved(reference) == ()
            async with httpx.AsyncClient(base_url=url, timeout=30) as client:
                own = {"host": "own.localhost"}
                ref = {"host": "ref.localhost"}
                deposit = await client.post("/accounts/carol/deposit", json={"amount": 100}, headers=own)
                assert deposit.text == '{"account":"carol","balance":100}'
                shared = await client.get("/accounts/carol/balance", headers=ref)
                assert shared.json() == {"account": "carol", "balance": 100, "via": "READONLY->Account(shared)"}
                # Concurrent debits through the owner while the reference reads: one activation,
                # one turn at a time. Each debit waits between its check and its write, so turns
                # that interleaved would spend one balance twice.
                debits = [client.post("/accounts/carol/debit-after-pause", json={"amount": 1}, headers=own) for _ in range(50)]
                reads = [client.get("/accounts/carol/balance", headers=ref) for _ in range(50)]
                responses = await asyncio.gather(*debits, *reads)
                assert [r.text for r in responses if r.status_code != 200] == []
                results = [r.json() for r in responses]
                assert sorted(r["balance"] for r in results[:50]) == list(range(50, 100))
                assert all(r["ok"] is True for r in results[:50])
                # Each read saw a committed balance, never one a debit had half made.
                assert all(set(r) == {"account", "balance", "via"} and 50 <= r["balance"] <= 100 for r in results[50:])
                final = await client.get("/accounts/carol/balance", headers=ref)
                assert final.json() == {"account": "carol", "balance": 50, "via": "READONLY->Account(shared)"}
                unknown = await client.get("/accounts/carol/balance", headers={"host": "nobody.localhost"})
                assert unknown.status_code == 404 and unknown.text.startswith("FunctionNotFound")

    asyncio.run(scenario())


@pytest.fixture
def fail_commit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The runtime's fault hook: while this file names a prefix, matching actors' COMMITs fail."""
    flag = tmp_path / "fail-commit"
    monkeypatch.setenv("TELNYX_EDGE_TEST_FAIL_COMMIT", str(flag))
    return flag


def test_a_failed_commit_fails_the_call_and_drops_the_cache(tmp_path: Path, node_modules: Path, fail_commit: Path) -> None:
    lab = _spec(copy_project("lab", tmp_path), "lab", "lab.localhost", ("Lab",), {"LAB": "Lab"})

    async def scenario() -> None:
        async with running(tmp_path / "state", Limits(method_timeout_ms=2000), lambda event: None, lab) as (registry, url):
            async with httpx.AsyncClient(base_url=url, headers={"host": "lab.localhost"}, timeout=30) as client:
                async def rpc(method: str, *args: object) -> dict[str, object]:
                    response = await client.post(f"/rpc/doomed/{method}", json={"args": list(args)})
                    result: dict[str, object] = response.json()
                    return result

                assert (await rpc("put", "k", 1))["ok"] is True
                fail_commit.write_text("doomed")
                failed = await rpc("put", "k", 2)
                assert failed["name"] == "ActorOutputGateError"
                assert "disk is full (simulated)" in str(failed["message"])
                fail_commit.unlink()
                # The failed value was in the activation's cache; it must not be visible now.
                assert await rpc("get", "k") == {"ok": True, "value": 1}
                assert (await rpc("put", "k", 3))["ok"] is True
                assert await rpc("get", "k") == {"ok": True, "value": 3}

    asyncio.run(scenario())


def test_turns_queued_behind_a_failed_commit_fail_with_it(tmp_path: Path, node_modules: Path, fail_commit: Path) -> None:
    lab = _spec(copy_project("lab", tmp_path), "lab", "lab.localhost", ("Lab",), {"LAB": "Lab"})

    async def scenario() -> None:
        async with running(tmp_path / "state", Limits(method_timeout_ms=2000), lambda event: None, lab) as (registry, url):
            async with httpx.AsyncClient(base_url=url, headers={"host": "lab.localhost"}, timeout=30) as client:
                async def incr() -> dict[str, object]:
                    response = await client.post("/rpc/doomed-counter/incr", json={"args": []})
                    result: dict[str, object] = response.json()
                    return result

                assert await incr() == {"ok": True, "value": 1}
                fail_commit.write_text("once\ndoomed")  # one commit fails; storage works again right after
                results = await asyncio.gather(*(incr() for _ in range(40)))
                stored = (await client.post("/rpc/doomed-counter/get", json={"args": ["count"]})).json()["value"]
        ok = sorted(int(r["value"]) for r in results if r["ok"])  # type: ignore[call-overload]
        failed = [r for r in results if not r["ok"]]
        assert failed and all(r["name"] == "ActorOutputGateError" for r in failed)
        # Turns that read the failed write never committed: what is stored is exactly the
        # increments that were acknowledged, counted from the last durable value.
        assert ok == list(range(2, 2 + len(ok)))
        assert stored == 1 + len(ok)

    asyncio.run(scenario())


def test_idle_activations_are_evicted_and_storage_stays(tmp_path: Path, node_modules: Path) -> None:
    lab = _spec(copy_project("lab", tmp_path), "lab", "lab.localhost", ("Lab",), {"LAB": "Lab"})

    async def scenario() -> None:
        async with running(tmp_path / "state", Limits(method_timeout_ms=2000, idle_ms=150), lambda event: None, lab) as (registry, url):
            async with httpx.AsyncClient(base_url=url, headers={"host": "lab.localhost"}, timeout=30) as client:
                async def call(method: str, *args: object) -> object:
                    return (await client.post(f"/rpc/idler/{method}", json={"args": list(args)})).json()["value"]

                await call("put", "kept", True)
                assert [await call("memory"), await call("memory")] == [1, 2]
                # Idleness is a span of time by definition: nothing to wait on but the clock.
                await asyncio.sleep(0.6)
                assert await call("memory") == 1  # a fresh activation: the field was a cache
                assert await call("get", "kept") is True

    asyncio.run(scenario())


def test_calls_across_isolates_and_cycles_through_them(tmp_path: Path, node_modules: Path) -> None:
    # Lab's GHOST binding points at Peer, which another function owns and which calls Lab back.
    lab = _spec(copy_project("lab", tmp_path), "lab", "lab.localhost", ("Lab",), {"LAB": "Lab", "GHOST": "Peer"})
    peer = _spec(copy_project("peer", tmp_path), "peer", "peer.localhost", ("Peer",), {"PEER": "Peer", "LAB": "Lab"})

    async def scenario() -> None:
        async with running(tmp_path / "state", Limits(method_timeout_ms=2000), lambda event: None, lab) as (registry, url):
            async with httpx.AsyncClient(base_url=url, headers={"host": "lab.localhost"}, timeout=30) as client:
                # Until a function owns Peer, a call to it fails with a named error.
                unowned = (await client.post("/rpc/early/ghost", json={"args": []})).json()
                assert unowned == {
                    "ok": False, "name": "ActorTypeNotFoundError",
                    "message": "no running function owns actor type 'Peer' (export the class from a function's main)",
                }
                await registry.add(peer)
                across = (await client.post("/rpc/other/ghost", json={"args": []})).json()
                assert across == {"ok": True, "value": {"peer": "x", "lab": "v1"}}
                started = asyncio.get_running_loop().time()
                cycle = (await client.post("/rpc/ghost/ghost", json={"args": []})).json()
                assert cycle["name"] == "ActorReentrancyError"
                assert cycle["message"].startswith('Lab("ghost") -> Peer("x") -> Lab("ghost")')
                assert asyncio.get_running_loop().time() - started < 1.0  # not the 2 s budget

    asyncio.run(scenario())
