"""`telnyx-edge storage sqldb execute`: run SQL against a local SQL database file.

Statements run one by one in a single transaction (all or nothing), so a `--file` of
migrations either applies completely or not at all. The runtime's `SqlDatabase` binding
(`runtime/js/bindings/sqldb.mjs`) opens the same file with better-sqlite3.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telnyx_edge.errors import UsageError


@dataclass(frozen=True)
class StatementResult:
    sql: str
    columns: tuple[str, ...]
    rows: list[tuple[Any, ...]]
    changes: int


def split_statements(script: str) -> list[str]:
    """Complete SQL statements in order (semicolons inside strings and comments do not split)."""
    statements: list[str] = []
    current = ""
    for part in script.split(";"):
        current += part + ";"
        if sqlite3.complete_statement(current):
            if current.strip(" \t\r\n;"):
                statements.append(current.strip())
            current = ""
    if current.strip(" \t\r\n;"):
        statements.append(current.strip().removesuffix(";"))
    return statements


_REFUSED = {sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH}
_READ_PRAGMAS = {
    "table_info", "table_xinfo", "table_list", "index_list", "index_info", "index_xinfo", "foreign_key_list",
    "foreign_key_check", "quick_check", "integrity_check", "page_count", "page_size", "freelist_count",
}


def _authorize(action: int, arg1: str | None, arg2: str | None, db: str | None, source: str | None) -> int:
    if action in _REFUSED:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() not in _READ_PRAGMAS:
        return sqlite3.SQLITE_DENY
    return sqlite3.SQLITE_OK


def execute(path: Path, script: str) -> list[StatementResult]:
    statements = split_statements(script)
    if not statements:
        raise UsageError("No SQL statement to run", hint='Pass --command "SELECT 1" or --file PATH with SQL in it.')
    from telnyx_edge.account.storefile import open_store

    conn = open_store(path)
    results: list[StatementResult] = []
    try:
        # The database is shared with running functions (WAL): no other files, no journal or
        # durability changes from a script.
        conn.set_authorizer(_authorize)
        conn.execute("BEGIN IMMEDIATE")
        try:
            for sql in statements:
                cursor = conn.execute(sql)
                rows = cursor.fetchall()
                columns = tuple(d[0] for d in cursor.description or ())
                results.append(StatementResult(sql, columns, rows, max(cursor.rowcount, 0) if not columns else 0))
        except sqlite3.Error as exc:
            conn.execute("ROLLBACK")
            raise UsageError(f"SQL error in statement {len(results) + 1}: {exc}", hint="Nothing was changed; fix the statement and run again.") from exc
        conn.execute("COMMIT")
    finally:
        conn.close()
    return results
