"""`telnyx-edge ship`, `ship status`, `revisions list`, `rollback`, `inspect` as real processes.

Each test gets an empty account (`edge_home`); functions are registered through the account
API (what `new-func` does) and their func_id written into the fixture's telnyx.toml.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from telnyx_edge.account import open_account
from tests.e2e.dev_helpers import register
from tests.harness import run_cli

pytestmark = pytest.mark.e2e

CLASS_RE = re.compile(r"\bclass\s+Account\b|\bAccount\s*=\s*class\b")


def _revisions(func_id: str) -> list[str]:
    account = open_account()
    try:
        return [r.id for r in account.revisions(func_id)]
    finally:
        account.close()


def _record(func_id: str):  # type: ignore[no-untyped-def]
    account = open_account()
    try:
        return account.resolve(func_id)
    finally:
        account.close()


@pytest.fixture
def owner(copy_fixture, edge_home: Path) -> tuple[Path, str]:
    project = copy_fixture("ship-owner", "account")
    return project, register(project, "account")


@pytest.fixture
def readonly(copy_fixture, edge_home: Path) -> tuple[Path, str]:
    project = copy_fixture("ship-readonly", "account-readonly")
    return project, register(project, "account-readonly")


def test_owner_then_reference(owner: tuple[Path, str], readonly: tuple[Path, str]) -> None:
    project, func_id = owner
    done = run_cli("ship", cwd=project)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "✓ Collected 2 files for shipping"
    assert re.fullmatch(r"✓ Bundled index\.js: [\d,]+ bytes \([\d,]+ bytes gzip\) in \d+ ms", lines[1])
    assert re.search(r"^ACCOUNT\s+Account\s+owner\s*$", done.stdout, re.M)
    revision = re.search(r"^✓ Created revision ([0-9a-f]{12})$", done.stdout, re.M)
    assert revision is not None
    assert "✅ Func 'account' is now deployed!" in lines
    assert f"📡 Its URL on the local edge: http://account-{func_id[:10]}.localhost:8788" in lines
    assert f"   curl http://account-{func_id[:10]}.localhost:8788" in lines
    assert _revisions(func_id) == [revision.group(1)]
    stored = open_account().home / "revisions" / func_id / revision.group(1)
    assert sorted(p.name for p in stored.iterdir()) == ["index.js", "index.js.map", "manifest.json", "meta.json"]
    assert CLASS_RE.search((stored / "index.js").read_text())

    ref_project, ref_id = readonly
    done = run_cli("ship", "-f", str(ref_project))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0] == "✓ Collected 1 file for shipping"
    assert re.search(r"^READONLY\s+Account\s+reference\s*$", done.stdout, re.M)
    assert "✅ Func 'account-readonly' is now deployed!" in done.stdout
    ref_revision = _revisions(ref_id)[0]
    bundle = (open_account().home / "revisions" / ref_id / ref_revision / "index.js").read_text()
    assert not CLASS_RE.search(bundle) and "deposit(" not in bundle
    assert len(bundle.encode()) < 5 * 1024

    inspected = run_cli("inspect", "account-readonly")
    assert inspected.returncode == 0, inspected.stderr
    assert f"Revision:   {ref_revision} (serving, shipped " in inspected.stdout
    assert re.search(r"^READONLY\s+Account\s+reference\s+resolves to 'account'\s*$", inspected.stdout, re.M)
    inspected = run_cli("inspect", func_id)
    assert re.search(r"^ACCOUNT\s+Account\s+owner\s+serving\s*$", inspected.stdout, re.M)


def _assert_refused(done: subprocess.CompletedProcess[str], code: int, message: str, func_id: str | None) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert f"❌ {message}" in done.stderr.splitlines(), done.stderr
    assert "is now deployed" not in done.stdout
    if func_id is not None:
        assert _revisions(func_id) == []


def test_reference_without_owner_is_refused(readonly: tuple[Path, str]) -> None:
    project, func_id = readonly
    done = run_cli("ship", "-f", str(project))
    _assert_refused(
        done, 9,
        "binding READONLY: type Account has no owner on this account; ship the function that exports class Account first",
        func_id,
    )
    assert _record(func_id).status == "created"


def test_second_owner_is_refused(owner: tuple[Path, str], copy_fixture) -> None:
    project, func_id = owner
    assert run_cli("ship", cwd=project).returncode == 0
    second = copy_fixture("ship-owner", "account-two")
    second_id = register(second, "account-two")
    done = run_cli("ship", cwd=second)
    _assert_refused(
        done, 9,
        f"binding ACCOUNT: type Account is already owned by function 'account' ({func_id}); "
        "only one function may ship class Account",
        second_id,
    )
    assert _record(second_id).status == "created"
    assert len(_revisions(func_id)) == 1


def test_invalid_manifest_is_refused(owner: tuple[Path, str]) -> None:
    project, func_id = owner
    toml = project / "telnyx.toml"
    toml.write_text(toml.read_text().replace('type = "Account"', 'type = "Bad__Type"'))
    done = run_cli("ship", cwd=project)
    _assert_refused(done, 3, "telnyx.toml has 1 problem", func_id)
    assert "   actors[0].type: 'Bad__Type' must not contain '__'" in done.stderr.splitlines()
    assert _record(func_id).status == "created"


def test_syntax_error_marks_build_failed(owner: tuple[Path, str]) -> None:
    project, func_id = owner
    index = project / "src" / "index.ts"
    index.write_text(index.read_text() + "\nexport const broken = (;\n")
    done = run_cli("ship", cwd=project)
    _assert_refused(done, 8, "Build failed with 1 error", func_id)
    line = len(index.read_text().splitlines())
    assert any(re.match(rf"\s+src/index\.ts:{line}:\d+: Unexpected", x) for x in done.stderr.splitlines()), done.stderr
    assert _record(func_id).status == "build_failed"
    status = run_cli("ship", "status", "account")
    assert status.returncode == 0
    assert status.stdout.startswith("❌ Func 'account': the last build failed (build_failed); nothing is serving yet.")


def test_without_node_modules_a_missing_import_is_refused_in_one_line(owner: tuple[Path, str]) -> None:
    # No node_modules at all: the toolchain's esbuild bundles, and an import nothing provides
    # is named with the file that imports it, with no esbuild dump below.
    project, func_id = owner
    (project / "node_modules").unlink()
    index = project / "src" / "index.ts"
    index.write_text('import { v4 } from "uuid";\nexport const id = v4;\n' + index.read_text())
    done = run_cli("ship", cwd=project)
    _assert_refused(done, 8, 'Cannot resolve import "uuid" in src/index.ts:1:19: not found; add it with npm install uuid', func_id)
    assert len(done.stderr.strip().splitlines()) == 1
    assert _record(func_id).status == "build_failed"


def test_func_id_not_on_account(copy_fixture, edge_home: Path) -> None:
    project = copy_fixture("ship-owner")
    done = run_cli("ship", "-f", str(project))
    assert done.returncode == 7
    assert "❌ func_id 00000000-0000-4000-8000-000000000000 in telnyx.toml is not on this account" in done.stderr


def test_revisions_rollback_and_status(owner: tuple[Path, str]) -> None:
    project, func_id = owner
    assert run_cli("ship", cwd=project).returncode == 0
    account_ts = project / "src" / "account.ts"
    account_ts.write_text(account_ts.read_text().replace("async balance()", "async total()"))
    index = project / "src" / "index.ts"
    index.write_text(index.read_text().replace('"balance"', '"total"').replace("stub.balance()", "stub.total()"))
    assert run_cli("ship", cwd=project).returncode == 0
    second, first = _revisions(func_id)
    first_bundle = Path(open_account().revision(func_id, first).path) / "index.js"
    assert "async balance()" in first_bundle.read_text()  # the earlier revision did not change

    listed = run_cli("revisions", "list", "account")
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if re.match(r"^[0-9a-f]{12}\s", line)]
    assert [row.split()[0] for row in rows] == [second, first]
    assert rows[0].rstrip().endswith("* serving") and "serving" not in rows[1]
    assert "ACCOUNT=Account:owner" in rows[0]

    done = run_cli("rollback", "account", first[:7])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == (
        f"✅ Rollback of 'account' to revision {first} accepted; the local edge serves it from the next request."
    )
    assert _record(func_id).serving_revision == first
    assert _revisions(func_id) == [second, first]
    status = run_cli("ship", "status", func_id)
    assert status.stdout.strip() == (
        f"✅ Func 'account' is deployed (deploy_ok): revision {first} serves http://account-{func_id[:10]}.localhost:8788"
    )
    missing = run_cli("rollback", "account", "fffffff")
    assert missing.returncode == 7 and "❌ No revision 'fffffff' for this function" in missing.stderr


def test_dry_run_touches_no_account(copy_fixture, edge_home: Path, tmp_path: Path) -> None:
    project = copy_fixture("ship-readonly")
    out = tmp_path / "out"
    done = run_cli("ship", "-f", str(project), "--dry-run", "--outdir", str(out))
    assert done.returncode == 0, done.stderr
    assert f"✓ Dry run: wrote index.js, index.js.map, meta.json and manifest.json to {out}" in done.stdout
    assert sorted(p.name for p in out.iterdir()) == [".telnyx-ship-outputs.json", "index.js", "index.js.map", "manifest.json", "meta.json"]
    assert not edge_home.exists()


def test_help_and_bad_timeout(owner: tuple[Path, str]) -> None:
    project, _ = owner
    for args in (("ship", "-h"), ("ship", "status", "-h"), ("revisions", "list", "-h"), ("rollback", "-h"), ("types", "-h")):
        done = run_cli(*args)
        assert done.returncode == 0 and "Usage: telnyx-edge" in done.stdout, args
    assert "-f, --from-dir" in run_cli("ship", "-h").stdout
    done = run_cli("ship", "-t", "5 minutes", cwd=project)
    assert done.returncode == 2
    assert "❌ Invalid duration '5 minutes' for --timeout" in done.stderr


def _tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", str(project)],
        capture_output=True, text=True, timeout=60,
    )


def test_types_type_check_in_a_scaffolded_project(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    from tests.harness import link_node_modules

    created = run_cli("new-func", "--actor", "--name=counter-app", "--no-install", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "counter-app"
    link_node_modules(project)
    with (project / "telnyx.toml").open("a") as toml:
        toml.write(
            '\n[[secrets]]\nbinding = "STRIPE"\nname = "STRIPE_API_KEY"\n'
            '\n[storage.kv.CACHE]\nid = "7d1f6c3e-7b7a-4a55-9a4e-9d6f0d7c1a11"\n'
            '\n[[ratelimits]]\nname = "LIMITER"\nlimit = 10\nperiod = 60\n'
        )
    # Use the global Env from a second module, next to index.ts's own local Env.
    (project / "src" / "use-env.ts").write_text(
        "export async function bump(env: Env): Promise<number> {\n"
        '  const key: string = await env.SECRETS.get("STRIPE");\n'
        '  const cached: string | null = await env.CACHE.get(key);\n'
        '  const { success } = await env.LIMITER.limit({ key: cached ?? "" });\n'
        '  return success ? env.COUNTER.idFromName("a").increment(2) : 0;\n'
        "}\n"
    )
    done = run_cli("types", cwd=project)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"✅ Wrote {project.resolve() / 'telnyx-env.d.ts'} (4 bindings)"
    text = (project / "telnyx-env.d.ts").read_text()
    assert 'import type { Counter } from "./src/index";' in text
    assert text.count("COUNTER: __TelnyxActorNamespace<Counter>;") == 2
    checked = _tsc(project)
    assert checked.returncode == 0, checked.stdout

    # The check has teeth: a method the class lacks fails to type-check.
    (project / "src" / "use-env.ts").write_text(
        'export const x = (env: Env) => env.COUNTER.idFromName("a").decrement();\n'
        'export const y = (env: Env) => env.SECRETS.get("UNDECLARED");\n'
    )
    failed = _tsc(project).stdout
    assert "Property 'decrement' does not exist" in failed
    assert "'\"UNDECLARED\"' is not assignable" in failed


def test_types_for_a_reference_project(copy_fixture, edge_home: Path) -> None:
    project = copy_fixture("ship-readonly")
    (project / "src" / "use-env.ts").write_text(
        "export async function read(env: Env): Promise<number> {\n"
        '  return (await env.READONLY.idFromName("a").balance()).balance;\n'
        "}\n"
    )
    assert run_cli("types", "-f", str(project)).returncode == 0
    assert 'import type { Account } from "./src/account";' in (project / "telnyx-env.d.ts").read_text()
    checked = _tsc(project)
    assert checked.returncode == 0, checked.stdout
    # Class-free: the type import never reaches the bundle.
    assert run_cli("ship", "-f", str(project), "--dry-run").returncode == 0
    assert not CLASS_RE.search((project / ".telnyx" / "build" / "index.js").read_text())

    (project / "src" / "account.ts").unlink()
    (project / "src" / "use-env.ts").unlink()
    done = run_cli("types", "-f", str(project))
    assert "⚠️  binding READONLY: no class Account found in the project; typed as untyped ActorNamespace" in done.stderr
    assert "    READONLY: __TelnyxActorNamespace;" in (project / "telnyx-env.d.ts").read_text()
    checked = _tsc(project)
    assert checked.returncode == 0, checked.stdout
    shutil.rmtree(project / ".telnyx")
