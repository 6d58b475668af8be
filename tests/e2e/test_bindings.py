"""Secrets, [env_vars] and the platform bindings (KV, SQL, bucket, rate limiter, [telnyx]) under
the real `dev` and `serve`, checked over HTTP against the `bindings` fixture; the `bindings-peer`
fixture binds the same KV namespace id and rate limiter name. Every test also checks that the
secret's value never reaches any output."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from telnyx_edge import config
from telnyx_edge.account import open_account
from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ServerProcess, run_cli, start_server

pytestmark = pytest.mark.e2e

SECRET = "sk_live_Zq8-never-print-me"
KV_ID = "5b0c6d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"
DB_ID = "0f1e2d3c-4b5a-4697-8877-665544332211"


def cli(home: Path, *args: str, input: str | None = None) -> Any:
    return run_cli(*args, env={"TELNYX_EDGE_HOME": str(home)}, input=input)


def call(client: httpx.Client, binding: str, method: str, *args: Any) -> dict[str, Any]:
    response = client.post("/call", json={"binding": binding, "method": method, "args": list(args)})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def ok(client: httpx.Client, binding: str, method: str, *args: Any) -> Any:
    result = call(client, binding, method, *args)
    assert result["ok"], result
    return result["value"]


def fails(client: httpx.Client, binding: str, method: str, *args: Any) -> tuple[str, str]:
    result = call(client, binding, method, *args)
    assert not result["ok"], result
    return result["name"], result["message"]


def sql(client: httpx.Client, mode: str, *steps: tuple[str, list[Any]]) -> dict[str, Any]:
    response = client.post("/sql", json={"mode": mode, "steps": [{"sql": s, "params": p} for s, p in steps]})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Iterator[tuple[ServerProcess, Path, Path]]:
    root = tmp_path_factory.mktemp("bindings-dev")
    home = root / "home"
    project, peer = copy_project("bindings", root), copy_project("bindings-peer", root)
    assert cli(home, "secrets", "add", "api_token", SECRET).returncode == 0
    env_file = root / "run.env"
    env_file.write_text('# one run only\nexport GREETING="hello from the env file"\nEXTRA_ONLY=extra # comment\n')
    server = start_dev(
        project, "--no-watch", "--with", str(peer), "--env-file", str(env_file),
        env={"TELNYX_EDGE_HOME": str(home)},
    )
    yield server, home, project
    assert close(server) == 0
    assert SECRET not in server.output


@pytest.fixture
def client(dev: tuple[ServerProcess, Path, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dev[0].url, timeout=30) as http:
        yield http


@pytest.fixture
def peer(dev: tuple[ServerProcess, Path, Path]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=dev[0].url, timeout=30, headers={"Host": "bindings-peer.localhost"}) as http:
        yield http


def test_secrets_env_vars_and_the_env_file(client: httpx.Client, dev: tuple[ServerProcess, Path, Path]) -> None:
    server, home, project = dev
    assert client.get("/secret", params={"handle": "API_TOKEN"}).json() == {"ok": True, "value": SECRET}
    assert client.get("/env").json() == {
        "mode": "test", "greeting": "hello from the env file",  # the env file overrides [env_vars] ...
        "processMode": "test", "processGreeting": "hello from the env file",
        "processToken": SECRET,  # every account secret is a process variable
        "extra": "extra",  # ... and adds process variables, for this run only
        "bindings": ["CACHE", "DB", "FILES", "GREETING", "LIMITER", "MODE", "NOTES", "SECRETS", "TELNYX"],
    }
    assert client.get("/actor/token").json() == {"ok": True, "value": SECRET}  # inside an actor too
    listed = json.loads(cli(home, "secrets", "list", "--json").stdout)
    assert [s["name"] for s in listed] == ["API_TOKEN"]  # the env file did not touch the account
    assert "Not available locally" not in server.output  # every binding kind runs locally
    assert 'bindings: secret NEVER_ADDED (env.SECRETS.get("UNSET")) is not set' in server.output
    # dev writes nothing in the project but .telnyx/ (the data lives on the account).
    assert sorted(p.name for p in project.iterdir()) == [".telnyx", "node_modules", "src", "telnyx.toml", "tsconfig.json"]


def test_missing_secrets_reject_naming_handle_and_secret(client: httpx.Client) -> None:
    unset = client.get("/secret", params={"handle": "UNSET"}).json()
    assert unset["name"] == "SecretNotFoundError"
    assert unset["message"] == 'env.SECRETS.get("UNSET"): secret NEVER_ADDED is not set on the account; run: telnyx-edge secrets add NEVER_ADDED VALUE'
    unknown = client.get("/secret", params={"handle": "NOPE"}).json()
    assert unknown["name"] == "SecretNotFoundError"
    assert "no [[secrets]] block has binding = \"NOPE\" (declared: API_TOKEN, UNSET)" in unknown["message"]


NO_KEY = (
    "env.TELNYX: the TELNYX_API_KEY secret is not set; add it with `telnyx-edge secrets add TELNYX_API_KEY` "
    "(or export TELNYX_API_KEY before starting telnyx-edge) and restart"
)


def test_telnyx_binding_without_a_key_says_how_to_add_it(client: httpx.Client) -> None:
    result = client.get("/telnyx").json()
    assert (result["ok"], result["name"], result["message"]) == (False, "Error", NO_KEY)


def test_kv_namespace_api(client: httpx.Client, dev: tuple[ServerProcess, Path, Path]) -> None:
    assert ok(client, "CACHE", "get", "api/missing") is None
    ok(client, "CACHE", "put", "api/a", "1")
    ok(client, "CACHE", "put", "api/a", '{"n": 2}')  # last write wins
    assert ok(client, "CACHE", "get", "api/a") == '{"n": 2}'
    assert ok(client, "CACHE", "get", "api/a", {"type": "json"}) == {"n": 2}
    for key in ("api/b", "api/c", "other/d"):
        ok(client, "CACHE", "put", key, key.upper(), {"expirationTtl": 3600})
    first = ok(client, "CACHE", "list", {"prefix": "api/", "limit": 2})
    assert [k["name"] for k in first["keys"]] == ["api/a", "api/b"] and first["list_complete"] is False
    assert first["keys"][0]["sizeBytes"] == 8 and first["keys"][1]["expiration"] > time.time() + 3000
    rest = ok(client, "CACHE", "list", {"prefix": "api/", "cursor": first["cursor"]})
    assert [k["name"] for k in rest["keys"]] == ["api/c"] and rest["list_complete"] is True and "cursor" not in rest
    ok(client, "CACHE", "delete", "api/c")
    ok(client, "CACHE", "delete", "api/c")  # idempotent
    assert ok(client, "CACHE", "get", "api/c") is None
    # An expired pair reads as missing (its expiry set in the past, straight in the namespace's file).
    path = dev[1] / "storage" / "kv" / f"{KV_ID}.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("UPDATE kv SET expires_at = 1 WHERE key = 'api/b'")
    conn.close()
    assert ok(client, "CACHE", "get", "api/b") is None
    assert [k["name"] for k in ok(client, "CACHE", "list", {"prefix": "api/"})["keys"]] == ["api/a"]


@pytest.mark.parametrize("key", ["a:b", "", "x" * 257, "spaced key", "ü"])
def test_kv_rejects_bad_keys(client: httpx.Client, key: str) -> None:
    name, message = fails(client, "CACHE", "put", key, "v")
    assert name == "KvInvalidKeyError" and "invalid key (400)" in message


def test_kv_value_limit_is_one_mib(client: httpx.Client) -> None:
    ok(client, "CACHE", "put", "big", "x" * (1024 * 1024))
    name, message = fails(client, "CACHE", "put", "big", "x" * (1024 * 1024 + 1))
    assert name == "KvValueTooLargeError"
    assert message == 'env.CACHE.put("big"): value is 1048577 bytes; the limit is 1048576 bytes (1 MiB) (413)'
    assert fails(client, "CACHE", "put", "n", 5)[0] == "TypeError"  # values are strings
    assert fails(client, "CACHE", "put", "n", "v", {"expirationTtl": -1})[0] == "TypeError"
    assert len(ok(client, "CACHE", "get", "big")) == 1024 * 1024


def test_second_function_and_cli_share_the_namespace(client: httpx.Client, peer: httpx.Client, dev: tuple[ServerProcess, Path, Path]) -> None:
    home = dev[1]
    ok(client, "CACHE", "put", "shared/one", "from bindings")
    assert peer.get("/", params={"prefix": "shared/"}).json() == {"keys": ["shared/one"], "first": "from bindings"}
    assert client.get("/actor", params={"key": "shared/two"}).json() == {"ok": True, "value": "from-actor"}
    assert peer.get("/", params={"prefix": "shared/"}).json()["keys"] == ["shared/one", "shared/two"]
    # The CLI reads and writes the same namespace (auto-recorded under the binding's name).
    assert cli(home, "storage", "kv", "key", "get", KV_ID, "shared/two").stdout == "from-actor"
    assert cli(home, "storage", "kv", "key", "put", "CACHE", "shared/three", "from cli").returncode == 0
    assert ok(client, "CACHE", "get", "shared/three") == "from cli"
    listed = json.loads(cli(home, "storage", "kv", "list", "--json").stdout)
    assert [(n["id"], n["name"]) for n in listed] == [(KV_ID, "CACHE")]


def test_sql_database(client: httpx.Client, dev: tuple[ServerProcess, Path, Path]) -> None:
    assert sql(client, "exec", ("CREATE TABLE links (slug TEXT PRIMARY KEY, url TEXT); CREATE INDEX l ON links (url)", []))["value"]["count"] == 2
    inserted = sql(client, "batch", ("INSERT INTO links VALUES (?, ?)", ["a", "https://a"]), ("INSERT INTO links VALUES (?, ?)", ["b", "https://b"]))
    assert [r["meta"]["changes"] for r in inserted["value"]] == [1, 1]
    assert sql(client, "first", ("SELECT url FROM links WHERE slug = ?", ["b"]))["value"] == {"url": "https://b"}
    assert sql(client, "first", ("SELECT url FROM links WHERE slug = ?", ["zz"]))["value"] is None
    assert sql(client, "all", ("SELECT slug FROM links ORDER BY slug", []))["value"]["results"] == [{"slug": "a"}, {"slug": "b"}]
    assert sql(client, "raw", ("SELECT slug, url FROM links ORDER BY slug", []))["value"] == [["a", "https://a"], ["b", "https://b"]]
    run = sql(client, "run", ("UPDATE links SET url = ? WHERE slug = ?", ["https://A", "a"]))["value"]
    assert run["success"] is True and run["meta"]["changes"] == 1
    # A batch is all or nothing: the duplicate key undoes the first insert.
    failed = sql(client, "batch", ("INSERT INTO links VALUES ('c', 'https://c')", []), ("INSERT INTO links VALUES ('a', 'dup')", []))
    assert failed["ok"] is False and failed["name"] == "SqlDatabaseError" and "UNIQUE constraint failed" in failed["message"]
    bad = sql(client, "all", ("SELECT * FROM nowhere", []))
    assert (bad["name"], bad["message"]) == ("SqlDatabaseError", "env.DB: no such table: nowhere")
    done = cli(dev[1], "storage", "sqldb", "execute", DB_ID, "--command", "SELECT slug, url FROM links ORDER BY slug", "--json")
    assert json.loads(done.stdout) == [{"columns": ["slug", "url"], "rows": [["a", "https://A"], ["b", "https://b"]], "changes": 0}]


def test_cloud_storage_bucket(client: httpx.Client, dev: tuple[ServerProcess, Path, Path]) -> None:
    put = client.post("/bucket/put", params={"key": "docs/a.txt"}, content=b"hello bucket", headers={"content-type": "text/plain"})
    assert put.json()["value"]["size"] == 12
    assert client.get("/bucket/get", params={"key": "docs/a.txt"}).json()["value"] == {
        "text": "hello bucket", "size": 12, "contentType": "text/plain", "custom": {"from": "test"},
    }
    head = ok(client, "FILES", "head", "docs/a.txt")
    assert head["key"] == "docs/a.txt" and head["etag"] == "9c843f38d26d412ed5e7f28e3b759226"
    ok(client, "FILES", "put", "docs/b.txt", "b")
    ok(client, "FILES", "put", "top.txt", "t")
    listed = ok(client, "FILES", "list", {"prefix": "docs/", "limit": 1})
    assert [k["name"] for k in listed["keys"]] == ["docs/a.txt"] and listed["truncated"] is True
    rest = ok(client, "FILES", "list", {"prefix": "docs/", "cursor": listed["cursor"]})
    assert [o["key"] for o in rest["objects"]] == ["docs/b.txt"] and rest["list_complete"] is True
    ok(client, "FILES", "delete", "docs/b.txt")
    ok(client, "FILES", "delete", "docs/b.txt")  # idempotent
    assert ok(client, "FILES", "head", "docs/b.txt") is None
    assert client.get("/bucket/get", params={"key": "docs/b.txt"}).json()["value"] is None
    folder = dev[1] / "storage" / "buckets" / "test-files"
    assert (folder / "docs" / "a.txt").read_bytes() == b"hello bucket"
    assert (folder / ".telnyx-meta" / "docs" / "a.txt.json").is_file()


@pytest.mark.parametrize("key", ["../escape", "a/../../escape", "/abs", "a//b", "a/./b", "a\\b", ".telnyx-meta/x", ""])
def test_bucket_keys_cannot_escape_the_folder(client: httpx.Client, dev: tuple[ServerProcess, Path, Path], key: str) -> None:
    name, message = fails(client, "FILES", "put", key, "x")
    assert name == "CloudStorageInvalidKeyError" and "invalid object key (400)" in message
    assert not (dev[1] / "storage" / "buckets" / "escape").exists()


def test_rate_limiter_window_is_shared_by_functions(client: httpx.Client, peer: httpx.Client) -> None:
    results = [ok(client, "LIMITER", "limit", {"key": "user-1"})["success"] for _ in range(3)]
    assert results == [True, True, True]
    assert ok(client, "LIMITER", "limit", {"key": "user-1"}) == {"success": False}  # exhausted
    assert peer.get("/limit", params={"key": "user-1"}).json() == {"success": False}  # one window for both
    assert ok(client, "LIMITER", "limit", {"key": "user-2"}) == {"success": True}  # per key
    assert fails(client, "LIMITER", "limit", {"key": ""})[0] == "TypeError"


def test_secret_values_never_appear_in_cli_output(tmp_path: Path) -> None:
    home = tmp_path / "home"
    value = "hunter2-" + "v" * 20
    runs = [
        cli(home, "--debug", "-v", "secrets", "add", "db_password", value),
        cli(home, "--debug", "-v", "secrets", "add", "DB_PASSWORD", value + "-rotated"),
        cli(home, "secrets", "add", "FROM_STDIN", input=value + "\n"),
        cli(home, "--debug", "-v", "secrets", "list"),
        cli(home, "--debug", "secrets", "list", "--json"),
        cli(home, "--debug", "secrets", "add", "bad name", value),
        cli(home, "--debug", "secrets", "add", "HUGE", value * 1000),
        cli(home, "--debug", "-v", "secrets", "delete", "db_password"),
        cli(home, "--debug", "secrets", "delete", "db_password"),
    ]
    codes = [r.returncode for r in runs]
    assert codes == [0, 0, 0, 0, 0, 2, 2, 0, 7]
    for result in runs:
        assert value not in result.stdout + result.stderr
    assert runs[0].stdout == "✓ Secret 'DB_PASSWORD' added successfully\n"
    assert runs[1].stdout == "✅ Secret 'DB_PASSWORD' updated successfully\n"
    assert "❌ 'bad name' is not a valid secret name" in runs[5].stderr  # after --debug's traceback
    assert "HUGE is 28000 bytes; the limit is 10240" in runs[6].stderr
    assert runs[7].stdout == "✅ Secret 'DB_PASSWORD' deleted successfully\n"
    header = runs[3].stdout.splitlines()[0].split()
    assert header == ["SECRET", "ID", "SECRET", "NAME", "CREATED", "AT", "UPDATED", "AT"]
    assert (home / "secrets.json").stat().st_mode & 0o777 == 0o600


def test_types_cover_every_binding_and_type_check(copy_fixture, edge_home: Path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    project = copy_fixture("bindings")
    assert run_cli("types", "-f", str(project)).returncode == 0
    text = (project / "telnyx-env.d.ts").read_text()
    for member in ("CACHE: __TelnyxKvNamespace;", "DB: __TelnyxSqlDatabase;", "FILES: __TelnyxCloudStorageBucket;",
                   "LIMITER: __TelnyxRateLimiter;", "MODE: string;", 'get(handle: "API_TOKEN" | "UNSET")'):
        assert text.count(member) == 2, member
    tsc = [str(project / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", str(project)]
    checked = subprocess.run(tsc, capture_output=True, text=True, timeout=120)
    assert checked.returncode == 0, checked.stdout
    # The check has teeth: a KV value must be a string, a limiter needs a key.
    (project / "src" / "wrong.ts").write_text(
        'export const a = (env: Env) => env.CACHE.put("k", 1);\nexport const b = (env: Env) => env.LIMITER.limit({});\n'
    )
    failed = subprocess.run(tsc, capture_output=True, text=True, timeout=120).stdout
    assert "wrong.ts(1," in failed and "wrong.ts(2," in failed


def test_serve_runs_the_same_bindings_after_ship(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    project, peer = copy_project("bindings", tmp_path), copy_project("bindings-peer", tmp_path)
    account = open_account(edge_home)
    for directory, name in ((project, "bindings"), (peer, "bindings-peer")):
        record = account.register(name, directory, "umbrella")
        config.write_edge_compute(directory / "telnyx.toml", record.id, name)
        shipped = run_cli("ship", "-f", str(directory))
        assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    account.close()
    assert run_cli("secrets", "add", "API_TOKEN", SECRET).returncode == 0
    server = start_server(["serve", "--port", "0"])
    try:
        hosts = {f.name: f.host for f in open_account(edge_home).functions()}
        with httpx.Client(base_url=server.url, timeout=30, headers={"Host": hosts["bindings"]}) as http, \
                httpx.Client(base_url=server.url, timeout=30, headers={"Host": hosts["bindings-peer"]}) as other:
            assert http.get("/secret", params={"handle": "API_TOKEN"}).json() == {"ok": True, "value": SECRET}
            env = http.get("/env").json()
            assert (env["mode"], env["greeting"], env["processGreeting"], env["processToken"]) == ("test", "hello from env", "hello from env", SECRET)
            ok(http, "CACHE", "put", "served/k", "v")
            assert other.get("/", params={"prefix": "served/"}).json() == {"keys": ["served/k"], "first": "v"}
            assert sql(http, "exec", ("CREATE TABLE t (a); INSERT INTO t VALUES (7)", []))["ok"]
            assert sql(http, "first", ("SELECT a FROM t", []))["value"] == {"a": 7}
            assert http.post("/bucket/put", params={"key": "s.txt"}, content=b"served").json()["ok"]
            assert http.get("/bucket/get", params={"key": "s.txt"}).json()["value"]["text"] == "served"
            assert [ok(http, "LIMITER", "limit", {"key": "k"})["success"] for _ in range(3)] == [True] * 3
            assert other.get("/limit", params={"key": "k"}).json() == {"success": False}
            assert http.get("/telnyx").json()["message"] == NO_KEY
    finally:
        assert server.stop() == 0
    assert SECRET not in server.output
