"""The seed's shared-actor walkthrough with our commands: an owner and a reference function on
one account reach the same durable Account actor, under `serve` and under `dev --with`."""

from __future__ import annotations

import asyncio
import hashlib
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import tomlkit

from telnyx_edge.account import open_account
from tests.e2e.dev_helpers import hosts_of
from tests.harness import ROOT, ServerProcess, link_node_modules, run_cli, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FIXTURES = ROOT / "tests" / "fixtures"


def set_actor(project: Path, binding: str, type_: str) -> None:
    path = project / "telnyx.toml"
    doc = tomlkit.parse(path.read_text())
    doc["actors"][0]["binding"] = binding  # type: ignore[index]
    doc["actors"][0]["type"] = type_  # type: ignore[index]
    path.write_text(tomlkit.dumps(doc))


def scaffold(parent: Path, name: str) -> Path:
    result = run_cli("new-func", "--actor", f"--name={name}", "--no-install", cwd=parent)
    assert result.returncode == 0, result.stderr
    project = parent / name
    link_node_modules(project)
    return project


def make_owner(parent: Path) -> Path:
    project = scaffold(parent, "account")
    for name in ("account.ts", "index.ts"):
        shutil.copy(FIXTURES / "projects" / "ship-owner" / "src" / name, project / "src" / name)
    set_actor(project, "ACCOUNT", "Account")
    return project


def make_reference(parent: Path) -> Path:
    project = scaffold(parent, "account-readonly")
    (project / "src" / "counter.ts").unlink()  # the reference ships no actor class
    shutil.copy(FIXTURES / "shared" / "readonly-index.ts", project / "src" / "index.ts")
    set_actor(project, "READONLY", "Account")
    return project


def ship(project: Path) -> None:
    result = run_cli("ship", "-f", str(project))
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.fixture
def projects(tmp_path: Path, edge_home: Path, node_modules: Path) -> tuple[Path, Path]:
    owner, reference = make_owner(tmp_path), make_reference(tmp_path)
    return owner, reference


@pytest.fixture
def served(projects: tuple[Path, Path]) -> Iterator[ServerProcess]:
    owner, reference = projects
    ship(owner)
    ship(reference)
    server = start_server(["serve", "--port", "0"])
    try:
        yield server
    finally:
        server.stop()


def client(server: ServerProcess, host: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"Host": host}, timeout=30)


def walkthrough(own: httpx.Client, ref: httpx.Client) -> None:
    assert own.post("/accounts/carol/deposit", json={"amount": 100}).json() == {"account": "carol", "balance": 100}
    assert ref.get("/accounts/carol/balance").json() == {"account": "carol", "balance": 100, "via": "READONLY->Account(shared)"}
    assert ref.post("/accounts/carol/debit", json={"amount": 30}).json() == {
        "account": "carol", "ok": True, "balance": 70, "via": "READONLY->Account(shared)"
    }
    assert own.get("/accounts/carol/balance").json() == {"account": "carol", "balance": 70}


async def debit_through_both(base: str, own_host: str, ref_host: str, n: int) -> list[dict[str, object]]:
    """`n` concurrent debits of 1 from dave, alternately through the owner and the reference.

    Each waits between its balance check and its write (debitAfterPause), so turns that
    interleaved would spend one balance twice: more successes, repeated balances."""
    limits = httpx.Limits(max_connections=32)
    async with httpx.AsyncClient(base_url=base, timeout=60, limits=limits) as http:
        async def debit(i: int) -> dict[str, object]:
            host = own_host if i % 2 else ref_host
            response = await http.post("/accounts/dave/debit-after-pause", json={"amount": 1}, headers={"Host": host})
            assert response.status_code == 200, response.text
            return dict(response.json())

        return await asyncio.gather(*(debit(i) for i in range(n)))


def assert_one_at_a_time(results: list[dict[str, object]], start: int) -> None:
    """Debits of 1 from a balance of `start` that ran one turn at a time: each success saw its
    own balance, and every debit after the last one found the balance at 0."""
    assert sorted(int(str(r["balance"])) for r in results if r["ok"] is True) == list(range(start))
    assert [(r["ok"], r["balance"]) for r in results if r["ok"] is not True] == [(False, 0)] * (len(results) - start)


def test_serve_shares_one_actor_between_owner_and_reference(served: ServerProcess, projects: tuple[Path, Path]) -> None:
    hosts = hosts_of(served)
    assert set(hosts) == {"account", "account-readonly"}
    with client(served, hosts["account"]) as own, client(served, hosts["account-readonly"]) as ref:
        walkthrough(own, ref)
        # serve prints a line per request, naming the function that served it (issue 14).
        for function in ("account", "account-readonly"):
            line = rf"^\[[\d:.]+\] {function} (GET|POST) /accounts/\S+ 200 [\d.]+ms$"
            if not re.search(line, served.output, re.M):
                served.wait_for(line)

        # Concurrent debits through both functions on one name never overdraw.
        assert own.post("/accounts/dave/deposit", json={"amount": 50}).json()["balance"] == 50
        results = asyncio.run(debit_through_both(served.url, hosts["account"], hosts["account-readonly"], 80))
        assert_one_at_a_time(results, 50)
        assert own.get("/accounts/dave/balance").json()["balance"] == 0

        unknown = httpx.get(served.url + "/", headers={"Host": "nope.localhost"})
        assert unknown.status_code == 404
        assert hosts["account"] in unknown.text and hosts["account-readonly"] in unknown.text

    # A restart of serve keeps the balances.
    assert served.stop() == 0
    again = start_server(["serve", "--port", "0"])
    try:
        with client(again, hosts["account"]) as own, client(again, hosts["account-readonly"]) as ref:
            assert own.get("/accounts/carol/balance").json()["balance"] == 70
            assert ref.get("/accounts/dave/balance").json()["balance"] == 0
    finally:
        again.stop()


def test_serve_picks_up_a_new_ship_without_dropping_requests(served: ServerProcess, projects: tuple[Path, Path]) -> None:
    _, reference = projects
    hosts = hosts_of(served)
    index = reference / "src" / "index.ts"
    index.write_text(index.read_text().replace('"READONLY->Account(shared)"', '"v2"'))

    async def hammer(stop: asyncio.Event) -> list[str]:
        """The `via` of every answer, in order; each answer must be a whole, correct reply."""
        vias = []
        async with httpx.AsyncClient(base_url=served.url, timeout=60, headers={"Host": hosts["account-readonly"]}) as http:
            while not stop.is_set():
                response = await http.get("/accounts/erin/balance")
                assert response.status_code == 200, response.text
                body = response.json()
                assert {k: v for k, v in body.items() if k != "via"} == {"account": "erin", "balance": 0}
                vias.append(body["via"])
        return vias

    async def scenario() -> list[str]:
        stop = asyncio.Event()
        load = asyncio.create_task(hammer(stop))
        await asyncio.to_thread(ship, reference)
        await asyncio.to_thread(served.wait_for, r"Reloaded account-readonly", 60)
        stop.set()
        return await load

    vias = asyncio.run(scenario())
    # The old code answered until the swap, the new code after it; never the old one again.
    switch = vias.index("v2") if "v2" in vias else len(vias)
    assert vias[:switch] == ["READONLY->Account(shared)"] * switch and vias[switch:] == ["v2"] * (len(vias) - switch)
    assert switch > 0  # the load ran before the new revision was picked up
    with client(served, hosts["account-readonly"]) as ref:
        assert ref.get("/accounts/erin/balance").json()["via"] == "v2"

        # A rollback is picked up the same way.
        account = open_account()
        first = account.revisions(account.resolve("account-readonly").id)[-1].id
        account.close()
        assert run_cli("rollback", "account-readonly", first).returncode == 0
        served.wait_for(rf"^Reloaded account-readonly \(revision {first}\)", 30)
        assert ref.get("/accounts/erin/balance").json()["via"] == "READONLY->Account(shared)"

        # A function deleted from the account stops being served; the others carry on.
        assert run_cli("delete-func", "-y", "account-readonly").returncode == 0
        served.wait_for(r"^Removed account-readonly: it is no longer deployed$", 30)
        gone = ref.get("/accounts/erin/balance")
        assert gone.status_code == 404 and hosts["account"] in gone.text
    with client(served, hosts["account"]) as own:
        assert own.get("/accounts/erin/balance").json() == {"account": "erin", "balance": 0}


def test_dev_with_resolves_references_against_other_projects(projects: tuple[Path, Path]) -> None:
    owner, reference = projects
    server = start_server(["dev", "-f", str(reference), "--with", str(owner), "--port", "0", "--no-watch"])
    try:
        hosts = hosts_of(server)
        assert set(hosts) == {"account", "account-readonly"}
        with client(server, hosts["account"]) as own, httpx.Client(base_url=server.url, timeout=30) as ref:
            walkthrough(own, ref)  # the main project also answers at http://HOST:PORT
            assert own.post("/accounts/dave/deposit", json={"amount": 20}).json()["balance"] == 20
            results = asyncio.run(debit_through_both(server.url, hosts["account"], hosts["account-readonly"], 40))
            assert_one_at_a_time(results, 20)
            assert own.get("/accounts/dave/balance").json() == {"account": "dave", "balance": 0}
    finally:
        server.stop()


def test_dev_reference_resolves_against_the_account(projects: tuple[Path, Path]) -> None:
    owner, reference = projects
    ship(owner)
    server = start_server(["dev", "-f", str(reference), "--port", "0", "--no-watch"])
    try:
        with httpx.Client(base_url=server.url, timeout=30) as ref:
            assert ref.get("/accounts/zoe/balance").json() == {"account": "zoe", "balance": 0, "via": "READONLY->Account(shared)"}
    finally:
        server.stop()


def test_dev_refuses_an_account_owner_whose_bundle_changed_since_ship(projects: tuple[Path, Path]) -> None:
    """`dev` runs the account's owner of a type no local project owns from its shipped bundle:
    checked against the sha256 ship recorded first, as `serve` checks it."""
    from tests.e2e.dev_helpers import rewrite, serving_bundle

    owner, reference = projects
    ship(owner)
    revision, bundle = serving_bundle("account")
    shipped = hashlib.sha256(bundle.read_bytes()).hexdigest()
    rewrite(bundle, bundle.read_bytes() + b"\n// edited by hand after ship\n")
    changed = hashlib.sha256(bundle.read_bytes()).hexdigest()
    with pytest.raises(RuntimeError) as exited:
        start_server(["dev", "-f", str(reference), "--port", "0", "--no-watch"]).stop()  # Ready is the failure
    assert "process exited (10) before" in str(exited.value), exited.value
    assert str(exited.value).splitlines()[-2:] == [
        f"❌ actor type Account is owned on the account by account, which cannot be loaded: revision {revision}: "
        f"bundle changed since ship: sha256 {changed[:12]}… expected {shipped[:12]}…",
        f"💡 Run telnyx-edge ship again in that project ({owner}).",
    ]


def test_dev_reference_that_resolves_nowhere_is_an_error(projects: tuple[Path, Path]) -> None:
    _, reference = projects
    result = run_cli("dev", "-f", str(reference), "--port", "0", "--no-watch", timeout=60)
    assert (result.returncode, result.stderr.splitlines()) == (10, [
        "❌ binding READONLY of account-readonly: actor type Account has no owner: no project here exports "
        "class Account, and no function on the account owns it",
        "💡 Run the project that exports class Account alongside with --with DIR, or ship it first "
        "(telnyx-edge ship in its directory).",
    ])
    assert "Ready on" not in result.stdout


def test_serve_with_nothing_shipped_says_how_to_ship(tmp_path: Path) -> None:
    home = tmp_path / "home"
    result = run_cli("serve", "--port", "0", env={"TELNYX_EDGE_HOME": str(home)}, timeout=60)
    assert (result.returncode, result.stderr) == (
        10, "❌ No shipped functions on this account to serve\n"
        "💡 Ship one first: telnyx-edge new-func --actor --name=NAME, then telnyx-edge ship in its directory.\n",
    )
    assert not home.exists()  # looking did not create an account


def test_one_function_that_cannot_start_does_not_keep_serve_from_serving_the_others(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    """A shipped revision that throws while loading: `serve` names it and serves the rest."""
    import hashlib

    from tests.e2e.dev_helpers import copy_project, record_sha256, rewrite, serve_function, serving_bundle, ship

    good = copy_project("lab", tmp_path)
    bad = copy_project("account", tmp_path)
    ship(good, "good")
    ship(bad, "broken")
    _, bundle = serving_bundle("broken")
    code = (bundle.read_text() + '\nthrow new Error("tampered");\n').encode()
    rewrite(bundle, code)
    # The account records the new bytes, so serve's sha256 check passes and the load itself fails
    # (as code that throws only when serve runs it would; ship's load check ran the original).
    record_sha256("broken", hashlib.sha256(code).hexdigest())
    server, client = serve_function("good")
    try:
        assert re.search(r"❌ broken is not served: the code threw while loading: Error: tampered", server.output), server.output
        assert client.post("/rpc/served/incr", json={"args": []}).json() == {"ok": True, "value": 1}
        assert "broken" not in hosts_of(server)
    finally:
        client.close()
        assert server.stop() == 0
