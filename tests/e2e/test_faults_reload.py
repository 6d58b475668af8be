"""Hot reload faults (issue 10, item 9): an edit saved right after `Ready` is picked up, and a
reload checks the manifest exactly as start does: every problem listed, what start refuses is
refused (the old code keeps serving), warnings shown."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev
from tests.harness import ServerProcess

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory, node_modules: Path) -> Path:
    return copy_project("faults", tmp_path_factory.mktemp("reload"))


@pytest.fixture(scope="module")
def server(project: Path) -> Iterator[ServerProcess]:
    proc = start_dev(project, "--state", str(project.parent / "state"), env={"TELNYX_EDGE_STARTUP_TIMEOUT_MS": "1500"})
    yield proc
    assert close(proc) == 0


@pytest.fixture
def manifest(project: Path, server: ServerProcess) -> Iterator[Path]:
    """telnyx.toml, restored (and reloaded) after the test."""
    path = project / "telnyx.toml"
    original = path.read_text()
    yield path
    path.write_text(original)
    server.wait_for(r"Reloaded in \d+ ms")


def serves(server: ServerProcess) -> str:
    return httpx.get(server.url + "/version", timeout=30).text


def test_emptying_the_manifest_lists_every_problem(server: ServerProcess, manifest: Path) -> None:
    manifest.write_text("")
    server.wait_for(r"Reload failed: telnyx.toml has 2 problems; the previous code keeps serving")
    assert server.wait_for(r"^\s+name: missing")
    assert server.wait_for(r"^\s+main: missing")
    assert serves(server) == "v1"


def test_a_bad_value_is_refused_and_listed(server: ServerProcess, manifest: Path) -> None:
    manifest.write_text(manifest.read_text().replace('name = "faults"', 'name = "bad name!"'))
    server.wait_for(r"Reload failed: telnyx.toml has 1 problem;")
    assert server.wait_for(r"^\s+name: 'bad name!' is not a valid function name")
    assert serves(server) == "v1"


def test_an_unknown_key_is_a_warning_and_the_reload_goes_on(server: ServerProcess, manifest: Path) -> None:
    manifest.write_text("colour = 1\n" + manifest.read_text())
    server.wait_for(re.escape("telnyx.toml: colour: unknown key (ignored)"))
    server.wait_for(r"Reloaded in \d+ ms")


def test_what_start_refuses_reload_refuses(server: ServerProcess, manifest: Path) -> None:
    # A binding to a type nothing owns: start refuses it, so reload does too.
    manifest.write_text(manifest.read_text() + '\n[[actors]]\nbinding = "GHOST"\ntype = "Ghost"\n')
    server.wait_for(r"Reload failed: binding GHOST of faults: actor type Ghost has no owner")
    assert serves(server) == "v1"


def test_a_rename_is_refused(server: ServerProcess, manifest: Path) -> None:
    manifest.write_text(manifest.read_text().replace('name = "faults"', 'name = "renamed"'))
    server.wait_for(r"Reload failed: the function's name changed from 'faults' to 'renamed'")
    assert serves(server) == "v1"


def test_new_code_stuck_at_top_level_keeps_the_old_code_serving(server: ServerProcess, project: Path) -> None:
    index = project / "src" / "index.ts"
    original = index.read_text()
    index.write_text("while (true) {}\n" + original)
    try:
        server.wait_for(r"Reload failed: the code of faults did not finish loading within 1.5 s", timeout=30)
        assert serves(server) == "v1"
    finally:
        index.write_text(original)
        server.wait_for(r"Reloaded in \d+ ms")
    assert "Future exception" not in server.output


@pytest.mark.parametrize("attempt", range(3))
def test_an_edit_saved_right_after_ready_is_picked_up(tmp_path: Path, node_modules: Path, attempt: int) -> None:
    project = copy_project("faults", tmp_path)
    index = project / "src" / "index.ts"
    text = index.read_text()
    proc = start_dev(project)
    try:
        # No sleep: the edit lands as soon as the Ready line has been read.
        index.write_text(text.replace('VERSION = "v1"', 'VERSION = "v2"'))
        proc.wait_for(r"Reloaded in \d+ ms", timeout=30)
        assert serves(proc) == "v2"
    finally:
        assert close(proc) == 0
