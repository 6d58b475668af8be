"""The foundation commands, run as the real program (`python -m telnyx_edge`), with exact output."""

from __future__ import annotations

import json
import os
import re
import tomllib
from pathlib import Path

import pytest

from telnyx_edge import __version__
from tests.harness import ROOT, run_cli

pytestmark = pytest.mark.e2e


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"TELNYX_EDGE_HOME": str(tmp_path / "home")}


def func_id_of(project: Path) -> str:
    manifest = project / "telnyx.toml"
    if not manifest.exists():
        manifest = project / "func.toml"
    return str(tomllib.loads(manifest.read_text())["edge_compute"]["func_id"])


def new_actor(tmp_path: Path, env: dict[str, str], name: str = "demo") -> Path:
    result = run_cli("new-func", "--actor", f"--name={name}", "--no-install", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    return tmp_path / name


def test_version() -> None:
    result = run_cli("--version")
    assert (result.returncode, result.stdout) == (0, f"telnyx-edge v{__version__}\n")


def test_new_func_actor_output_files_and_manifest(tmp_path: Path, env: dict[str, str]) -> None:
    result = run_cli("new-func", "--actor", "--name=demo", "--no-install", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "demo"
    func_id = func_id_of(project)
    assert result.stdout == (
        "✅ Func 'demo' created\n"
        f"   func_id:   {func_id}\n"
        f"   directory: {project}\n"
        "\n"
        "💡 Next steps:\n"
        "   cd demo\n"
        "   npm install\n"
        "   telnyx-edge dev\n"
        "   telnyx-edge ship\n"
    )
    assert result.stderr == ""
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and "node_modules" not in p.parts)
    assert files == [
        ".gitignore", "README.md", "package.json", "src/counter.ts",
        "src/index.ts", "telnyx.toml", "tsconfig.json",
    ]
    manifest = tomllib.loads((project / "telnyx.toml").read_text())
    assert manifest == {
        "name": "demo", "main": "src/index.ts", "compatibility_date": "2026-05-01",
        "actors": [{"binding": "COUNTER", "type": "Counter"}],
        "edge_compute": {"func_id": func_id, "func_name": "demo"},
    }
    text = (project / "telnyx.toml").read_text()
    assert text.index("[[actors]]") < text.index("[edge_compute]")
    index = (project / "src" / "index.ts").read_text()
    assert 'export { Counter } from "./counter";' in index and "env.COUNTER.idFromName" in index
    assert "export class Counter extends StatefulActor" in (project / "src" / "counter.ts").read_text()
    # @telnyx/edge-runtime is not on npm: the project is wired to the toolchain's own package
    # (`telnyx-edge runtime link`), whose declarations are the runtime's one copy.
    linked = project / "node_modules" / "@telnyx" / "edge-runtime"
    assert linked.is_symlink()
    assert 'declare module "@telnyx/edge-runtime"' in (linked / "edge-runtime.d.ts").read_text()
    assert (linked / "edge-runtime.d.ts").resolve() == (ROOT / "telnyx_edge" / "runtime" / "js" / "edge-runtime.d.ts").resolve()
    package = json.loads((project / "package.json").read_text())
    assert package["dependencies"] == {"@telnyx/edge-runtime": "^0.10.0"}
    assert package["devDependencies"] == {"@types/node": "^20.0.0", "typescript": "5.9.3"}  # no esbuild: the toolchain brings it


def test_verbose_logs_to_stderr_only(tmp_path: Path, env: dict[str, str]) -> None:
    quiet = run_cli("new-func", "--actor", "-n", "quiet", "--no-install", cwd=tmp_path, env=env)
    loud = run_cli("-v", "new-func", "--actor", "-n", "loud", "--no-install", cwd=tmp_path, env=env)
    assert quiet.stderr == ""
    assert loud.stderr.splitlines() == [f"account: {env['TELNYX_EDGE_HOME']}", "scaffold: actor"]
    assert loud.stdout.replace("loud", "quiet").split("func_id")[0] == quiet.stdout.split("func_id")[0]


def test_name_flag_spellings(tmp_path: Path, env: dict[str, str]) -> None:
    assert run_cli("new-func", "--actor", "-n", "one", "--no-install", cwd=tmp_path, env=env).returncode == 0
    assert run_cli("new-func", "--actor", "--name", "two", "--no-install", cwd=tmp_path, env=env).returncode == 0
    assert (tmp_path / "one" / "telnyx.toml").is_file() and (tmp_path / "two" / "telnyx.toml").is_file()


@pytest.mark.parametrize(
    ("language", "files"),
    [
        ("ts", ["func.toml", "index.ts", "package.json", "tsconfig.json"]),
        ("typescript", ["func.toml", "index.ts", "package.json", "tsconfig.json"]),
        ("js", ["func.toml", "index.js", "package.json"]),
        ("javascript", ["func.toml", "index.js", "package.json"]),
        ("python", ["func.toml", "function/__init__.py", "function/func.py", "pyproject.toml"]),
        ("go", ["func.toml", "go.mod", "handler.go"]),
    ],
)
def test_classic_languages(tmp_path: Path, env: dict[str, str], language: str, files: list[str]) -> None:
    result = run_cli("new-func", "-l", language, "-n", "classic", "--no-install", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "classic"
    found = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and p.name != ".gitignore")
    assert found == files
    manifest = tomllib.loads((project / "func.toml").read_text())
    assert manifest["edge_compute"]["func_name"] == "classic"
    assert "telnyx-edge secrets add" in (project / "func.toml").read_text()


def test_dir_creates_elsewhere_and_from_dir_copies_keeping_comments(tmp_path: Path, env: dict[str, str]) -> None:
    source = tmp_path / "example"
    (source / "node_modules").mkdir(parents=True)
    (source / "index.js").write_text("// example\n")
    (source / "func.toml").write_text('# keep me\n[edge_compute]\nfunc_id = "old"  # old id\nfunc_name = "example"\n')
    result = run_cli("new-func", "--from-dir", str(source), "--name=copied", "--dir", "out", "--no-install", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    project = tmp_path / "out" / "copied"
    func_id = func_id_of(project)
    assert (project / "func.toml").read_text() == (
        f'# keep me\n[edge_compute]\nfunc_id = "{func_id}"  # old id\nfunc_name = "copied"\n'
    )
    assert (project / "index.js").read_text() == "// example\n"
    assert not (project / "node_modules").exists()


@pytest.mark.parametrize(
    ("args", "code", "stderr"),
    [
        (["--actor", "--name=bad--"], 4, "❌ Invalid function name 'bad--'\n💡 Names are 1-64 letters, digits and dashes, with no leading or trailing dash.\n"),
        (["--actor", "--name=-bad"], 4, "❌ Invalid function name '-bad'\n💡 Names are 1-64 letters, digits and dashes, with no leading or trailing dash.\n"),
        (["--actor", "--name=" + "a" * 65], 4, f"❌ Invalid function name '{'a' * 65}'\n💡 Names are 1-64 letters, digits and dashes, with no leading or trailing dash.\n"),
        (["--actor", "--name=a/b"], 4, "❌ Invalid function name 'a/b': it must not contain a path separator or '..'\n💡 Pass a plain name such as my-func; use --dir to choose where it is created.\n"),
        (["--actor", "--name=.."], 4, "❌ Invalid function name '..': it must not contain a path separator or '..'\n💡 Pass a plain name such as my-func; use --dir to choose where it is created.\n"),
        (["--name=x"], 4, "❌ Say what kind of project to create\n💡 Use --actor for a Stateful Actor project, -l LANG for a classic function, or --from-dir DIR.\n"),
        (["-l", "cobol", "-n", "x"], 4, "❌ Unknown language 'cobol'\n💡 Use -l ts (typescript), js (javascript), python or go; --actor for a Stateful Actor project.\n"),
        (["-l", "quarkus", "-n", "x"], 4, "❌ Quarkus (Java) projects are not scaffolded by this toolchain\n💡 Use -l ts, js, python or go, or --actor.\n"),
        (["--actor", "-l", "python", "-n", "x"], 4, "❌ Stateful Actor projects are TypeScript only\n💡 Drop -l, or use -l ts.\n"),
    ],
)
def test_bad_input_is_one_clear_error_and_nothing_written(
    tmp_path: Path, env: dict[str, str], args: list[str], code: int, stderr: str
) -> None:
    result = run_cli("new-func", *args, "--no-install", cwd=tmp_path, env=env)
    assert (result.returncode, result.stdout, result.stderr) == (code, "", stderr)
    assert [p.name for p in tmp_path.iterdir()] == []  # not even the account home


def test_existing_destination_and_duplicate_name(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "file").write_text("x")
    result = run_cli("new-func", "--actor", "--name=busy", "--no-install", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (
        4, f"❌ {tmp_path / 'busy'} already exists and is not empty\n"
        "💡 Choose another name, remove the directory, or use --dir to create it elsewhere.\n",
    )
    new_actor(tmp_path, env, "taken")
    result = run_cli("new-func", "--actor", "--name=taken", "--dir", "elsewhere", "--no-install", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr) == (
        7, "❌ A function named 'taken' already exists on this account\n"
        "💡 Pick another name, or remove the old one with: telnyx-edge delete-func taken\n",
    )
    assert not (tmp_path / "elsewhere").exists()


def test_list_inspect_and_delete(tmp_path: Path, env: dict[str, str]) -> None:
    empty = run_cli("list", env=env)
    assert empty.stdout == "No functions on this account yet. Create one with: telnyx-edge new-func --actor --name=NAME\n"
    project = new_actor(tmp_path, env, "demo")
    func_id = func_id_of(project)
    listing = run_cli("list", env=env)
    lines = [line.rstrip() for line in listing.stdout.splitlines()]
    assert re.split(r"\s{2,}", lines[0]) == ["ID", "NAME", "STATUS", "CREATED", "URL"]
    assert re.split(r"\s{2,}", lines[2])[:3] == [func_id, "demo", "created"]
    assert lines[2].endswith(f"http://demo-{func_id[:10]}.localhost:8788")
    assert len(lines) == 3

    inspect = run_cli("inspect", "demo", env=env)
    assert inspect.returncode == 0
    out = [line.rstrip() for line in inspect.stdout.splitlines()]
    assert out[:6] == [
        "Name:       demo", f"ID:         {func_id}", "Status:     created",
        f"URL:        http://demo-{func_id[:10]}.localhost:8788", "Kind:       umbrella (telnyx.toml)",
        f"Directory:  {project}",
    ]
    assert out[8] == "Revision:   - (never shipped)"
    assert out[-4:] == [
        "Actor bindings:", "BINDING  TYPE     ROLE         STATUS", "-------  ----     ----         ------",
        "COUNTER  Counter  not shipped  -",
    ]
    assert run_cli("inspect", func_id, env=env).stdout == inspect.stdout

    missing = run_cli("inspect", "nope", env=env)
    assert (missing.returncode, missing.stderr) == (
        7, "❌ No function 'nope' on this account\n💡 Run 'telnyx-edge list' to see the functions and their ids.\n",
    )
    declined = run_cli("delete-func", "demo", env=env, input="n\n")
    assert declined.returncode == 1 and "Nothing deleted." in declined.stdout
    assert run_cli("inspect", "demo", env=env).returncode == 0
    deleted = run_cli("delete-func", "demo", env=env, input="y\n")
    assert deleted.returncode == 0 and deleted.stdout.endswith("✅ Func 'demo' deleted\n")
    new_actor(tmp_path, env, "demo2")
    assert run_cli("delete-func", "-y", "demo2", env=env).stdout == "✅ Func 'demo2' deleted\n"
    assert run_cli("list", env=env).stdout.startswith("No functions")


def test_inspect_warns_about_a_broken_manifest(tmp_path: Path, env: dict[str, str]) -> None:
    project = new_actor(tmp_path, env)
    (project / "telnyx.toml").write_text("name = [\n")
    result = run_cli("inspect", "demo", env=env)
    assert result.returncode == 0
    assert result.stderr.startswith("⚠️  Cannot read the project manifest: telnyx.toml is not valid TOML")


def test_status_reports_node_and_npm(env: dict[str, str]) -> None:
    result = run_cli("status", env=env)
    assert result.returncode == 0, result.stdout
    lines = result.stdout.splitlines()
    assert lines[0] == "Telnyx Edge CLI Status Check"
    assert re.fullmatch(r"✅ Node.js: v\d+\.\d+\.\d+", lines[3])
    assert re.fullmatch(r"✅ npm: \d+\.\d+\.\d+", lines[4])
    assert lines[-1] == "✅ All checks passed - CLI is ready to use"


def test_status_fails_without_node(env: dict[str, str], tmp_path: Path) -> None:
    result = run_cli("status", env={**env, "PATH": str(tmp_path)})
    assert result.returncode == 1
    assert "❌ Node.js: not found on PATH; install Node.js 18 or newer" in result.stdout
    assert result.stdout.endswith("❌ Some checks failed - please review the issues above\n")


@pytest.mark.parametrize("command", [
    [], ["new-func"], ["list"], ["inspect"], ["delete-func"], ["status"], ["ship"], ["ship", "status"],
    ["revisions"], ["revisions", "list"], ["rollback"], ["types"], ["dev"], ["serve"], ["actors"],
    ["actors", "list"], ["actors", "inspect"], ["actors", "instances"],
])
def test_help_on_every_command(command: list[str]) -> None:
    for flag in ("-h", "--help"):
        result = run_cli(*command, flag)
        assert result.returncode == 0
        assert result.stdout.startswith("Usage: telnyx-edge")


def test_wrong_flag_is_a_usage_error(env: dict[str, str]) -> None:
    result = run_cli("new-func", "--actor", "--nmae=x", env=env)
    assert result.returncode == 2
    assert "No such option: --nmae" in result.stderr
    assert "Traceback" not in result.stderr


def test_debug_shows_a_traceback_and_plain_errors_do_not(tmp_path: Path, env: dict[str, str]) -> None:
    plain = run_cli("new-func", "--actor", "--name=bad--", cwd=tmp_path, env=env)
    debug = run_cli("--debug", "new-func", "--actor", "--name=bad--", cwd=tmp_path, env=env)
    assert "Traceback" not in plain.stderr
    assert "Traceback (most recent call last)" in debug.stderr and "ScaffoldError" in debug.stderr
    assert debug.returncode == plain.returncode == 4


def test_failed_npm_install_keeps_the_project_and_says_how_to_finish(tmp_path: Path, env: dict[str, str]) -> None:
    # The registry cannot be made to fail on demand, so a stand-in npm plays a failing install.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "npm"
    fake.write_text("#!/bin/sh\necho 'npm ERR! code E404' >&2\necho 'npm ERR! 404 Not Found - esbuild' >&2\nexit 1\n")
    fake.chmod(0o755)
    work = tmp_path / "work"
    work.mkdir()
    result = run_cli("new-func", "--actor", "--name=demo", cwd=work, env={**env, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}"})
    assert result.returncode == 6
    project = work / "demo"
    assert (project / "telnyx.toml").is_file()
    assert result.stderr.splitlines()[-2:] == [
        f"❌ npm install failed in {project} (exit 1): npm ERR! 404 Not Found - esbuild",
        f"💡 The project was created; finish by hand: cd {project} && npm install",
    ]
    assert "   npm install" in result.stdout.splitlines()
