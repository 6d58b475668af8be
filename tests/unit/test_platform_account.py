"""The account's secrets, KV namespaces and SQL databases (the files the runtime's bindings use)."""

from __future__ import annotations

import json
import os
import stat
import time
from pathlib import Path

import pytest

from telnyx_edge.account import kv, sqldb
from telnyx_edge.account.namespaces import Catalog, bucket_path, data_path
from telnyx_edge.account.secrets import SecretStore
from telnyx_edge.errors import AccountError, UsageError

UUID = "5b0c6d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"


def test_secrets_are_upper_cased_overwritten_and_kept_in_a_private_file(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    first, existed = store.add("gateway_key", "one")
    assert (first.name, existed) == ("GATEWAY_KEY", False)
    again, existed = store.add("GATEWAY_KEY", "two")
    assert existed and again.id == first.id and again.created_at == first.created_at
    assert store.values() == {"GATEWAY_KEY": "two"}
    assert [r.name for r in store.list()] == ["GATEWAY_KEY"]
    assert stat.S_IMODE(os.stat(tmp_path / "secrets.json").st_mode) == 0o600
    assert "value" not in vars(store.list()[0])
    store.delete("gateway_key")
    assert store.values() == {}
    with pytest.raises(AccountError, match="No secret named 'GATEWAY_KEY'"):
        store.delete("gateway_key")


@pytest.mark.parametrize("name", ["1ABC", "has space", "dash-ed", "", "A" * 257])
def test_secret_names_must_be_environment_variable_names(tmp_path: Path, name: str) -> None:
    with pytest.raises(UsageError, match="is not a valid secret name"):
        SecretStore(tmp_path).add(name, "v")


def test_secret_limits_and_a_damaged_file_never_quote_values(tmp_path: Path) -> None:
    store = SecretStore(tmp_path)
    with pytest.raises(UsageError, match="10241 bytes; the limit is 10240") as info:
        store.add("BIG", "s" * 10241)
    assert "sss" not in str(info.value)
    for i in range(100):
        store.add(f"S{i}", "v")
    with pytest.raises(AccountError, match="already has 100 secrets"):
        store.add("ONE_MORE", "v")
    (tmp_path / "secrets.json").write_text('{"A": {"value": "leak-me"')
    with pytest.raises(AccountError) as broken:
        store.list()
    assert "leak-me" not in broken.value.message and "not valid JSON" in broken.value.message


def test_kv_pairs_keys_ttl_and_pages(tmp_path: Path) -> None:
    record = Catalog(tmp_path).create("kv", "cache")
    kv.put(record.path, "a/1", b"one")
    kv.put(record.path, "a/1", b"uno")  # last write wins
    kv.put(record.path, "a/2", b"two", ttl_s=60)
    kv.put(record.path, "b", b"bee")
    assert kv.get(record.path, "a/1") == b"uno" and kv.get(record.path, "zz") is None
    page, cursor = kv.list_keys(record.path, prefix="a/", limit=1)
    assert [k.name for k in page] == ["a/1"] and cursor is not None
    page, cursor = kv.list_keys(record.path, prefix="a/", cursor=cursor)
    assert [k.name for k in page] == ["a/2"] and cursor is None
    assert page[0].expires_at_ms is not None and page[0].expires_at_ms > time.time() * 1000
    assert kv.delete(record.path, "b") and not kv.delete(record.path, "b")
    with pytest.raises(UsageError, match="not a valid KV key"):
        kv.put(record.path, "a:b", b"x")
    with pytest.raises(UsageError, match="at most 1048576 bytes"):
        kv.put(record.path, "big", b"x" * (1024 * 1024 + 1))
    assert [kv.parse_ttl(t) for t in ("30", "30s", "10m", "2h", "1d")] == [30, 30, 600, 7200, 86400]
    with pytest.raises(UsageError):
        kv.parse_ttl("0s")


def test_catalog_names_ids_and_what_a_runtime_records(tmp_path: Path) -> None:
    catalog = Catalog(tmp_path)
    db = catalog.create("sqldb", "links-db")
    assert catalog.get("sqldb", "links-db") == catalog.get("sqldb", db.id) == db
    with pytest.raises(AccountError, match="already exists"):
        catalog.create("sqldb", "links-db")
    with pytest.raises(UsageError, match="not a valid SQL database name"):
        catalog.create("sqldb", "../x")
    # A runtime binding an unknown id records it under the binding's name (or a unique variant).
    first = catalog.ensure("kv", UUID, "CACHE")
    assert (first.name, first.path) == ("CACHE", data_path(tmp_path, "kv", UUID)) and first.path.is_file()
    other = catalog.ensure("kv", "7d1f6c3e-7b7a-4a55-9a4e-9d6f0d7c1a11", "CACHE")
    assert other.name == "CACHE-7d1f6c3e"
    assert catalog.ensure("kv", UUID.upper(), "ELSE") == first
    catalog.delete("kv", "CACHE")
    assert not first.path.exists() and catalog.find("kv", UUID) is None
    with pytest.raises(UsageError, match="is not a UUID"):
        data_path(tmp_path, "kv", "../../etc/passwd")
    with pytest.raises(UsageError, match="not a valid bucket name"):
        bucket_path(tmp_path, "../up")


def test_sql_execute_is_one_transaction(tmp_path: Path) -> None:
    db = Catalog(tmp_path).create("sqldb", "db")
    results = sqldb.execute(db.path, "CREATE TABLE t (a TEXT); INSERT INTO t VALUES ('x;y'), ('z'); SELECT a FROM t ORDER BY a")
    assert [r.changes for r in results[:2]] == [0, 2] and results[2].rows == [("x;y",), ("z",)]
    with pytest.raises(UsageError, match="SQL error in statement 2: no such table: nope"):
        sqldb.execute(db.path, "INSERT INTO t VALUES ('w'); INSERT INTO nope VALUES (1)")
    assert sqldb.execute(db.path, "SELECT count(*) FROM t")[0].rows == [(2,)]  # the first insert was undone
    assert sqldb.split_statements("SELECT ';' ; -- c;\nSELECT 2") == ["SELECT ';' ;", "-- c;\nSELECT 2;"]
    assert json.dumps([r.columns for r in results]) == '[[], [], ["a"]]'
