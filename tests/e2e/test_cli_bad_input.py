"""Bad input, table-driven: every case runs the real program and must end as one clear `❌` line
(with its `💡` hint) naming the problem, the right exit code, no traceback, no "Internal error",
and nothing written or changed on disk.

The world (an account with one function, a project, a regular file and broken projects) is built
once per module; each case snapshots the whole tree before and after it runs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.harness import run_cli

pytestmark = pytest.mark.e2e

TOML = '''name = "{name}"
main = "src/index.ts"
compatibility_date = "2025-01-01"
'''
INDEX = "export default { fetch() { return new Response('ok') } }\n"


@dataclass(frozen=True)
class Case:
    id: str
    args: tuple[str, ...]
    code: int
    says: str  # in the ❌ line
    cwd: str = "."
    env: dict[str, str] = field(default_factory=dict)
    stdin: str | None = None


def project(root: Path, name: str, extra: str = "", *, top: str = "", main_dir: bool = False) -> Path:
    directory = root / name
    (directory / "src").mkdir(parents=True)
    (directory / "src" / "index.ts").write_text(INDEX)
    text = top + TOML.format(name=name) + extra
    if main_dir:
        text = text.replace('main = "src/index.ts"', 'main = "src"')
    (directory / "telnyx.toml").write_text(text)
    return directory


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bad-input")
    env = {"TELNYX_EDGE_HOME": str(root / "home")}
    made = run_cli("new-func", "--actor", "--name=demo", "--no-install", cwd=root, env=env)
    assert made.returncode == 0, made.stderr
    (root / "afile").write_text("just a file\n")
    (root / "adir").mkdir()
    project(root, "mainisdir", main_dir=True)
    tomldir = root / "tomldir"
    (tomldir / "telnyx.toml").mkdir(parents=True)
    project(root, "datetime").joinpath("telnyx.toml").write_text(
        TOML.format(name="datetime").replace('"2025-01-01"', "2024-01-01T10:00:00Z")
    )
    project(root, "envmany", "\n[env_vars]\n" + "".join(f'V{i} = "x"\n' for i in range(65)))
    project(root, "envbig", f'\n[env_vars]\nBIG = "{"x" * 5121}"\n')
    project(root, "envname", f'\n[env_vars]\n{"N" * 257} = "x"\n')
    project(root, "envempty", '\n[env_vars]\n"" = "x"\n')
    project(root, "badtoml", "\nthis is = = not toml\n")
    project(root, "ratelimit", '\n[[ratelimits]]\nname = "RL"\nlimit = 1979-05-27\nperiod = 60\n')
    bad_home = root / "badhome"
    bad_home.mkdir()
    (bad_home / "account.db").write_bytes(b"this is not a SQLite database, it is garbage\n" * 20)
    dir_home = root / "dirhome"
    (dir_home / "account.db").mkdir(parents=True)
    store_env = {"TELNYX_EDGE_HOME": str(root / "storehome")}
    for kind, name in (("kv", "kv1"), ("sqldb", "db1")):
        assert run_cli("storage", kind, "create", "--name", name, env=store_env).returncode == 0
    for data in (root / "storehome" / "storage").glob("*/*"):
        data.unlink() if data.name.endswith(("-wal", "-shm")) else data.write_bytes(b"not sqlite " * 50)
    (root / "cataloghome" / "storage").mkdir(parents=True)
    (root / "cataloghome" / "storage" / "catalog.db").write_bytes(b"not sqlite " * 50)
    return root


def snapshot(root: Path) -> dict[str, tuple[str, ...]]:
    seen: dict[str, tuple[str, ...]] = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.name.endswith(("-wal", "-shm")) or "node_modules" in path.parts:
            continue  # SQLite's WAL companions come and go with every read of the account
        if path.is_symlink():
            seen[rel] = ("link", os.readlink(path))
        elif path.is_dir():
            seen[rel] = ("dir",)
        else:
            seen[rel] = ("file", hashlib.sha256(path.read_bytes()).hexdigest(), str(path.stat().st_mtime_ns))
    return seen


BAD = "badhome"
E = {"TELNYX_EDGE_HOME": "@badhome"}
D = {"TELNYX_EDGE_HOME": "@dirhome"}

CASES = [
    # -- the argument parser: our format, exit 2 ---------------------------------------------
    Case("unknown-flag", ("list", "--bogus"), 2, "No such option: --bogus"),
    Case("extra-argument", ("list", "extra"), 2, "unexpected extra argument"),
    Case("missing-argument", ("inspect",), 2, "Missing argument 'NAME|ID'"),
    Case("page-zero", ("list", "--page", "0"), 2, "--page"),
    Case("page-not-a-number", ("list", "--page", "abc"), 2, "--page"),
    Case("page-size-too-big", ("list", "--page-size", "1000"), 2, "--page-size"),
    Case("rollback-missing-revision", ("rollback", "demo"), 2, "Missing argument 'REVISION'"),
    Case("limit-zero", ("actors", "instances", "T", "--limit", "0"), 2, "--limit"),
    Case("unknown-subcommand", ("actors", "nope"), 2, "No such command 'nope'"),
    # -- ports and hosts ---------------------------------------------------------------------
    Case("dev-port-too-big", ("dev", "--port", "70000"), 2, "'70000' is not a port number (0 to 65535; 0 picks a free one)"),
    Case("dev-port-negative", ("dev", "--port", "-1"), 2, "--port"),
    Case("dev-port-word", ("dev", "--port", "http"), 2, "--port"),
    Case("serve-port-too-big", ("serve", "--port", "70000"), 2, "--port"),
    Case("serve-port-empty", ("serve", "--port", ""), 2, "--port"),
    Case("dev-host-empty", ("dev", "--host", ""), 2, "--host"),
    Case("serve-host-empty", ("serve", "--host", ""), 2, "--host"),
    Case("dev-host-blank", ("dev", "--host", "  "), 2, "--host"),
    Case("dev-host-space", ("dev", "--host", "local host"), 2, "is not an address or a host name"),
    Case("dev-host-bad-ipv4", ("dev", "--host", "999.1.1.1"), 2, "not an IPv4 address"),
    Case("serve-host-bad-ipv4", ("serve", "--host", "127.0.0"), 2, "not an IPv4 address"),
    Case("dev-host-url", ("dev", "--host", "http://localhost"), 2, "is not an address or a host name"),
    Case("serve-host-not-ours", ("serve", "--host", "10.255.255.1"), 2, "not an address of this machine", cwd="demo"),
    Case("dev-host-not-ours", ("dev", "--host", "192.0.2.1"), 2, "not an address of this machine", cwd="demo"),
    Case("dev-timeout-small", ("dev", "--method-timeout-ms", "5"), 2, "--method-timeout-ms"),
    Case("serve-timeout-huge", ("serve", "--method-timeout-ms", "99999999999"), 2, "--method-timeout-ms"),
    # -- paths ---------------------------------------------------------------------------------
    Case("dev-state-empty", ("dev", "--state", ""), 2, "--state", cwd="demo"),
    Case("dev-state-project-root", ("dev", "--state", "."), 2, "is a project directory", cwd="demo"),
    Case("dev-state-file", ("dev", "--state", "../afile"), 2, "is a file, not a directory", cwd="demo"),
    Case("dev-state-under-file", ("dev", "--state", "../afile/state"), 2, "is a file, not a directory", cwd="demo"),
    Case("dev-env-file-missing", ("dev", "--env-file", "nope.env"), 2, "--env-file nope.env does not exist", cwd="demo"),
    Case("dev-env-file-dir", ("dev", "--env-file", "../adir"), 2, "is not a file", cwd="demo"),
    Case("dev-from-empty", ("dev", "-f", ""), 2, "-f"),
    Case("dev-from-missing", ("dev", "-f", "nowhere"), 3, "does not exist"),
    Case("dev-from-nul", ("dev", "-f", "a\x01b"), 3, "does not exist"),
    Case("dev-with-empty", ("dev", "--with", ""), 2, "--with", cwd="demo"),
    Case("dev-with-missing", ("dev", "--with", "../nowhere"), 3, "does not exist", cwd="demo"),
    Case("dev-with-file", ("dev", "--with", "../afile"), 3, "does not exist", cwd="demo"),
    Case("ship-outdir-file", ("ship", "--dry-run", "-f", "demo", "--outdir", "afile"), 2, "--outdir afile is a file"),
    Case("ship-outdir-under-file", ("ship", "--dry-run", "-f", "demo", "--outdir", "afile/x"), 2, "afile is a file"),
    Case("ship-outdir-empty", ("ship", "--dry-run", "-f", "demo", "--outdir", ""), 2, "--outdir"),
    Case("ship-from-empty", ("ship", "-f", ""), 2, "-f"),
    Case("ship-timeout-word", ("ship", "-f", "demo", "-t", "soon"), 2, "Invalid duration"),
    Case("types-from-empty", ("types", "-f", ""), 2, "-f"),
    Case("link-from-empty", ("runtime", "link", "-f", ""), 2, "-f"),
    Case("new-func-dir-empty", ("new-func", "--name", "x", "--dir", ""), 2, "--dir"),
    Case("new-func-from-empty", ("new-func", "--name", "x", "--from-dir", ""), 2, "--from-dir"),
    Case("kv-put-path-empty", ("storage", "kv", "key", "put", "x", "k", "--path", ""), 2, "--path"),
    Case("sql-file-empty", ("storage", "sqldb", "execute", "x", "--file", ""), 2, "--file"),
    Case("instances-state-missing", ("actors", "instances", "T", "--state", "nowhere"), 2, "--state"),
    Case("instances-state-file", ("actors", "instances", "T", "--state", "afile"), 2, "is a file"),
    Case("instances-from-missing", ("actors", "instances", "T", "-f", "nowhere"), 2, "does not exist"),
    # -- manifests -----------------------------------------------------------------------------
    Case("main-is-a-directory", ("dev",), 3, "telnyx.toml has 1 problem", cwd="mainisdir"),
    Case("ship-main-is-a-directory", ("ship", "--dry-run", "-f", "mainisdir"), 3, "telnyx.toml has 1 problem"),
    Case("manifest-is-a-directory", ("dev",), 3, "is a directory (or another non-file), not a manifest", cwd="tomldir"),
    Case("ship-manifest-is-a-directory", ("ship", "-f", "tomldir"), 3, "not a manifest"),
    Case("types-manifest-is-a-directory", ("types", "-f", "tomldir"), 3, "not a manifest"),
    Case("datetime-date", ("ship", "--dry-run", "-f", "datetime"), 3, "telnyx.toml has 1 problem"),
    Case("env-vars-too-many", ("ship", "--dry-run", "-f", "envmany"), 3, "telnyx.toml has 1 problem"),
    Case("env-value-too-big", ("ship", "--dry-run", "-f", "envbig"), 3, "telnyx.toml has 1 problem"),
    Case("env-name-too-long", ("ship", "--dry-run", "-f", "envname"), 3, "telnyx.toml has 1 problem"),
    Case("env-name-empty", ("dev", "-f", "envempty"), 3, "telnyx.toml has 1 problem"),
    Case("not-toml", ("ship", "--dry-run", "-f", "badtoml"), 3, "is not valid TOML"),
    Case("ratelimit-date", ("ship", "--dry-run", "-f", "ratelimit"), 3, "telnyx.toml has 1 problem"),
    # -- the account -----------------------------------------------------------------------------
    Case("unknown-function", ("inspect", "nosuch"), 7, "No function 'nosuch'"),
    Case("delete-unknown", ("delete-func", "nosuch", "-y"), 7, "No function 'nosuch'"),
    Case("revisions-unknown", ("revisions", "list", "nosuch"), 7, "No function 'nosuch'"),
    Case("ship-status-unknown", ("ship", "status", "nosuch"), 7, "No function 'nosuch'"),
    Case("rollback-unknown", ("rollback", "nosuch", "abc"), 7, "No function 'nosuch'"),
    Case("rollback-no-revision", ("rollback", "demo", "abc"), 7, "No revision 'abc'"),
    Case("delete-no-answer", ("delete-func", "demo"), 1, "Aborted: no answer to the prompt", stdin=""),
    Case("damaged-list", ("list",), 7, "is damaged or not a telnyx-edge account", env=E),
    Case("damaged-inspect", ("inspect", "x"), 7, "is damaged", env=E),
    Case("damaged-revisions", ("revisions", "list", "x"), 7, "is damaged", env=E),
    Case("damaged-ship-status", ("ship", "status", "x"), 7, "is damaged", env=E),
    Case("damaged-actors-list", ("actors", "list"), 7, "is damaged", env=E),
    Case("damaged-delete", ("delete-func", "x", "-y"), 7, "is damaged", env=E),
    Case("damaged-catalog", ("storage", "kv", "list"), 7, "storage catalog", env={"TELNYX_EDGE_HOME": "@cataloghome"}),
    Case("damaged-kv-file", ("storage", "kv", "key", "list", "kv1"), 7, "is damaged or not a SQLite database", env={"TELNYX_EDGE_HOME": "@storehome"}),
    Case("damaged-kv-file-put", ("storage", "kv", "key", "put", "kv1", "k", "v"), 7, "is damaged", env={"TELNYX_EDGE_HOME": "@storehome"}),
    Case("damaged-sqldb-file", ("storage", "sqldb", "execute", "db1", "--command", "SELECT 1"), 7, "is damaged", env={"TELNYX_EDGE_HOME": "@storehome"}),
    Case("account-db-directory", ("list",), 7, "is a directory, not a file", env=D),
    # -- the environment -------------------------------------------------------------------------
    Case("env-timeout-word", ("list",), 3, "1 environment variable is not valid", env={"TELNYX_EDGE_METHOD_TIMEOUT_MS": "abc"}),
    Case("env-idle-zero", ("dev",), 3, "1 environment variable is not valid", cwd="demo", env={"TELNYX_EDGE_IDLE_MS": "0"}),
    Case("columns-not-a-width", ("list", "--bogus"), 2, "No such option: --bogus", env={"COLUMNS": "wide"}),
    Case("env-workers-zero", ("serve",), 3, "1 environment variable is not valid", env={"TELNYX_EDGE_WORKERS": "0"}),
    Case("workers-too-many", ("dev", "--workers", "65"), 2, "--workers"),
    Case("env-two-bad", ("serve",), 3, "2 environment variables are not valid",
         env={"TELNYX_EDGE_STARTUP_TIMEOUT_MS": "-1", "TELNYX_EDGE_NODE_FLAGS": "'unclosed"}),
]


def test_enough_cases() -> None:
    assert len(CASES) >= 60
    assert len({c.id for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, world: Path) -> None:
    env = {"TELNYX_EDGE_HOME": str(world / "home")}
    env.update({k: str(world / v[1:]) if v.startswith("@") else v for k, v in case.env.items()})
    before = snapshot(world)
    result = run_cli(*case.args, cwd=world / case.cwd, env=env, input=case.stdin, timeout=60)
    after = snapshot(world)
    assert result.returncode == case.code, (result.stdout, result.stderr)
    for text in (result.stdout, result.stderr):
        assert "Traceback" not in text and "Internal error" not in text
        assert not any(line.startswith(("Error:", "Usage:")) for line in text.splitlines())
    lines = result.stderr.splitlines()
    errors = [line for line in lines if line.startswith("❌")]
    assert len(errors) == 1, result.stderr
    assert case.says in errors[0], result.stderr
    assert lines[-1].startswith("💡 ") or lines[-1].startswith("   "), result.stderr
    assert before == after, "the command wrote or changed files"


def _problems(stderr: str) -> list[str]:
    return [line.strip() for line in stderr.splitlines() if line.startswith("   ")]


@pytest.mark.parametrize(("name", "problem"), [
    ("mainisdir", "main: 'src' is a directory; point main at the entry module in it (e.g. \"src/index.ts\")"),
    ("datetime", "compatibility_date: 2024-01-01T10:00:00Z must be a date string \"YYYY-MM-DD\""),
    ("envmany", "env_vars: 65 variables; the platform allows at most 64 per function (spec 2.3)"),
    ("envbig", "env_vars.BIG: value is 5,121 bytes; the limit is 5 KB (5,120 bytes, spec 2.3)"),
    ("envname", f"env_vars.{'N' * 40}…: name is 257 bytes; the limit is 256 (spec 2.3)"),
    ("ratelimit", "ratelimits[0].limit: 1979-05-27 must be a positive whole number"),
])
def test_manifest_problems_in_the_users_terms(name: str, problem: str, world: Path) -> None:
    result = run_cli("ship", "--dry-run", "-f", name, cwd=world, env={"TELNYX_EDGE_HOME": str(world / "home")})
    assert _problems(result.stderr) == [problem]
    assert "datetime.d" not in result.stderr


def test_env_vars_at_the_limits_are_accepted(tmp_path: Path) -> None:
    from telnyx_edge.config import load_manifest

    body = "".join(f'V{i} = "x"\n' for i in range(62)) + f'BIG = "{"é" * 2560}"\n{"N" * 256} = "x"\n'
    loaded = load_manifest(project(tmp_path, "limits", "\n[env_vars]\n" + body))
    assert len(loaded.env_vars) == 64 and len(loaded.env_vars["BIG"].encode()) == 5120


def test_a_manifest_with_a_byte_order_mark_ships_and_keeps_it(tmp_path: Path, edge_home: Path) -> None:
    from telnyx_edge.config import load_manifest, write_edge_compute

    directory = project(tmp_path, "bom", top="\ufeff")
    assert load_manifest(directory).name == "bom"
    write_edge_compute(directory / "telnyx.toml", "3f0e8f8e-8a0c-4a3e-9d6b-6c3e3c6f6a10", "bom")
    text = (directory / "telnyx.toml").read_text(encoding="utf-8")
    assert text.startswith("\ufeffname = \"bom\"") and load_manifest(directory).func_id is not None


def test_status_reads_the_account_it_reports(world: Path) -> None:
    good = run_cli("status", env={"TELNYX_EDGE_HOME": str(world / "home")})
    assert f"✅ Account database: {world / 'home' / 'account.db'} (read: 1 function)" in good.stdout
    bad = run_cli("status", env={"TELNYX_EDGE_HOME": str(world / BAD)})
    assert bad.returncode == 1
    assert f"❌ Account database: The account database {world / BAD / 'account.db'} is damaged" in bad.stdout
    (world / "home" / "config.toml").write_text("not = = toml")
    try:
        broken = run_cli("status", env={"TELNYX_EDGE_HOME": str(world / "home")})
    finally:
        (world / "home" / "config.toml").unlink()
    assert broken.returncode == 1 and "❌ Config file: " in broken.stdout and "cannot be read as TOML" in broken.stdout


def test_settings_validate_every_variable_once() -> None:
    from telnyx_edge import settings
    from telnyx_edge.errors import ConfigError

    loaded = settings.load({"TELNYX_EDGE_METHOD_TIMEOUT_MS": "250", "TELNYX_EDGE_NODE_FLAGS": "--max-old-space-size=64 --trace-warnings"})
    assert (loaded.method_timeout_ms, loaded.idle_ms, loaded.node_flags) == (250, 120_000, ("--max-old-space-size=64", "--trace-warnings"))
    assert (loaded.workers, settings.load({"TELNYX_EDGE_WORKERS": "3"}).workers) == (None, 3)
    with pytest.raises(ConfigError) as raised:
        settings.load({"TELNYX_EDGE_METHOD_TIMEOUT_MS": "99", "TELNYX_EDGE_ALARM_RETRY_DELAY_MS": "1.5", "TELNYX_EDGE_HOME": "\x00"})
    assert raised.value.problems == [
        "TELNYX_EDGE_HOME: '\\x00' is not a path",
        "TELNYX_EDGE_METHOD_TIMEOUT_MS: 99 is out of range (100 to 86400000 ms)",
        "TELNYX_EDGE_ALARM_RETRY_DELAY_MS: '1.5' must be a whole number of milliseconds",
    ]


def test_dev_beyond_loopback_warns_and_still_serves(tmp_path: Path, edge_home: Path) -> None:
    from tests.e2e.dev_helpers import close, copy_project, start_dev

    server = start_dev(copy_project("lab", tmp_path), "--no-watch", "--host", "0.0.0.0")
    try:
        assert server.url.startswith("http://0.0.0.0:")
    finally:
        assert close(server) == 0
    assert "⚠️  --host 0.0.0.0 listens beyond this machine" in server.output
