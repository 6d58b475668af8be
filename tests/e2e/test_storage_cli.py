"""`telnyx-edge storage kv|sqldb` against a fresh local account (no runtime needed)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.harness import run_cli

pytestmark = pytest.mark.e2e

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}$")


def test_kv_namespace_commands(edge_home: Path, tmp_path: Path) -> None:
    created = run_cli("storage", "kv", "create", "--name", "my-cache")
    assert created.returncode == 0, created.stderr
    lines = created.stdout.splitlines()
    assert lines[0] == "✓ Created KV namespace 'my-cache'" and UUID_RE.match(lines[1])
    ns = lines[1]
    duplicate = run_cli("storage", "kv", "create", "--name", "my-cache")
    assert duplicate.returncode == 7 and "❌ A KV namespace named 'my-cache' already exists" in duplicate.stderr

    assert run_cli("storage", "kv", "key", "put", ns, "user/1", "hello", "--ttl", "10m").returncode == 0
    (tmp_path / "data.bin").write_bytes(b"\x00\x01binary")
    assert run_cli("storage", "kv", "key", "put", "my-cache", "blob", "--path", str(tmp_path / "data.bin")).returncode == 0
    assert run_cli("storage", "kv", "key", "get", ns, "user/1").stdout == "hello"
    assert run_cli("storage", "kv", "key", "get", ns, "blob").stdout == "\x00\x01binary"
    listed = json.loads(run_cli("storage", "kv", "key", "list", ns, "--json").stdout)
    assert [k["name"] for k in listed["keys"]] == ["blob", "user/1"] and listed["list_complete"] is True
    assert "expiration" in listed["keys"][1] and "expiration" not in listed["keys"][0]
    page = json.loads(run_cli("storage", "kv", "key", "list", ns, "--limit", "1", "--json").stdout)
    assert page["list_complete"] is False
    rest = json.loads(run_cli("storage", "kv", "key", "list", ns, "--cursor", page["cursor"], "--json").stdout)
    assert [k["name"] for k in rest["keys"]] == ["user/1"]
    table = run_cli("storage", "kv", "key", "list", ns, "--prefix", "user/").stdout.splitlines()
    assert table[0].split() == ["KEY", "SIZE", "UPDATED", "AT", "EXPIRES", "AT"] and table[2].startswith("user/1  5 ")

    bad = run_cli("storage", "kv", "key", "put", ns, "a:b", "x")
    assert bad.returncode == 2 and "❌ 'a:b' is not a valid KV key" in bad.stderr
    missing = run_cli("storage", "kv", "key", "get", ns, "nope")
    assert missing.returncode == 7 and "No key 'nope' in KV namespace 'my-cache'" in missing.stderr
    assert run_cli("storage", "kv", "key", "delete", ns, "blob").stdout == "✅ Key 'blob' deleted\n"
    assert "was not there" in run_cli("storage", "kv", "key", "delete", ns, "blob").stdout

    declined = run_cli("storage", "kv", "delete", ns, input="n\n")
    assert declined.returncode == 1 and "Nothing deleted." in declined.stdout
    assert run_cli("storage", "kv", "delete", "my-cache", "-y").stdout == "✅ KV namespace 'my-cache' deleted\n"
    assert not (edge_home / "storage" / "kv" / f"{ns}.sqlite").exists()
    gone = run_cli("storage", "kv", "get", ns)
    assert gone.returncode == 7 and f"No KV namespace '{ns}' on this account" in gone.stderr


def test_sqldb_commands(edge_home: Path, tmp_path: Path) -> None:
    db = run_cli("storage", "sqldb", "create", "--name", "links-db").stdout.splitlines()[1]
    schema = tmp_path / "schema.sql"
    schema.write_text("CREATE TABLE links (slug TEXT PRIMARY KEY, url TEXT);\nINSERT INTO links VALUES ('a', 'https://a;b');\n")
    applied = run_cli("storage", "sqldb", "execute", "links-db", "--file", str(schema))
    assert applied.returncode == 0, applied.stderr
    assert applied.stdout.splitlines()[1] == "✓ INSERT INTO links VALUES ('a', 'https://a;b');: 1 row(s) changed"
    query = run_cli("storage", "sqldb", "execute", db, "--remote", "--command", "SELECT slug, url FROM links")
    assert query.stdout.splitlines()[2].split() == ["a", "https://a;b"]
    failed = run_cli("storage", "sqldb", "execute", db, "--command", "INSERT INTO links VALUES ('b', 'x'); SELECT * FROM nope")
    assert failed.returncode == 2 and "❌ SQL error in statement 2: no such table: nope" in failed.stderr
    count = run_cli("storage", "sqldb", "execute", db, "--command", "SELECT count(*) AS n FROM links", "--json")
    assert json.loads(count.stdout) == [{"columns": ["n"], "rows": [[1]], "changes": 0}]  # nothing changed
    both = run_cli("storage", "sqldb", "execute", db, "--command", "SELECT 1", "--file", str(schema))
    assert both.returncode == 2 and "Pass exactly one of --command SQL or --file PATH" in both.stderr
    listed = json.loads(run_cli("storage", "sqldb", "list", "--json").stdout)
    assert [(d["id"], d["name"]) for d in listed] == [(db, "links-db")] and listed[0]["size_bytes"] > 0
    assert run_cli("storage", "sqldb", "delete", db, "-y").returncode == 0
    assert "No SQL databases on this account yet" in run_cli("storage", "sqldb", "list").stdout


def test_sqldb_execute_cannot_reach_other_files_or_change_the_journal(edge_home: Path, tmp_path: Path) -> None:
    assert run_cli("storage", "sqldb", "create", "--name", "guarded").returncode == 0
    outside = tmp_path / "outside.db"
    for command in (f"ATTACH '{outside}' AS o", "PRAGMA journal_mode = DELETE", "PRAGMA synchronous = OFF"):
        result = run_cli("storage", "sqldb", "execute", "guarded", "--command", command)
        assert result.returncode == 2, command
        assert result.stderr.splitlines()[0] == "❌ SQL error in statement 1: not authorized", command
    assert not outside.exists()
    info = run_cli("storage", "sqldb", "execute", "guarded", "--command", "CREATE TABLE t (a); PRAGMA table_info(t)")
    assert info.returncode == 0, info.stderr
