"""`ctx.storage.sql` and `transactionSync` under the real `telnyx-edge dev`, one fact of spec 3.6
per test, plus `deleteAll()` over SQL tables (spec 3.8), against the `sqlab` fixture.

One dev server serves the module; tests use distinct actor names so they do not interfere.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.dev_helpers import client_for, close, copy_project, rpc, start_dev, value
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e

MIB2 = 2 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[ServerProcess]:
    project = copy_project("sqlab", tmp_path_factory.mktemp("dev-sqlab"))
    proc = start_dev(project, "--no-watch")
    yield proc
    assert close(proc) == 0


@pytest.fixture
def client(server: ServerProcess) -> Iterator[httpx.Client]:
    yield from client_for(server)


def run(client: httpx.Client, actor: str, *steps: list[Any]) -> list[dict[str, Any]]:
    """Run SQL steps ([query, *binds]) in one turn of `actor`; each result is rows or an error."""
    result: list[dict[str, Any]] = value(client, actor, "run", [list(s) for s in steps])
    return result


def plain(step: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows of a step without their JavaScript type tags."""
    assert "error" not in step, step
    return [{k: v[1] for k, v in row.items()} for row in step["rows"]]


def error(step: dict[str, Any]) -> tuple[str, str]:
    assert "error" in step, step
    return step["error"], step["message"]


def test_positional_binds_and_value_types(client: httpx.Client) -> None:
    blob = [0, 1, 127, 128, 254, 255]
    steps = run(
        client, "types",
        ["CREATE TABLE t (i INTEGER, r REAL, s TEXT, b BLOB, n TEXT)"],
        ["INSERT INTO t VALUES (?, ?, ?, ?, ?)", 7, 2.5, "héllo ✓", {"bytes": blob}, None],
        ["SELECT i, r, s, b, n FROM t"],
        ["SELECT ? AS first, ? AS second, ? || ? AS joined", "a", 2, "x", "y"],
        ["SELECT length(?) AS len, typeof(?) AS kind", {"bytes": []}, {"bytes": [9]}],
    )
    assert steps[1]["written"] == 1
    assert steps[2]["rows"] == [{
        "i": ["number", 7], "r": ["number", 2.5], "s": ["string", "héllo ✓"],
        "b": ["ArrayBuffer", blob], "n": ["null", None],
    }]
    assert steps[2]["columns"] == ["i", "r", "s", "b", "n"]
    assert steps[3]["rows"] == [{"first": ["string", "a"], "second": ["number", 2], "joined": ["string", "xy"]}]
    assert plain(steps[4]) == [{"len": 0, "kind": "blob"}]


def test_cursor_is_single_pass(client: httpx.Client) -> None:
    run(client, "cursor", ["CREATE TABLE c (v INTEGER)"], ["INSERT INTO c VALUES (1), (2), (3), (4)"])
    query = "SELECT v FROM c ORDER BY v"
    full = value(client, "cursor", "cursor", query, 10)
    assert full == {"first": [{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}], "rest": [], "again": []}
    partial = value(client, "cursor", "cursor", query, 1)
    assert partial == {"first": [{"v": 1}], "rest": [{"v": 2}, {"v": 3}, {"v": 4}], "again": []}
    untouched = value(client, "cursor", "cursor", query, 0)
    assert untouched == {"first": [], "rest": [{"v": 1}, {"v": 2}, {"v": 3}, {"v": 4}], "again": []}


def test_multi_statement_strings(client: httpx.Client) -> None:
    # In order (each statement needs the one before), binds on the last, cursor over the last.
    [done] = run(client, "multi", [
        "CREATE TABLE m (v INTEGER); INSERT INTO m VALUES (1); INSERT INTO m VALUES (2);"
        " SELECT count(*) AS n, max(v) AS top FROM m WHERE v < ?", 10,
    ])
    assert plain(done) == [{"n": 2, "top": 2}]
    [written] = run(client, "multi", ["INSERT INTO m VALUES (3); UPDATE m SET v = v + ? WHERE v >= ?", 100, 2])
    assert written["written"] == 2 and written["columns"] == []
    # A later statement failing does not undo the earlier ones (no transactionSync here).
    failed, after = run(
        client, "multi",
        ["INSERT INTO m VALUES (4); INSERT INTO nosuch VALUES (5); INSERT INTO m VALUES (6)"],
        ["SELECT v FROM m ORDER BY v"],
    )
    assert error(failed)[0] == "SqlError" and "nosuch" in error(failed)[1]
    assert [r["v"] for r in plain(after)] == [1, 4, 102, 103]
    [again] = run(client, "multi", ["SELECT v FROM m ORDER BY v"])  # and the turn committed them
    assert [r["v"] for r in plain(again)] == [1, 4, 102, 103]


def test_transaction_sync_undoes_only_its_own_writes(client: httpx.Client) -> None:
    result = rpc(client, "tsync", "txnSyncThrows")
    assert result["ok"] is True, result  # a thrown transactionSync does not poison the turn
    assert result["value"] == {"caught": "undo me", "passed": 42, "seen": ["before", "kept", "after"]}
    [rows] = run(client, "tsync", ["SELECT v FROM ts ORDER BY rowid"])
    assert [r["v"] for r in plain(rows)] == ["before", "kept", "after"]
    assert value(client, "tsync", "keys", "ts/") == ["ts/after", "ts/before"]


def test_transaction_sync_refuses_async_callbacks(client: httpx.Client) -> None:
    out = value(client, "tasync", "txnSyncAsync")
    assert out == {"async": "SqlAsyncTransactionError", "promise": "SqlAsyncTransactionError", "rows": 0, "keys": []}
    [rows] = run(client, "tasync", ["SELECT count(*) AS n FROM ta"])
    assert plain(rows) == [{"n": 0}]
    assert value(client, "tasync", "keys", "ta/") == []


CONTROL = [
    "BEGIN", "begin transaction", "BEGIN IMMEDIATE", "COMMIT", "END", "ROLLBACK", "SAVEPOINT s1",
    "RELEASE s1", "ROLLBACK TO s1", "/* hidden */ BEGIN", "-- a comment\nCOMMIT", "SELECT 1; COMMIT",
]


def test_raw_transaction_control_is_refused(client: httpx.Client) -> None:
    steps = run(client, "control", ["CREATE TABLE k (v INTEGER)"], *[[q] for q in CONTROL],
                ["INSERT INTO k VALUES (1)"])
    for query, step in zip(CONTROL, steps[1:-1]):
        name, message = error(step)
        assert name == "SqlTransactionControlError", (query, step)
        assert "transactionSync" in message
    assert steps[-1]["written"] == 1  # the turn's own transaction is still usable
    [rows] = run(client, "control", ["SELECT count(*) AS n FROM k"])
    assert plain(rows) == [{"n": 1}]


def test_bound_value_size_limit(client: httpx.Client) -> None:
    query = "SELECT length(CAST(? AS BLOB)) AS len"
    ok_str, ok_buf, big_str, big_buf, big_utf8 = run(
        client, "limits",
        [query, {"str": MIB2}], [query, {"buf": MIB2}],
        [query, {"str": MIB2 + 1}], [query, {"buf": MIB2 + 1}],
        [query, {"str": MIB2 // 2 + 1, "ch": "é"}],  # fewer UTF-16 units than bytes: counted in bytes
    )
    assert plain(ok_str) == [{"len": MIB2}] and plain(ok_buf) == [{"len": MIB2}]
    for step in (big_str, big_buf, big_utf8):
        assert error(step)[0] == "SqlParameterTooLargeError", step


def test_bound_value_count_limit(client: httpx.Client) -> None:
    assert value(client, "limits", "manyBinds", 32_766) == {"found": 0}
    too_many = value(client, "limits", "manyBinds", 32_767)
    assert too_many["error"] == "SqlError" and "32766" in too_many["message"]


def test_integers_beyond_2_53_throw_range_error_on_read(client: httpx.Client) -> None:
    steps = run(
        client, "bigint",
        ["CREATE TABLE big (v INTEGER)"],
        ["INSERT INTO big VALUES (9007199254740992)"],  # writing is fine
        ["SELECT 9007199254740991 AS max, -9007199254740991 AS min"],
        ["SELECT v FROM big"],
        ["SELECT -9007199254740992 AS v"],
    )
    assert steps[1]["written"] == 1
    assert plain(steps[2]) == [{"max": 9007199254740991, "min": -9007199254740991}]
    assert error(steps[3])[0] == "RangeError"
    assert error(steps[4])[0] == "RangeError"


def test_foreign_keys_are_on(client: httpx.Client) -> None:
    steps = run(
        client, "fk",
        ["CREATE TABLE p (id INTEGER PRIMARY KEY); CREATE TABLE ch (pid INTEGER REFERENCES p(id))"],
        ["INSERT INTO p VALUES (1)"],
        ["INSERT INTO ch VALUES (1)"],
        ["INSERT INTO ch VALUES (2)"],
        ["DELETE FROM p WHERE id = 1"],
        ["SELECT count(*) AS n FROM ch"],
    )
    assert steps[2]["written"] == 1
    for step in (steps[3], steps[4]):
        name, message = error(step)
        assert name == "SqlError" and "FOREIGN KEY constraint failed" in message
    assert plain(steps[5]) == [{"n": 1}]


def test_a_failing_statement_throws_and_the_actor_keeps_running(client: httpx.Client) -> None:
    first = value(client, "survivor", "memory")
    result = rpc(client, "survivor", "sqlThrow", "SELECT * FROM no_such_table")
    assert (result["ok"], result["name"]) == (False, "SqlError")
    assert "no such table: no_such_table" in result["message"]
    syntax = rpc(client, "survivor", "sqlThrow", "SELEKT 1")
    assert (syntax["ok"], syntax["name"]) == (False, "SqlError")
    assert value(client, "survivor", "memory") == first + 1  # the same instance, still running
    assert value(client, "survivor", "sqlThrow", "SELECT 1 AS one") == [{"one": 1}]


RESERVED = [
    "CREATE TABLE __telnyx_mine (v)",
    "SELECT * FROM __telnyx_kv",
    "SELECT * FROM __TELNYX_KV",
    'SELECT * FROM "__Telnyx_meta"',
    "SELECT * FROM [__telnyx_kv]",
    "SELECT * FROM '__telnyx_kv'",  # SQLite takes a quoted string as a table name here
    "DELETE FROM __telnyx_kv",
    "DROP TABLE __telnyx_meta",
    "UPDATE __telnyx_meta SET alarm_ms = 1",
    "SELECT * FROM pragma_table_info('__telnyx_kv')",
]


def test_reserved_names_are_refused(client: httpx.Client) -> None:
    value(client, "reserved", "put", "kept", "intact")
    steps = run(client, "reserved", *[[q] for q in RESERVED])
    for query, step in zip(RESERVED, steps):
        name, message = error(step)
        assert name == "SqlError", (query, step)
        assert "__telnyx_" in message and "reserved" in message, (query, message)
    assert value(client, "reserved", "get", "kept") == "intact"
    assert value(client, "reserved", "keys", "") == ["kept"]


def test_delete_all_clears_kv_and_sql_atomically_and_keeps_the_alarm(client: httpx.Client) -> None:
    run(
        client, "wiper",
        ["CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT);"
         " CREATE TABLE child (id INTEGER PRIMARY KEY, pid INTEGER NOT NULL REFERENCES parent(id));"
         " CREATE INDEX child_pid ON child(pid); CREATE VIEW pv AS SELECT v FROM parent;"
         " CREATE TRIGGER pt AFTER INSERT ON parent BEGIN UPDATE parent SET v = upper(v) WHERE id = new.id; END;"
         " INSERT INTO parent (v) VALUES ('a'), ('b'); INSERT INTO child (pid) VALUES (1), (2), (2)"],
    )
    value(client, "wiper", "put", "k1", 1)
    value(client, "wiper", "put", "k2", 2)
    when = value(client, "wiper", "arm", 3_600_000, "none")
    schema = [["table", "child"], ["index", "child_pid"], ["table", "parent"], ["trigger", "pt"], ["view", "pv"]]
    assert value(client, "wiper", "schema") == schema

    failed = rpc(client, "wiper", "wipe", True)  # deleteAll() then a throw: nothing is cleared
    assert (failed["ok"], failed["message"]) == (False, "wipe failed on purpose")
    assert value(client, "wiper", "schema") == schema
    assert value(client, "wiper", "keys", "") == ["alarm-mode", "k1", "k2"]
    [rows] = run(client, "wiper", ["SELECT count(*) AS n FROM child"])
    assert plain(rows) == [{"n": 3}]

    assert value(client, "wiper", "wipe", False) == when  # cleared; the alarm stays
    assert value(client, "wiper", "schema") == []
    assert value(client, "wiper", "keys", "") == []
    assert value(client, "wiper", "alarmAt") == when
    # The names are free again and AUTOINCREMENT starts over.
    [fresh] = run(client, "wiper", [
        "CREATE TABLE parent (id INTEGER PRIMARY KEY AUTOINCREMENT, v TEXT); INSERT INTO parent (v) VALUES ('c');"
        " SELECT id, v FROM parent",
    ])
    assert plain(fresh) == [{"id": 1, "v": "c"}]
