"""The explorer of a running `dev` (docs/explorer.md): its JSON API, its Host/Origin guard, its
actions as turns of the actor (compare-and-set under concurrent debits), and the CLI over it.

One dev server for the module (each test uses its own actor names), on the explorer-lab fixture.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ServerProcess, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def lab(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[tuple[ServerProcess, str, Path, dict[str, str]]]:
    root = tmp_path_factory.mktemp("explorer")
    env = {"TELNYX_EDGE_HOME": str(root / "home")}
    project = copy_project("explorer-lab", root)
    server = start_dev(project, env=env)
    try:
        explorer = server.wait_for(r"^Explorer on (http://127\.0\.0\.1:\d+)$", timeout=10).group(1)
        yield server, explorer, project, env
    finally:
        close(server)


def _open(server: ServerProcess, name: str, amount: int) -> None:
    r = httpx.post(f"{server.url}/wallets/{name}/open", json={"amount": amount}, timeout=30)
    assert r.status_code == 200, r.text


def _state(server: ServerProcess, name: str) -> dict[str, Any]:
    r = httpx.get(f"{server.url}/wallets/{name}/state", timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _actor(explorer: str, name: str) -> dict[str, Any]:
    r = httpx.get(f"{explorer}/api/actor", params={"type": "Wallet", "name": name}, timeout=30)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _kv(view: dict[str, Any]) -> dict[str, Any]:
    return {p["key"]: (p["type"], p["value"]) for p in view["kv"]}


def _act(explorer: str, name: str, **body: Any) -> httpx.Response:
    return httpx.post(f"{explorer}/api/actor/action", json={"type": "Wallet", "name": name, **body}, timeout=30)


def test_explorer_line_follows_ready_and_file_is_written(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, project, env = lab
    ready = next(i for i, line in enumerate(server.lines) if line.startswith("Ready on "))
    assert server.lines[ready + 1] == f"Explorer on {explorer}"
    files = list((Path(env["TELNYX_EDGE_HOME"]) / "run").glob("explorer-*.json"))
    assert len(files) == 1 and json.loads(files[0].read_text())["url"] == explorer
    health = httpx.get(f"{explorer}/api/health").json()
    assert health["state_dir"] == str((project / ".telnyx" / "dev" / "state").resolve())


def test_values_are_decoded_with_their_types(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, _, _ = lab
    _open(server, "typed", 100)
    kv = _kv(_actor(explorer, "typed"))
    assert kv["balance"] == ("number", 100)
    assert kv["opened"] == ("Date", {"type": "Date", "value": "2026-01-02T03:04:05.000Z"})
    assert kv["tags"] == ("Map", {"type": "Map", "entries": [["tier", "gold"], ["region", "eu"]]})
    # Typed values round-trip through an edit: BigInt, Set of bytes, nested Map of Dates.
    value = {"type": "Map", "entries": [["when", {"type": "Date", "value": "2030-05-06T07:08:09.000Z"}],
                                         ["ids", {"type": "Set", "values": [{"type": "bytes", "base64": "AAE="}]}],
                                         ["n", {"type": "BigInt", "value": "123456789012345678901"}]]}
    assert _act(explorer, "typed", action="put", key="nested", value=value).json() == {"ok": True}
    assert _kv(_actor(explorer, "typed"))["nested"] == ("Map", value)
    overview = httpx.get(f"{explorer}/api/overview").json()
    assert overview["types"] == [{"type": "Wallet", "owner": "explorer-lab", "references": []}]


def test_a_bad_value_is_refused_with_the_codec_error_and_nothing_changes(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, _, _ = lab
    _open(server, "bad", 10)
    before = _actor(explorer, "bad")["kv"]
    r = _act(explorer, "bad", action="put", key="balance", value={"type": "Date", "value": "not a time"})
    assert r.status_code == 400
    assert r.json()["error"] == "CodecError" and "a Date needs" in r.json()["message"]
    r = _act(explorer, "bad", action="put", key="balance", value={"type": "Frob"})
    assert r.status_code == 400 and "unknown type" in r.json()["message"]
    r = _act(explorer, "bad", action="put", key="__telnyx_x", value=1)
    assert r.status_code == 400 and "reserved" in r.json()["message"]
    assert _actor(explorer, "bad")["kv"] == before
    assert _state(server, "bad")["balance"] == 10


def test_edit_is_a_turn_and_compare_and_set_refuses_a_stale_edit(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, _, _ = lab
    _open(server, "cas", 100)
    assert _act(explorer, "cas", action="put", key="balance", value=250, expect=100).json() == {"ok": True}
    assert _state(server, "cas")["balance"] == 250  # the next HTTP call sees it
    stale = _act(explorer, "cas", action="put", key="balance", value=999, expect=100).json()
    assert stale == {"ok": False, "conflict": True, "current": {"type": "number", "value": 250}, "absent": False}
    assert _state(server, "cas")["balance"] == 250
    assert _act(explorer, "cas", action="delete", key="balance", expect=1).json()["conflict"] is True
    assert _act(explorer, "cas", action="delete", key="balance", expect=250).json() == {"ok": True, "existed": True}
    assert _state(server, "cas")["balance"] == 0
    # expect_absent: add only if missing; a stored null is a value, not an absence.
    assert _act(explorer, "cas", action="put", key="memo", value=None, expect_absent=True).json() == {"ok": True}
    again = _act(explorer, "cas", action="put", key="memo", value=1, expect_absent=True).json()
    assert again == {"ok": False, "conflict": True, "current": {"type": "null", "value": None}, "absent": False}
    gone = _act(explorer, "cas", action="put", key="nothing", value=1, expect=5).json()
    assert gone == {"ok": False, "conflict": True, "current": None, "absent": True}
    bad_expect = _act(explorer, "cas", action="put", key="memo", value=1, expect={"type": "Date", "value": "?"})
    assert bad_expect.status_code == 400 and bad_expect.json()["error"] == "CodecError"


def test_alarm_sql_and_evict_actions(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, _, _ = lab
    _open(server, "acts", 5)
    alarm = _actor(explorer, "acts")["alarm"]
    assert alarm is not None and alarm["retries"] == 0
    assert _act(explorer, "acts", action="alarm_set", time="2099-01-01T00:00:00Z").json()["alarm_ms"] == 4070908800000
    assert _actor(explorer, "acts")["alarm"]["fire_ms"] == 4070908800000
    assert _act(explorer, "acts", action="alarm_delete").json() == {"ok": True}
    assert _actor(explorer, "acts")["alarm"] is None
    assert _act(explorer, "acts", action="alarm_fire").json()["ok"] is True
    assert _state(server, "acts")["alarms"] == 1  # alarm() ran before the action answered
    methods = [c["method"] for c in _actor(explorer, "acts")["calls"]]
    assert "alarm" in methods and "explorer.alarm_set" in methods
    # SQL: a write runs as a turn; the query box refuses writes; tables page.
    wrote = _act(explorer, "acts", action="sql", sql="INSERT INTO ledger (amount, note) VALUES (?, ?)", params=[7, "seven"]).json()
    assert wrote["ok"] is True and wrote["rows_written"] == 1
    q = httpx.post(f"{explorer}/api/actor/query", json={"type": "Wallet", "name": "acts", "sql": "DELETE FROM ledger"})
    assert q.status_code == 400 and q.json()["error"] == "ReadOnly"
    q = httpx.post(f"{explorer}/api/actor/query", json={"type": "Wallet", "name": "acts", "sql": "SELECT amount, note FROM ledger ORDER BY id"})
    assert q.json()["rows"] == [[5, "opening balance"], [7, "seven"]]
    page = httpx.get(f"{explorer}/api/actor/table", params={"type": "Wallet", "name": "acts", "table": "ledger", "offset": 1, "limit": 1}).json()
    assert page["total"] == 2 and page["rows"] == [[2, 7, "seven"]]
    assert _act(explorer, "acts", action="evict").json() == {"ok": True, "evicted": True}
    assert _state(server, "acts")["balance"] == 5  # a fresh activation reads the same state


def test_forged_host_and_origin_are_refused_and_change_nothing(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, _, _ = lab
    _open(server, "guard", 40)
    body = {"type": "Wallet", "name": "guard", "action": "put", "key": "balance", "value": 1_000_000}
    forged_origin = httpx.post(f"{explorer}/api/actor/action", json=body, headers={"Origin": "http://evil.example"})
    assert forged_origin.status_code == 403 and forged_origin.json()["error"] == "Forbidden"
    port = explorer.rsplit(":", 1)[1]
    # DNS rebinding: another name resolving to 127.0.0.1 (the Host says so).
    forged_host = httpx.post(f"{explorer}/api/actor/action", json=body, headers={"Host": f"evil.example:{port}"})
    assert forged_host.status_code == 403
    assert httpx.get(f"{explorer}/api/actor", params={"type": "Wallet", "name": "guard"}, headers={"Origin": "null"}).status_code == 403
    # A cross-site HTML form can only send form encodings: refused before anything runs.
    form = httpx.post(f"{explorer}/api/actor/action", content=json.dumps(body), headers={"Content-Type": "text/plain"})
    assert form.status_code == 415
    assert _state(server, "guard")["balance"] == 40
    # Its own origin is fine.
    own = httpx.get(f"{explorer}/api/overview", headers={"Origin": explorer})
    assert own.status_code == 200


def test_concurrent_debits_and_compare_and_set_edits_lose_nothing(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """100 debits over HTTP while the explorer adds to the same balance with compare-and-set
    retries: the final balance accounts exactly for every acknowledged debit and edit, and
    no debit ever overdraws."""
    server, explorer, _, _ = lab
    _open(server, "race", 100)
    debits: list[dict[str, Any]] = []
    edits = 0
    conflicts = 0
    lock = threading.Lock()

    def debit_worker(count: int) -> None:
        with httpx.Client(base_url=server.url, timeout=60) as client:
            for _ in range(count):
                r = client.post("/wallets/race/debit", json={"amount": 2})
                assert r.status_code == 200, r.text
                with lock:
                    debits.append(r.json())

    def edit_worker() -> None:
        nonlocal edits, conflicts
        with httpx.Client(base_url=explorer, timeout=60) as client:
            while edits < 20:
                seen = dict((p["key"], p["value"]) for p in client.get("/api/actor", params={"type": "Wallet", "name": "race"}).json()["kv"])
                out = client.post("/api/actor/action", json={
                    "type": "Wallet", "name": "race", "action": "put", "key": "balance",
                    "value": seen["balance"] + 3, "expect": seen["balance"],
                }).json()
                if out.get("conflict"):
                    conflicts += 1
                else:
                    assert out == {"ok": True}
                    edits += 1

    threads = [threading.Thread(target=debit_worker, args=(25,)) for _ in range(4)] + [threading.Thread(target=edit_worker)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(debits) == 100 and edits == 20
    ok = [d for d in debits if d["ok"]]
    assert all(d["balance"] >= 0 for d in debits)
    final = _state(server, "race")["balance"]
    assert final == 100 + 3 * edits - 2 * len(ok)
    assert final >= 0


def _cli(env: dict[str, str], *args: str) -> Any:
    return run_cli("actors", *args, env=env)


def test_cli_storage_and_alarm_through_the_running_runtime(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, project, env = lab
    _open(server, "cli", 30)
    at = ("-f", str(project))
    listed = _cli(env, "storage", "list", "Wallet", "cli", *at)
    assert listed.returncode == 0, listed.stderr
    assert re.search(r"^tags\s+Map\s+Map\(2\) \{\"tier\" => \"gold\", \"region\" => \"eu\"\}$", listed.stdout, re.M)
    got = _cli(env, "storage", "get", "Wallet", "cli", "opened", "--json", *at)
    assert json.loads(got.stdout) == {"key": "opened", "type": "Date", "value": {"type": "Date", "value": "2026-01-02T03:04:05.000Z"}}
    put = _cli(env, "storage", "put", "Wallet", "cli", "balance", "45", "--expect", "30", *at)
    assert put.returncode == 0, put.stderr
    assert _state(server, "cli")["balance"] == 45
    stale = _cli(env, "storage", "put", "Wallet", "cli", "balance", "1", "--expect", "30", *at)
    assert stale.returncode == 2 and "changed meanwhile" in stale.stderr
    bad = _cli(env, "storage", "put", "Wallet", "cli", "balance", "{nope", *at)
    assert bad.returncode == 2 and "VALUE is not JSON" in bad.stderr and len(bad.stderr.strip().splitlines()) <= 2
    codec = _cli(env, "storage", "put", "Wallet", "cli", "when", '{"type":"Date","value":"x"}', *at)
    assert codec.returncode == 2 and "CodecError" in codec.stderr
    assert _cli(env, "storage", "delete", "Wallet", "cli", "tags", *at).returncode == 0
    assert "tags" not in _kv(_actor(explorer, "cli"))
    # A name with a terminal escape is shown escaped, never raw.
    evil = "x\x1b[2Jy"
    assert _cli(env, "storage", "put", "Wallet", evil, "_k", '"v\\u001b[31m"', *at).returncode == 0
    shown = _cli(env, "storage", "list", "Wallet", evil, *at)
    assert shown.returncode == 0 and "\x1b" not in shown.stdout and "_k" in shown.stdout
    unknown = _cli(env, "storage", "list", "No-Such", "cli", *at)
    assert unknown.returncode == 2 and "not a class name" in unknown.stderr
    # Alarms.
    assert _cli(env, "alarm", "set", "Wallet", "cli", "2099-01-01T00:00:00Z", *at).returncode == 0
    alarm = json.loads(_cli(env, "alarm", "get", "Wallet", "cli", "--json", *at).stdout)
    assert alarm["fire_ms"] == 4070908800000 and alarm["retries"] == 0
    fired = _cli(env, "alarm", "fire", "Wallet", "cli", *at)
    assert fired.returncode == 0, fired.stderr
    assert _state(server, "cli")["alarms"] == 1
    assert _cli(env, "alarm", "delete", "Wallet", "cli", *at).returncode == 0
    assert "No alarm set." in _cli(env, "alarm", "get", "Wallet", "cli", *at).stdout


def test_cli_without_a_runtime_reads_files_and_refuses_writes(tmp_path: Path, node_modules: Path) -> None:
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    project = copy_project("explorer-lab", tmp_path)
    server = start_dev(project, env=env)
    try:
        _open(server, "offline", 12)
    finally:
        close(server)
    assert not list((tmp_path / "home" / "run").glob("explorer-*.json"))  # removed on stop
    # A stale runtime file (a killed runtime) must not mislead.
    from telnyx_edge.explorer import runtime_file

    stale = runtime_file.file_for(tmp_path / "home", project / ".telnyx" / "dev" / "state")
    stale.parent.mkdir(parents=True, exist_ok=True)
    stale.write_text(json.dumps({"url": "http://127.0.0.1:9", "pid": 999999, "state_dir": str((project / ".telnyx" / "dev" / "state").resolve())}))
    at = ("-f", str(project))
    got = _cli(env, "storage", "get", "Wallet", "offline", "balance", "--json", *at)
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout) == {"key": "balance", "type": "number", "value": 12}
    assert json.loads(_cli(env, "alarm", "get", "Wallet", "offline", "--json", *at).stdout)["retries"] == 0
    write = _cli(env, "storage", "put", "Wallet", "offline", "balance", "1", *at)
    assert write.returncode == 10
    assert "no runtime is running" in write.stderr and "telnyx-edge dev" in write.stderr
    missing = _cli(env, "storage", "list", "Wallet", "nobody", *at)
    assert missing.returncode == 7 and "has no stored state" in missing.stderr


def test_no_explorer_and_an_explorer_port_in_use(tmp_path: Path, node_modules: Path) -> None:
    import socket

    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    project = copy_project("explorer-lab", tmp_path)
    server = start_dev(project, "--no-explorer", "--no-watch", env=env)
    try:
        assert not any(line.startswith("Explorer on") for line in server.lines)
    finally:
        close(server)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        failed = run_cli("dev", "--port", "0", "--no-watch", "--explorer-port", str(port), cwd=project, env=env, timeout=60)
    assert failed.returncode == 10, failed.stdout + failed.stderr
    assert f"the explorer cannot listen on 127.0.0.1:{port}" in failed.stderr and "--explorer-port" in failed.stderr


def test_serve_shows_revisions(tmp_path: Path, node_modules: Path, edge_home: Path) -> None:
    from tests.e2e.dev_helpers import serve_function, ship

    project = copy_project("explorer-lab", tmp_path)
    ship(project, "wallets")
    server, client = serve_function("wallets", env={"TELNYX_EDGE_HOME": str(edge_home)})
    try:
        explorer = server.wait_for(r"^Explorer on (http://127\.0\.0\.1:\d+)$", timeout=10).group(1)
        assert client.post("/wallets/s1/open", json={"amount": 3}).status_code == 200
        overview = httpx.get(f"{explorer}/api/overview").json()
        assert overview["mode"] == "serve"
        [function] = overview["functions"]
        assert function["name"] == "wallets" and function["revision"]
        assert _kv(_actor(explorer, "s1"))["balance"] == ("number", 3)
        # The CLI's default state is the account's, which serve runs on.
        got = run_cli("actors", "storage", "get", "Wallet", "s1", "balance", "--json", env={"TELNYX_EDGE_HOME": str(edge_home)})
        assert json.loads(got.stdout)["value"] == 3, got.stderr
    finally:
        client.close()
        close(server)


def test_an_action_waits_for_the_running_turn(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """Promise 2: an explorer edit is a turn. Sent while a call sits between its read and its
    write, it runs after that call (final 1000) or before it (1010), never inside it (which
    would lose the edit: 110)."""
    server, explorer, _, _ = lab
    _open(server, "turns", 100)
    result: dict[str, Any] = {}

    def slow() -> None:
        result["slow"] = httpx.post(f"{server.url}/wallets/turns/slow-add", json={"amount": 10, "ms": 600}, timeout=30).json()

    caller = threading.Thread(target=slow)
    caller.start()
    edit = _act(explorer, "turns", action="put", key="balance", value=1000)
    caller.join(timeout=30)
    assert edit.json() == {"ok": True}
    final = _state(server, "turns")["balance"]
    # (1000, 110): the call ran first, then the edit; (1010, 1010): the edit, then the call.
    assert (final, result["slow"]["balance"]) in ((1000, 110), (1010, 1010)), (final, result)


def test_a_new_instance_is_listed_at_once_with_its_figures(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """An instance just created is listed with its real key count and last activity, not the
    empty row its alarm put in the index (keys 0, last activity 0: shown as 1970) before the
    activation's first usage report."""
    import time

    server, explorer, project, env = lab
    before_ms = int(time.time() * 1000) - 1000
    _open(server, "fresh-one", 7)  # three keys and an alarm
    listed = httpx.get(f"{explorer}/api/instances", params={"type": "Wallet", "q": "fresh-one"}, timeout=30).json()
    [row] = listed["instances"]
    assert row["keys"] == 3 and row["sql_tables"] == 1, row
    assert row["last_activity_ms"] >= before_ms and row["alarm_ms"] is not None, row
    cli = _cli(env, "instances", "Wallet", "-f", str(project), "--json")
    [found] = [i for i in json.loads(cli.stdout) if i["name"] == "fresh-one"]
    assert found["keys"] == 3 and found["last_activity_ms"] >= before_ms, found


def test_cli_value_that_is_not_json_is_a_usage_error(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """Python's json module reads NaN and 1e999 (not JSON): a usage error (exit 2), not exit 70."""
    server, _, project, env = lab
    _open(server, "nan", 1)
    for raw in ("NaN", "1e999", "-Infinity", '{"a": NaN}'):
        out = _cli(env, "storage", "put", "Wallet", "nan", "balance", "-f", str(project), "--", raw)
        assert out.returncode == 2 and "VALUE is not JSON" in out.stderr, (raw, out.stderr)
        assert '{"type": "number", "value": "' in out.stderr
    # A negative number reads as a flag: the hint says how to pass it.
    negative = _cli(env, "storage", "put", "Wallet", "nan", "balance", "-5", "-f", str(project))
    assert negative.returncode == 2 and "... -- -5" in negative.stderr, negative.stderr
    assert _cli(env, "storage", "put", "Wallet", "nan", "balance", "-f", str(project), "--", "-5").returncode == 0
    assert _state(server, "nan")["balance"] == -5
    assert _cli(env, "storage", "put", "Wallet", "nan", "balance", "1", "-f", str(project)).returncode == 0
    expect = _cli(env, "storage", "put", "Wallet", "nan", "balance", "2", "--expect", "Infinity", "-f", str(project))
    assert expect.returncode == 2 and "--expect is not JSON" in expect.stderr, expect.stderr
    assert _state(server, "nan")["balance"] == 1


def test_cli_list_cuts_long_values_and_get_shows_them_whole(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    server, explorer, project, env = lab
    _open(server, "long", 1)
    assert _act(explorer, "long", action="put", key="memo", value="m" * 100_000).json() == {"ok": True}
    listed = _cli(env, "storage", "list", "Wallet", "long", "-f", str(project))
    assert listed.returncode == 0, listed.stderr
    assert max(len(line) for line in listed.stdout.splitlines()) < 400
    assert re.search(r"^memo\s+string\s+\"m+… \(100,0\d\d bytes; actors storage get shows it whole\)", listed.stdout, re.M)
    assert _act(explorer, "long", action="put", key="note", value="n" * 1000).json() == {"ok": True}
    listed = _cli(env, "storage", "list", "Wallet", "long", "-f", str(project))
    assert re.search(r"^note\s+string\s+\"n+… \(1,002 characters; actors storage get shows it whole\)", listed.stdout, re.M)
    got = _cli(env, "storage", "get", "Wallet", "long", "memo", "-f", str(project))
    assert got.stdout.count("m") >= 100_000
    # The key is quoted in what the CLI says (an empty key read "Stored  in Wallet 'long'").
    empty = _cli(env, "storage", "put", "Wallet", "long", "", "1", "-f", str(project))
    assert empty.returncode == 0 and "Stored '' in Wallet 'long'" in empty.stdout, empty.stdout + empty.stderr


def test_a_runaway_read_query_is_cut_off_and_the_runtime_keeps_serving(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """The query box reads in the data plane: an endless query (a recursive CTE with no LIMIT)
    must stop at the row cap, not hold every request of the runtime (and its memory) forever."""
    server, explorer, _, _ = lab
    _open(server, "endless", 1)
    sql = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT x FROM c"
    r = httpx.post(f"{explorer}/api/actor/query", json={"type": "Wallet", "name": "endless", "sql": sql}, timeout=20)
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["truncated"] is True and len(out["rows"]) == 500 and out["rows"][-1] == [500]
    # One that never yields a row is stopped at its budget; calls are served meanwhile.
    answer: dict[str, httpx.Response] = {}
    endless = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c"
    body = {"type": "Wallet", "name": "endless", "sql": endless}
    runner = threading.Thread(target=lambda: answer.update(r=httpx.post(f"{explorer}/api/actor/query", json=body, timeout=30)))
    runner.start()
    assert httpx.get(f"{server.url}/wallets/endless/state", timeout=5).json()["balance"] == 1
    runner.join(timeout=30)
    assert answer["r"].status_code == 504 and answer["r"].json()["error"] == "QueryTimeout", answer["r"].text
    assert httpx.get(f"{server.url}/wallets/endless/state", timeout=5).json()["balance"] == 1


def test_numbers_json_allows_but_the_runtime_cannot_carry_are_read_as_javascript_does(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """A whole number past 64 bits is valid JSON: it was a 500 'Server got itself in trouble'
    (and a traceback in dev's output). It is read as JSON.parse reads it, a double; NaN (not JSON)
    is a 400."""
    server, explorer, project, env = lab
    _open(server, "huge", 1)
    big = '{"type": "Wallet", "name": "huge", "action": "put", "key": "n", "value": 99999999999999999999}'
    r = httpx.post(f"{explorer}/api/actor/action", content=big, headers={"Content-Type": "application/json"})
    assert r.status_code == 200 and r.json() == {"ok": True}, r.text
    assert _kv(_actor(explorer, "huge"))["n"] == ("number", 1e20)
    nan = big.replace("99999999999999999999", "NaN")
    r = httpx.post(f"{explorer}/api/actor/action", content=nan, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "NaN" in r.json()["message"], r.text
    far = _cli(env, "alarm", "set", "Wallet", "huge", "99999999999999999999", "-f", str(project))
    assert far.returncode == 2 and "time" in far.stderr and "Internal error" not in far.stderr, far.stderr
    assert "value forms" not in far.stderr  # the hint fits the problem
    assert not any("Traceback" in line for line in server.lines)


def test_an_actor_larger_than_a_frame_is_shown_without_replacing_the_data_plane(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """Values are up to 2 MiB each: an instance view sending all of them (here 70 MB) exceeded the
    control channel's 64 MiB frame, which replaced the data plane (every call in flight failed).
    Large values are listed without their value and read one at a time."""
    server, explorer, project, env = lab
    _open(server, "heavy", 1)
    blob = "z" * (1900 * 1024)
    for i in range(36):
        assert _act(explorer, "heavy", action="put", key=f"blob{i:02}", value=blob).json() == {"ok": True}
    view = _actor(explorer, "heavy")
    pairs = {p["key"]: p for p in view["kv"]}
    assert pairs["balance"]["value"] == 1 and not pairs["balance"].get("omitted")
    big = pairs["blob07"]
    assert big["omitted"] is True and big["value"] is None and big["type"] == "string" and big["bytes"] > 1900 * 1024
    one = httpx.get(f"{explorer}/api/actor/value", params={"type": "Wallet", "name": "heavy", "key": "blob07"}, timeout=30)
    assert one.status_code == 200 and one.json()["value"] == blob
    got = _cli(env, "storage", "get", "Wallet", "heavy", "blob35", "--json", "-f", str(project))
    assert got.returncode == 0 and json.loads(got.stdout)["value"] == blob, got.stderr
    assert not any("Isolate replaced" in line for line in server.lines), server.lines[-5:]
    assert _state(server, "heavy")["balance"] == 1


def test_a_table_page_of_large_rows_is_cut_to_fit(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """500 rows of 200 kB (the largest page the API gives) passed the 64 MiB frame and replaced
    the data plane: a cell past 4,096 characters (or bytes) is cut, saying how long it is."""
    server, explorer, _, _ = lab
    _open(server, "rows", 1)
    sql = ("WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c LIMIT 400) "
           "INSERT INTO ledger (amount, note) SELECT x, printf('%.*c', 200000, 'y') FROM c")
    assert _act(explorer, "rows", action="sql", sql=sql).json()["rows_written"] == 400
    page = httpx.get(f"{explorer}/api/actor/table", params={"type": "Wallet", "name": "rows", "table": "ledger", "limit": 500}, timeout=60)
    assert page.status_code == 200, page.text
    rows = page.json()["rows"]
    assert len(rows) == 401 and rows[1][2] == "y" * 4096 + "… (200,000 characters)"
    assert not any("Isolate replaced" in line for line in server.lines)
    assert _state(server, "rows")["balance"] == 1


def test_past_the_first_1000_keys(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """The instance view holds the first 1,000 keys: `storage get` of a later key said it did not
    exist (exit 7), and `storage list` left the rest out without a word."""
    server, explorer, project, env = lab
    _open(server, "many", 1)
    with httpx.Client(timeout=30) as client:
        for i in range(1000):
            r = client.post(f"{explorer}/api/actor/action", json={"type": "Wallet", "name": "many", "action": "put", "key": f"k{i:04}", "value": i})
            assert r.status_code == 200, r.text
    assert _actor(explorer, "many")["kv_truncated"] is True
    got = _cli(env, "storage", "get", "Wallet", "many", "tags", "--json", "-f", str(project))  # after k0000..k0999
    assert got.returncode == 0, got.stderr
    assert json.loads(got.stdout)["type"] == "Map"
    missing = _cli(env, "storage", "get", "Wallet", "many", "nope", "-f", str(project))
    assert missing.returncode == 7 and "has no key 'nope'" in missing.stderr, missing.stderr
    listed = _cli(env, "storage", "list", "Wallet", "many", "-f", str(project))
    assert listed.returncode == 0 and "only the first 1,000 keys" in listed.stderr, listed.stderr


def test_actions_on_a_name_never_used_are_refused_and_create_nothing(lab: tuple[ServerProcess, str, Path, dict[str, str]]) -> None:
    """Deleting, evicting or firing on a typo of a name must not bring an empty instance into being."""
    server, explorer, project, env = lab
    for body in ({"action": "alarm_delete"}, {"action": "alarm_fire"}, {"action": "evict"}, {"action": "delete", "key": "k"}):
        r = _act(explorer, "never-used", **body)
        assert r.status_code == 404, (body, r.text)
        assert r.json()["error"] == "NotFound" and "no stored state" in r.json()["message"]
    at = ("-f", str(project))
    for args in (("alarm", "delete"), ("alarm", "fire"), ("storage", "delete")):
        extra = ("k",) if args[0] == "storage" else ()
        out = _cli(env, *args, "Wallet", "never-used", *extra, *at)
        assert out.returncode != 0 and "no stored state" in out.stderr, (args, out.stdout, out.stderr)
    assert _actor(explorer, "never-used").get("missing") is True
    listed = httpx.get(f"{explorer}/api/instances", params={"type": "Wallet", "q": "never-used"}, timeout=30).json()
    assert listed["matched"] == 0
    # Writing a value is how an instance is created from the explorer, as a first call would.
    assert _act(explorer, "never-used", action="put", key="k", value=1).json() == {"ok": True}
    assert _act(explorer, "never-used", action="alarm_delete").json() == {"ok": True}
