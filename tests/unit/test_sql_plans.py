"""sql.exec's plan cache (runtime/js/sql.mjs): a query text is split and checked once per
isolate, and what the checks refuse is refused on every call, not only the first (spec 3.6)."""

from __future__ import annotations

from typing import Any

from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import node_json

_SCRIPT = """
const { SqlStorage } = await import(process.argv[1]);
const { requirePackage } = await import(process.argv[2]);
const Database = requirePackage("better-sqlite3");
const db = new Database(":memory:");
db.exec("CREATE TABLE __telnyx_kv (key TEXT); CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)");
let writes = 0;
const sql = new SqlStorage(() => ({ db, wrote() { writes++; } }));
const out = {};
const refused = (query) => {
  const names = [];
  for (let i = 0; i < 3; i++) {
    try { sql.exec(query); names.push("ok"); } catch (err) { names.push(err.name); }
  }
  return names;
};
out.reserved = refused("SELECT * FROM __telnyx_kv");
out.control = refused("BEGIN");
out.pragma = refused("PRAGMA journal_mode = DELETE");
out.empty = refused("  ;  ");
// ':memory:': a regression that let ATTACH through must not leave a file behind.
out.attach = refused("SELECT 1; ATTACH ':memory:' AS x");

// The same text, many times: every call runs (a cached plan still binds and writes).
for (let i = 1; i <= 50; i++) sql.exec("UPDATE t SET v = v + 1 WHERE id = 1; INSERT INTO t (v) VALUES (?)", i);
out.rows = sql.exec("SELECT count(*) AS n, sum(v) AS s FROM t").one();
out.writes = writes;
// Multi-statement text from the cache: binds still go to the last statement only.
out.multi = sql.exec("UPDATE t SET v = 0 WHERE id = 1; SELECT v FROM t WHERE id = ?", 1).toArray();
out.multiAgain = sql.exec("UPDATE t SET v = 0 WHERE id = 1; SELECT v FROM t WHERE id = ?", 2).toArray();

// Past the cache's bound (1,000 texts) everything still works and refusals still hold.
for (let i = 0; i < 2500; i++) sql.exec(`SELECT ${i} AS n`);
out.afterBound = [sql.exec("SELECT 7 AS n").one().n, refused("SELECT key FROM __telnyx_kv")[2]];
console.log(JSON.stringify(out));
"""


def _run() -> dict[str, Any]:
    result: dict[str, Any] = node_json(_SCRIPT, (JS_DIR / "sql.mjs").as_uri(), (JS_DIR / "packages.mjs").as_uri(), timeout=60)
    return result


def test_refused_texts_are_refused_on_every_call_and_cached_plans_still_run() -> None:
    out = _run()
    assert out["reserved"] == ["SqlError"] * 3
    assert out["control"] == ["SqlTransactionControlError"] * 3
    assert out["pragma"] == ["SqlError"] * 3
    assert out["empty"] == ["SqlError"] * 3
    assert out["attach"] == ["SqlError"] * 3
    # 50 inserts (v = 1..50); each call after the first also bumped row 1 by one: 1275 + 49.
    assert out["rows"] == {"n": 50, "s": 1275 + 49}
    assert out["writes"] >= 100
    assert out["multi"] == [{"v": 0}]
    assert out["multiAgain"] == [{"v": 2}]
    assert out["afterBound"] == [7, "SqlError"]
