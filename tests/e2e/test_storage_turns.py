"""Issue 8's turn semantics under the real `telnyx-edge dev` (and `serve` for the SQL account),
against the `sqlab` fixture:

- a turn commits its KV writes, SQL statements and alarm change together, or none of them, for
  RPC methods, the actor's `fetch` and `alarm()` (spec 3.5, 3.8); a thrown `transaction()` fails
  the call but keeps the writes made after it; a reply leaves only once its writes are committed;
- storage operations apply in call order within a turn, awaited or not;
- keys round-trip exactly (generated keys, lone surrogates included), list in code point order
  and match prefixes as `startsWith()` does;
- `getAlarm()` inside `alarm()` is null unless the handler re-armed; an actor named with lone
  surrogates gets its alarm;
- the spec 9.1 Account with its balance in a SQL table never overdraws and survives a restart;
- `actors instances` shows SQL tables and database bytes.

One dev server serves the module (restarted once, by the durability test at the end); alarms
retry after 50 ms so the retry tests are quick.
"""

from __future__ import annotations

import asyncio
import random
import re
import shutil
import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from telnyx_edge.runtime.actor_index import actor_file
from tests.e2e.dev_helpers import PROJECTS, client_for, close, copy_project, eventually, rpc, ship, start_dev, value
from tests.harness import ServerProcess, link_node_modules, run_cli, start_server

pytestmark = pytest.mark.e2e

HOUR_MS = 3_600_000
DEV_ENV = {"TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "50"}


@dataclass
class Dev:
    project: Path
    proc: ServerProcess

    def stop(self) -> None:
        assert close(self.proc) == 0

    def start(self) -> None:
        self.proc = start_dev(self.project, "--no-watch", env=DEV_ENV)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[Dev]:
    project = copy_project("sqlab", tmp_path_factory.mktemp("dev-sqlab-turns"))
    running = Dev(project, start_dev(project, "--no-watch", env=DEV_ENV))
    yield running
    running.stop()


@pytest.fixture
def client(dev: Dev) -> Iterator[httpx.Client]:
    yield from client_for(dev.proc)


def now_ms() -> int:
    return int(time.time() * 1000)


def create_trio_table(client: httpx.Client, actor: str) -> None:
    """So a failed turn's INSERT shows as a missing row, not as a missing table."""
    [step] = value(client, actor, "run", [["CREATE TABLE trio (tag TEXT)"]])
    assert step["written"] == 0, step


def assert_all_three(state: dict[str, Any], tag: str) -> None:
    assert state["kv"] == tag and state["rows"] == [tag], state
    assert isinstance(state["alarm"], int) and state["alarm"] > now_ms() + HOUR_MS // 2, state


NOTHING = {"kv": None, "rows": [], "alarm": None}


# -- a turn commits put + sql.exec + setAlarm together, or nothing --------------------------


def test_rpc_turn_commits_all_or_nothing(client: httpx.Client) -> None:
    create_trio_table(client, "trio-rpc")
    failed = rpc(client, "trio-rpc", "trio", "lost", True)
    assert (failed["ok"], failed["name"]) == (False, "ActorMethodError")
    assert failed["message"] == "trio lost failed on purpose"
    assert value(client, "trio-rpc", "trioState") == NOTHING
    assert value(client, "trio-rpc", "trio", "kept", False) == "kept"
    assert_all_three(value(client, "trio-rpc", "trioState"), "kept")


def test_fetch_turn_commits_all_or_nothing(client: httpx.Client) -> None:
    create_trio_table(client, "trio-fetch")
    failed = client.post("/fetch/trio-fetch/trio", params={"tag": "lost", "fail": "1"})
    assert failed.json()["ok"] is False and "fetch trio lost failed on purpose" in failed.json()["message"]
    assert value(client, "trio-fetch", "trioState") == NOTHING
    kept = client.post("/fetch/trio-fetch/trio", params={"tag": "kept"})
    assert (kept.status_code, kept.json()) == (200, {"tag": "kept"})
    assert_all_three(value(client, "trio-fetch", "trioState"), "kept")


def _log(client: httpx.Client, actor: str) -> list[Any]:
    result: list[Any] = value(client, f"{actor}-log", "log")
    return result


def test_alarm_turn_that_throws_commits_nothing_and_is_retried_then_deleted(client: httpx.Client) -> None:
    create_trio_table(client, "trio-alarm-bad")
    value(client, "trio-alarm-bad", "arm", 20, "trio-throw")
    log = eventually(lambda: _log(client, "trio-alarm-bad"), lambda log: len(log) >= 4)
    # [retryCount, isRetry, getAlarm() in the handler, after re-arming]
    assert log == [[0, False, None, None], [1, True, None, None], [2, True, None, None], [3, True, None, None]]
    # Deleted after the last retry; the alarm each failed run set vanished with its KV and SQL writes.
    eventually(lambda: value(client, "trio-alarm-bad", "alarmAt"), lambda at: at is None)
    assert value(client, "trio-alarm-bad", "trioState") == NOTHING
    assert len(_log(client, "trio-alarm-bad")) == 4


def test_alarm_turn_that_returns_commits_all_three(client: httpx.Client) -> None:
    create_trio_table(client, "trio-alarm-ok")
    value(client, "trio-alarm-ok", "arm", 20, "trio-ok")
    state = eventually(lambda: value(client, "trio-alarm-ok", "trioState"), lambda s: s["kv"] is not None)
    assert_all_three(state, "alarm")
    assert _log(client, "trio-alarm-ok") == [[0, False, None, None]]  # getAlarm() was null inside


def test_a_thrown_transaction_fails_the_call_but_later_writes_commit(client: httpx.Client) -> None:
    result = rpc(client, "txn-thrown", "txnThrown")
    assert (result["ok"], result["name"]) == (False, "ActorOutputGateError")
    assert "inside the transaction" in result["message"]
    assert value(client, "txn-thrown", "keys", "tt/") == ["tt/a", "tt/c"]
    [rows] = value(client, "txn-thrown", "run", [["SELECT v FROM tt"]])
    assert [r["v"][1] for r in rows["rows"]] == ["after"]


def test_writes_beside_a_thrown_transaction_are_not_undone_with_it(client: httpx.Client) -> None:
    result = rpc(client, "beside-txn", "besideThrownTxn")
    assert (result["ok"], result["name"]) == (False, "ActorOutputGateError")
    assert value(client, "beside-txn", "keys", "bt/") == ["bt/after", "bt/beside"]
    assert isinstance(value(client, "beside-txn", "alarmAt"), int)


def committed(dev: Dev, actor: str, query: str) -> list[tuple[Any, ...]]:
    """What another connection sees in the actor's database file: only committed writes."""
    path = actor_file(dev.project / ".telnyx" / "dev" / "state", "SqlLab", actor)
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(query).fetchall()


def test_a_reply_leaves_only_after_its_writes_commit(client: httpx.Client, dev: Dev) -> None:
    value(client, "gate", "run", [["CREATE TABLE g (v INTEGER)"]])
    value(client, "gate", "put", "k", 1)
    assert committed(dev, "gate", "SELECT count(*) FROM __telnyx_kv WHERE key = CAST('k' AS BLOB)") == [(1,)]
    # Statements that write and return rows (RETURNING) are writes too.
    [inserted] = value(client, "gate", "run", [["INSERT INTO g VALUES (?) RETURNING v", 7]])
    assert (inserted["rows"], inserted["written"]) == ([{"v": ["number", 7]}], 1)
    assert committed(dev, "gate", "SELECT v FROM g") == [(7,)]
    [updated] = value(client, "gate", "run", [["UPDATE g SET v = v + 1 RETURNING v"]])
    assert (updated["rows"], updated["written"]) == ([{"v": ["number", 8]}], 1)
    assert committed(dev, "gate", "SELECT v FROM g") == [(8,)]
    [deleted] = value(client, "gate", "run", [["DELETE FROM g RETURNING v"]])
    assert deleted["written"] == 1
    assert committed(dev, "gate", "SELECT v FROM g") == []


# -- call order within a turn ---------------------------------------------------------------


def test_operations_apply_in_call_order(client: httpx.Client) -> None:
    actor = "order"
    value(client, actor, "put", "dp", "old")
    assert value(client, actor, "delPut", "dp") is True
    assert value(client, actor, "get", "dp") == "new"

    value(client, actor, "put", "dg", "old")
    assert value(client, actor, "delGet", "dg") == {"existed": True, "got": "undefined"}
    assert value(client, actor, "get", "dg") is None

    value(client, actor, "put", "rw", "old")
    value(client, actor, "put", "rl/old", 1)
    assert value(client, actor, "readsAroundWrites", "rw", "rl/") == {
        "before": "old", "after": "newer", "listedBefore": ["rl/old"], "listedAfter": ["rl/new", "rl/old"],
    }

    value(client, actor, "put", "tdp", "old")
    assert value(client, actor, "txnDelPut", "tdp") is True
    assert value(client, actor, "get", "tdp") == "new in txn"
    value(client, actor, "put", "tdg", "old")
    assert value(client, actor, "txnDelGet", "tdg") == {"existed": True, "got": "undefined"}
    assert value(client, actor, "get", "tdg") is None

    value(client, actor, "put", "l/1", 1)
    assert value(client, actor, "listOwn", "l/") == ["l/2"]
    assert value(client, actor, "txnListOwn", "l/") == ["l/3"]
    assert value(client, actor, "keys", "l/") == ["l/3"]

    assert value(client, actor, "alarmOrder") == {"set": True, "deleted": None}


# -- keys round-trip exactly ----------------------------------------------------------------

# Code units worth meeting often: lone surrogates of both halves and edges, pairs, U+FFFD, NUL,
# the ends of UTF-8's 1-, 2- and 3-byte ranges, and characters that sort differently in UTF-16.
SPECIAL = [
    [0xD800], [0xDBFF], [0xDC00], [0xDFFF], [0xD83D, 0xDE00], [0xDBFF, 0xDFFF], [0xD800, 0xDC00],
    [0xFFFD], [0xFFFF], [0xE000], [0x0000], [0x007F], [0x0080], [0x07FF], [0x0800], [0x2028],
]
PICKED = [[], [0x00], [0x20], [0xD800], [0xDC00], [0xDC00, 0xD800], [0xD800, 0x61], [0x61, 0xDBFF], [0xFFFD]]


def generated_keys(n: int, seed: int) -> list[list[int]]:
    """`n` distinct keys as UTF-16 code units: hand-picked edge cases, then seeded random ones."""
    rng = random.Random(seed)
    keys = [list(k) for k in PICKED]
    seen = {tuple(k) for k in keys}
    while len(keys) < n:
        units: list[int] = []
        pieces = rng.choice([rng.randint(1, 12)] * 8 + [rng.randint(100, 400)])  # now and then a long key
        for _ in range(pieces):
            roll = rng.random()
            if roll < 0.4:
                units += rng.choice(SPECIAL)
            elif roll < 0.7:
                units.append(rng.randint(0x20, 0x7E))
            elif roll < 0.9:
                units.append(rng.randint(0, 0xFFFF))  # any BMP unit, lone surrogates included
            else:
                cp = rng.randint(0x10000, 0x10FFFF) - 0x10000
                units += [0xD800 + (cp >> 10), 0xDC00 + (cp & 0x3FF)]
        if tuple(units) not in seen and units[:9] != [ord(c) for c in "__telnyx_"]:
            seen.add(tuple(units))
            keys.append(units)
    return keys


def code_point_order(keys: list[list[int]]) -> list[list[int]]:
    """Sort by code point: decode the units (pairs join, lone surrogates stay) and use str order."""
    def decoded(units: list[int]) -> str:
        return b"".join(u.to_bytes(2, "big") for u in units).decode("utf-16-be", "surrogatepass")
    return sorted(keys, key=decoded)


def test_generated_keys_round_trip_exactly_in_code_point_order(client: httpx.Client) -> None:
    keys = generated_keys(300, seed=8)
    assert any(len(k) > 150 for k in keys) and any(0xDC00 <= u <= 0xDFFF for k in keys for u in k)
    assert value(client, "keys", "putKeys", keys) == 300
    index = {tuple(k): i for i, k in enumerate(keys)}
    expected = code_point_order(keys)

    listed = value(client, "keys", "listKeys", {})
    assert [k for k, _ in listed] == expected  # every key its own row, exact, in code point order
    assert [v for _, v in listed] == [index[tuple(k)] for k in expected]
    assert value(client, "keys", "getKeys", keys) == list(range(300))
    reverse = value(client, "keys", "listKeys", {"reverse": True})
    assert [k for k, _ in reverse] == expected[::-1]
    ranged = value(client, "keys", "listKeys", {"start": expected[40], "end": expected[250]})
    assert [k for k, _ in ranged] == expected[40:250]
    # Prefixes cut from the keys themselves: a key starts with a prefix as JavaScript's
    # startsWith() says, code unit by code unit, even where the cut splits a surrogate pair.
    rng = random.Random(9)
    prefixes = sorted({tuple(k[:n]) for k in rng.sample(keys, 60) for n in (1, 2, 3) if len(k) >= n})
    split = [p for p in prefixes if 0xD800 <= p[-1] <= 0xDBFF and any(
        tuple(k[: len(p)]) == p and len(k) > len(p) and 0xDC00 <= k[len(p)] <= 0xDFFF for k in keys)]
    assert split and any(0xDC00 <= u <= 0xDFFF for p in prefixes for u in p)
    for prefix in prefixes[:30] + split[:10]:
        listed = value(client, "keys", "listKeys", {"prefix": list(prefix)})
        assert [k for k, _ in listed] == [k for k in expected if tuple(k[: len(prefix)]) == prefix], prefix
    for prefix in split[:3]:
        listed = value(client, "keys", "listKeys", {"prefix": list(prefix), "reverse": True})
        assert [k for k, _ in listed] == [k for k in expected[::-1] if tuple(k[: len(prefix)]) == prefix], prefix


# -- getAlarm() inside alarm() ---------------------------------------------------------------


def test_get_alarm_inside_alarm_is_null_unless_rearmed(client: httpx.Client) -> None:
    value(client, "rearm", "arm", 20, "rearm")
    [entry] = eventually(lambda: _log(client, "rearm"), lambda log: len(log) >= 1)
    retry_count, is_retry, seen, rearmed = entry
    assert (retry_count, is_retry, seen) == (0, False, None)
    assert isinstance(rearmed, int) and rearmed > now_ms()
    eventually(lambda: value(client, "rearm", "alarmAt"), lambda at: at == rearmed)


def test_an_alarm_that_rearms_when_none_is_set_keeps_polling(client: httpx.Client) -> None:
    value(client, "poller", "arm", 20, "poll")
    eventually(lambda: value(client, "poller", "get", "polls"), lambda n: n == 5)
    eventually(lambda: value(client, "poller", "alarmAt"), lambda at: at is None)
    assert [entry[2] for entry in _log(client, "poller")] == [None] * 5


def test_an_actor_named_with_lone_surrogates_gets_its_alarm(client: httpx.Client) -> None:
    # The name crosses to the runtime's Python side with the alarm; it must come back intact.
    for units in ([0x61, 0xD800], [0xDFFF, 0x62], [0xDC00, 0xD800]):
        value(client, "namer", "armNamed", units, 20, "plain")
        log = eventually(lambda: value(client, "namer", "logNamed", units), lambda log: len(log) >= 1)
        assert log == [[0, False, None, None]], units


# -- the spec 9.1 Account, in SQL -------------------------------------------------------------


async def debit_concurrently(
    base: str, account: str, n: int, headers: dict[str, str] | None = None,
) -> list[dict[str, Any]]:
    limits = httpx.Limits(max_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=60, headers=headers, limits=limits) as http:
        async def debit() -> dict[str, Any]:
            response = await http.post(f"/accounts/{account}/debit", json={"amount": 1})
            assert response.status_code == 200, response.text
            return dict(response.json())

        return await asyncio.gather(*(debit() for _ in range(n)))


def check_concurrent_debits(http: httpx.Client, base: str, account: str, headers: dict[str, str] | None = None) -> None:
    """100 in the account, 200 debits of 1 at once: exactly 100 pass, then a deposit of 5."""
    deposited = http.post(f"/accounts/{account}/deposit", json={"amount": 100}).json()
    assert deposited == {"account": account, "balance": 100}
    results = asyncio.run(debit_concurrently(base, account, 200, headers))
    assert sum(1 for r in results if r["ok"]) == 100
    assert all(r["balance"] >= 0 for r in results)
    assert http.get(f"/accounts/{account}/balance").json() == {"account": account, "balance": 0, "entries": 101}
    assert http.post(f"/accounts/{account}/deposit", json={"amount": 5}).json()["balance"] == 5


def rows(stdout: str) -> dict[str, list[str]]:
    """`actors instances` table rows by name."""
    found = {}
    for line in stdout.splitlines()[2:]:
        if line.strip():
            cells = re.split(r"\s{2,}", line.strip())
            found[cells[0]] = cells
    return found


def test_sql_account_never_overdraws_and_a_restart_keeps_everything(dev: Dev) -> None:
    with httpx.Client(base_url=dev.proc.url, timeout=30) as http:
        check_concurrent_debits(http, dev.proc.url, "acct-dev")
        value(http, "durable", "put", "k", "old")
        assert value(http, "durable", "delPut", "k") is True
        value(http, "tabled", "run", [["CREATE TABLE t1 (v); CREATE TABLE t2 (v); INSERT INTO t2 VALUES (1)"]])

    dev.stop()
    # The stopped runtime left its index: SQL TABLES and DB BYTES for actors with tables.
    accounts = run_cli("actors", "instances", "SqlAccount", "-f", str(dev.project))
    assert accounts.returncode == 0, accounts.stderr
    assert accounts.stdout.splitlines()[0].split() == [
        "NAME", "KEYS", "BYTES", "SQL", "TABLES", "DB", "BYTES", "LAST", "ACTIVITY", "NEXT", "ALARM"
    ]
    acct = rows(accounts.stdout)["acct-dev"]
    assert acct[1:4] == ["0", "0", "2"] and int(acct[4]) > 0, acct
    labs = rows(run_cli("actors", "instances", "SqlLab", "-f", str(dev.project)).stdout)
    assert labs["tabled"][1:4] == ["0", "0", "2"] and int(labs["tabled"][4]) > 0
    assert labs["durable"][1:4] == ["1", labs["durable"][2], "0"]

    dev.start()
    with httpx.Client(base_url=dev.proc.url, timeout=30) as http:
        assert http.get("/accounts/acct-dev/balance").json() == {"account": "acct-dev", "balance": 5, "entries": 102}
        assert value(http, "durable", "get", "k") == "new"
        [kept] = value(http, "tabled", "run", [["SELECT v FROM t2"]])
        assert kept["rows"] == [{"v": ["number", 1]}]


@pytest.mark.slow
def test_sql_account_under_serve(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    project = tmp_path / "sqlab"
    shutil.copytree(PROJECTS / "sqlab", project)
    link_node_modules(project)
    ship(project, "sqlab")

    server = start_server(["serve", "--port", "0"])
    try:
        found = (re.match(r"^\s+sqlab\s+http://(\S+\.localhost):\d+$", line) for line in server.lines)
        host = next(m.group(1) for m in found if m)
        headers = {"Host": host}
        with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
            check_concurrent_debits(http, server.url, "acct-serve", headers)
    finally:
        assert server.stop() == 0
    again = start_server(["serve", "--port", "0"])
    try:
        with httpx.Client(base_url=again.url, headers={"Host": host}, timeout=30) as http:
            balance = http.get("/accounts/acct-serve/balance").json()
            assert balance == {"account": "acct-serve", "balance": 5, "entries": 102}
    finally:
        assert again.stop() == 0
