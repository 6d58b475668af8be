"""`serve` checks each shipped bundle against the sha256 `ship` recorded before the runtime loads
it, at start and at every swap: a bundle changed, cut short or removed on disk after `ship` is
refused with a line naming the function, the revision, the problem and the fix, and the other
functions are served. Real parts: fixture projects shipped with the real `ship`, the bundle file
changed on disk, the real `serve` on port 0."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import httpx
import pytest

from telnyx_edge.account import FunctionRecord, open_account
from tests.e2e.dev_helpers import copy_project, hosts_of, record_sha256, rewrite, serving_bundle, ship
from tests.harness import ServerProcess, run_cli, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _record(name: str) -> FunctionRecord:
    account = open_account()
    try:
        return account.resolve(name)
    finally:
        account.close()


def project_dir(name: str) -> str:
    return _record(name).directory


def host(name: str) -> str:
    return _record(name).host


def changed_lines(name: str, revision: str, actual: str, expected: str) -> list[str]:
    return [
        f"❌ {name} is not served: revision {revision}: bundle changed since ship: "
        f"sha256 {actual[:12]}… expected {expected[:12]}…",
        f"💡 Run telnyx-edge ship again in that project ({project_dir(name)}).",
    ]


def lines_after(server: ServerProcess, first: str) -> list[str]:
    """`first` and the line after it, from the output read so far."""
    at = server.lines.index(first)
    return server.lines[at:at + 2]


def test_serve_refuses_bundles_changed_since_ship_and_serves_the_rest(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    ship(copy_project("lab", tmp_path), "good")
    ship(copy_project("account", tmp_path), "edited")
    ship(copy_project("throwers", tmp_path), "truncated")
    edited_rev, edited = serving_bundle("edited")
    truncated_rev, truncated = serving_bundle("truncated")
    shipped = {"edited": sha(edited), "truncated": sha(truncated)}
    # A hand edit that is still valid JavaScript (the runtime would load it), and a bad copy.
    rewrite(edited, edited.read_bytes() + b"\n// edited by hand after ship\n")
    rewrite(truncated, truncated.read_bytes()[: truncated.stat().st_size // 2])

    server = start_server(["serve", "--port", "0"])
    try:
        for name, revision, bundle in (("edited", edited_rev, edited), ("truncated", truncated_rev, truncated)):
            expected = changed_lines(name, revision, sha(bundle), shipped[name])
            assert expected[0] in server.lines, server.output
            assert lines_after(server, expected[0]) == expected
        assert set(hosts_of(server)) == {"good"}
        with httpx.Client(base_url=server.url, headers={"Host": host("good")}, timeout=30) as good:
            assert good.post("/rpc/one/incr", json={"args": []}).json() == {"ok": True, "value": 1}
            # A refused function's host is one no function serves: the 404 of an unknown host,
            # listing the hosts that are served.
            for name in ("edited", "truncated"):
                refused = good.get("/health/liveness", headers={"Host": host(name)})
                unknown = good.get("/health/liveness", headers={"Host": "nobody.localhost"})
                assert (refused.status_code, unknown.status_code) == (404, 404)
                assert host("good") in refused.text
                assert refused.text == unknown.text.replace("nobody.localhost", host(name))

            # The fix the line names: a new ship is picked up while serve runs.
            project = Path(project_dir("edited"))
            assert run_cli("ship", "-f", str(project)).returncode == 0
            again, _ = serving_bundle("edited")
            server.wait_for(rf"^Added edited \(revision {again}\) in \d+ ms: ", 30)
            fixed = good.get("/health/liveness", headers={"Host": host("edited")})
            assert (fixed.status_code, fixed.text) == (200, "ok")
            assert good.post("/rpc/one/incr", json={"args": []}).json() == {"ok": True, "value": 2}
    finally:
        assert server.stop() == 0


def test_serve_refuses_a_missing_bundle_and_exits_when_nothing_can_be_served(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    ship(copy_project("account", tmp_path), "missing")
    revision, bundle = serving_bundle("missing")
    bundle.unlink()
    missing = [
        f"❌ missing is not served: revision {revision}: bundle missing ({bundle})",
        f"💡 Run telnyx-edge ship again in that project ({project_dir('missing')}).",
    ]

    # The only function cannot be served: serve does not start, and says why.
    with pytest.raises(RuntimeError) as exited:
        start_server(["serve", "--port", "0"]).stop()  # reaching Ready is the failure
    output = str(exited.value)
    assert "process exited (10) before" in output, output
    assert output.splitlines()[-4:] == missing + [
        "❌ No function could be served: missing (each is named above with its problem)",
        "💡 Fix each one as its line says, then start telnyx-edge serve again.",
    ]

    # With a function that can be served, serve starts and names the one it cannot serve. That
    # one is a revision recorded without a sha256 (nothing to check it against): it still serves.
    ship(copy_project("lab", tmp_path), "unrecorded")
    _, lab = serving_bundle("unrecorded")
    rewrite(lab, lab.read_bytes() + b"\n// not what ship stored, but nothing recorded says so\n")
    record_sha256("unrecorded", None)
    server = start_server(["serve", "--port", "0"])
    try:
        assert lines_after(server, missing[0]) == missing, server.output
        assert set(hosts_of(server)) == {"unrecorded"}
        with httpx.Client(base_url=server.url, headers={"Host": host("unrecorded")}, timeout=30) as client:
            assert client.post("/rpc/one/incr", json={"args": []}).json() == {"ok": True, "value": 1}
            gone = client.get("/health/liveness", headers={"Host": host("missing")})
            assert gone.status_code == 404 and host("unrecorded") in gone.text
    finally:
        assert server.stop() == 0


def test_a_swap_to_a_changed_bundle_is_refused_and_the_serving_revision_keeps_serving(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    """`serve` swaps in a rollback (or a ship) while it runs; the revision swapped to is checked first."""
    project = copy_project("account", tmp_path)
    ship(project, "account")
    first, bundle = serving_bundle("account")
    shipped = sha(bundle)
    assert run_cli("ship", "-f", str(project)).returncode == 0
    second, _ = serving_bundle("account")
    # The earlier revision, not serving now, is changed on disk so that it would answer differently.
    code = bundle.read_bytes()
    assert code.count(b'"ok"') == 1
    rewrite(bundle, code.replace(b'"ok"', b'"changed on disk"'))

    server = start_server(["serve", "--port", "0"])
    try:
        with httpx.Client(base_url=server.url, headers={"Host": host("account")}, timeout=30) as client:
            assert client.post("/accounts/ann/deposit", json={"amount": 5}).json() == {"account": "ann", "balance": 5}
            assert run_cli("rollback", "account", first).returncode == 0
            refused = server.wait_for(r"^❌ Reload failed: account: ", 30).string
            assert refused == (
                f"❌ Reload failed: account: revision {first}: bundle changed since ship: "
                f"sha256 {sha(bundle)[:12]}… expected {shipped[:12]}…; the previous code keeps serving"
            )
            hint = server.wait_for(r"^   ", 10).string  # the next line of the error
            assert hint == f"   Run telnyx-edge ship again in that project ({project_dir('account')})."
            # The serving revision answers on, with its state; it is not swapped again until the
            # next ship or rollback (a rollback to it is picked up as usual).
            assert client.get("/health/liveness").text == "ok"
            assert client.get("/accounts/ann/balance").json() == {"account": "ann", "balance": 5}
            assert run_cli("rollback", "account", second).returncode == 0
            server.wait_for(rf"^Reloaded account \(revision {second}\) in \d+ ms: ", 30)
            assert client.get("/health/liveness").text == "ok"
        assert not re.search(r"^Reloaded account \(revision " + first, server.output, re.M)
    finally:
        assert server.stop() == 0
