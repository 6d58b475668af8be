"""Fixes from a fresh user's pass over the CLI: each case runs the real program and checks the
one-line `❌` error, the exit code, and that nothing of the user's was removed or written."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.harness import run_cli

pytestmark = pytest.mark.e2e

TOML = 'name = "jsp"\nmain = "{main}"\ncompatibility_date = "2026-05-01"\n'
INDEX = 'export default { async fetch() { return new Response("hi") } };\n'


def _project(root: Path, main: str = "src/index.js") -> Path:
    (root / main).parent.mkdir(parents=True, exist_ok=True)
    (root / main).write_text(INDEX)
    (root / "telnyx.toml").write_text(TOML.format(main=main))
    return root


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _one_error(result: object, code: int, says: str) -> None:
    stderr = result.stderr  # type: ignore[attr-defined]
    assert result.returncode == code, stderr  # type: ignore[attr-defined]
    assert "Internal error" not in stderr and "Traceback" not in stderr, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("❌")]
    assert len(errors) == 1 and says in errors[0], stderr


# -- ship --outdir never removes or replaces the user's files ----------------------------------

@pytest.mark.parametrize(("main", "outdir", "says"), [
    ("src/index.js", "src", "holds main (src/index.js)"),
    ("index.js", ".", "is the project directory"),
    ("src/index.js", "..", "holds main"),
    ("src/index.js", "dist", "already holds manifest.json, which ship did not write"),
])
def test_ship_outdir_refuses_the_users_files(tmp_path: Path, main: str, outdir: str, says: str) -> None:
    project = _project(tmp_path / "p", main)
    (project / "src").mkdir(exist_ok=True)
    (project / "src" / "manifest.json").write_text('{"mine":1}\n')
    (project / "dist").mkdir()
    (project / "dist" / "manifest.json").write_text('{"mine":2}\n')
    before = _tree(tmp_path)
    result = run_cli("ship", "--dry-run", "--outdir", outdir, cwd=project, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")})
    _one_error(result, 2, says)
    assert _tree(tmp_path) == before


def test_ship_outdir_clears_only_what_it_wrote(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    out = project / "dist"
    first = run_cli("ship", "--dry-run", "--outdir", "dist", cwd=project, env=env)
    assert first.returncode == 0, first.stderr
    (out / "notes.txt").write_text("mine\n")
    again = run_cli("ship", "--dry-run", "--outdir", "dist", cwd=project, env=env)
    assert again.returncode == 0, again.stderr  # its own outputs are replaced
    assert (out / "notes.txt").read_text() == "mine\n"
    assert {"index.js", "index.js.map", "meta.json", "manifest.json", "notes.txt"} <= {p.name for p in out.iterdir()}


# -- a --state dev cannot create, and a telnyx-env.d.ts that is not a regular file -------------

@pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
@pytest.mark.parametrize("state", ["/proc/x", "/root/../proc/self/fd"])
def test_dev_state_that_cannot_be_created(tmp_path: Path, state: str) -> None:
    project = _project(tmp_path / "p")
    result = run_cli("dev", "--port", "0", "--state", state, cwd=project, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")}, timeout=60)
    _one_error(result, 11, "as the actor state directory")


def test_types_refuses_a_directory_and_a_symlink(tmp_path: Path) -> None:
    project = _project(tmp_path / "p")
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    (project / "telnyx-env.d.ts").mkdir()
    _one_error(run_cli("types", cwd=project, env=env), 2, "is a directory or another non-file")
    (project / "telnyx-env.d.ts").rmdir()
    victim = tmp_path / "victim"
    victim.write_text("keep me\n")
    (project / "telnyx-env.d.ts").symlink_to(victim)
    _one_error(run_cli("types", cwd=project, env=env), 2, "is a symbolic link")
    assert victim.read_text() == "keep me\n"
    (project / "telnyx-env.d.ts").unlink()
    assert run_cli("types", cwd=project, env=env).returncode == 0
    assert (project / "telnyx-env.d.ts").is_file() and not (project / "telnyx-env.d.ts").is_symlink()


# -- actors instances: user data escaped, and an unknown type said as such ---------------------

def test_instances_of_an_unknown_type_is_an_error_with_its_name_escaped(tmp_path: Path) -> None:
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    result = run_cli("actors", "instances", "No\npe\x07", env=env)
    _one_error(result, 7, "No actor type 'No\\x0ape\\x07' on this account, and no persisted instances of it")
    assert "\n" not in result.stderr.split("❌", 1)[1].split("💡", 1)[0].rstrip("\n")
    # Same as inspect says for it.
    _one_error(run_cli("actors", "inspect", "No\npe", env=env), 7, "No actor type 'No\\x0ape' on this account")


def test_instances_without_an_account_record_are_listed(tmp_path: Path) -> None:
    from telnyx_edge.runtime.migrate import write_actor

    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    write_actor(tmp_path / "home" / "state", "Gone", "a", [(b"k", b"v")])
    listed = run_cli("actors", "instances", "Gone", env=env)
    assert listed.returncode == 0 and listed.stdout.splitlines()[2].split()[0] == "a", listed.stderr
    # A project's own [[actors]] type (dev runs it from source) is known before it has state.
    project = _project(tmp_path / "p")
    (project / "telnyx.toml").write_text(TOML.format(main="src/index.js") + '[[actors]]\nbinding = "C"\ntype = "Counter"\n')
    empty = run_cli("actors", "instances", "Counter", "-f", str(project), env=env)
    assert empty.returncode == 0 and empty.stdout == "No persisted instances of Counter.\n", empty.stderr


# -- ship -t 0 is refused, not "no timeout" ------------------------------------------------------

@pytest.mark.parametrize("value", ["0", "0s", "0m0s"])
def test_ship_timeout_zero_is_refused(tmp_path: Path, value: str) -> None:
    project = _project(tmp_path / "p")
    before = _tree(tmp_path)
    result = run_cli("ship", "--dry-run", "-t", value, cwd=project, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")})
    _one_error(result, 2, f"--timeout {value} is zero")
    assert _tree(tmp_path) == before


# -- messages that point the wrong way ------------------------------------------------------------

def test_a_build_error_hint_reads_right_before_and_after_the_errors(tmp_path: Path) -> None:
    from telnyx_edge import bundle
    from telnyx_edge.errors import BundleError
    from telnyx_edge.runtime.reload_check import failure_details

    project = _project(tmp_path / "p")
    (project / "src" / "index.js").write_text("export default { fetch( };\n")
    shipped = run_cli("ship", "--dry-run", cwd=project, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")})
    _one_error(shipped, 8, "Build failed with 1 error")
    lines = shipped.stderr.splitlines()
    assert lines[1].startswith("💡 ") and "src/index.js:1:" in lines[2]  # ship: the hint, then the errors
    with pytest.raises(BundleError) as caught:
        bundle.build(project, "src/index.js", tmp_path / "out")
    reload_lines = failure_details(caught.value)  # a failed reload: the errors, then the hint
    assert "src/index.js:1:" in reload_lines[0] and reload_lines[-1] == caught.value.hint
    for hint in (lines[1], reload_lines[-1]):
        assert not re.search(r"\b(below|above)\b", hint), hint


@pytest.mark.parametrize(("where", "says"), [("/dev/null", "--dir /dev/null is not a directory"), ("afile/sub", "afile is not a directory")])
def test_new_func_dir_that_is_not_a_directory(tmp_path: Path, where: str, says: str) -> None:
    (tmp_path / "afile").write_text("x\n")
    env = {"TELNYX_EDGE_HOME": str(tmp_path / "home")}
    result = run_cli("new-func", "--actor", "--name", "zz", "--dir", where, "--no-install", cwd=tmp_path, env=env)
    _one_error(result, 2, says)
    assert not (tmp_path / "home").exists()  # nothing registered
