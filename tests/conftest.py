from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness import NODE_FIXTURE, NODE_MODULES, ROOT, RUNTIME_PACKAGES

FIXTURES = ROOT / "tests" / "fixtures"


@pytest.fixture(scope="session")
def node_modules() -> Path:
    """The shared node_modules with esbuild and typescript, installed once per checkout.

    `.ci/run` installs it up front; this only fills the gap when someone runs pytest by hand.
    """
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.fail("Node.js and npm are required for these tests (node >= 18)")
    with open(NODE_FIXTURE / ".install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (NODE_MODULES / ".bin" / "esbuild").exists():
            subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund"], cwd=NODE_FIXTURE, check=True,
                capture_output=True, text=True,
            )
    return NODE_MODULES


def pytest_sessionstart(session: pytest.Session) -> None:
    """Install the runtime's own Node packages once per checkout, before any test runs.

    Here rather than in a fixture: the first install compiles better-sqlite3 (a minute or
    two on a busy machine), which must not count against the first test's timeout.
    """
    from telnyx_edge.runtime import packages

    # An engineer changing the pinned list points TELNYX_EDGE_NODE_PACKAGES at a private copy.
    os.environ[packages.ENV_DIR] = os.environ.get(packages.ENV_DIR) or str(RUNTIME_PACKAGES)
    packages.ensure()


@pytest.fixture
def edge_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """An empty account for each test: TELNYX_EDGE_HOME points at a fresh directory."""
    home = tmp_path / "edge-home"
    monkeypatch.setenv("TELNYX_EDGE_HOME", str(home))
    yield home


@pytest.fixture
def copy_fixture(tmp_path: Path, node_modules: Path):  # type: ignore[no-untyped-def]
    """Copy a project from tests/fixtures/projects/NAME into tmp_path, linked to the shared node_modules."""
    from tests.harness import link_node_modules

    def copy(name: str, dest_name: str | None = None) -> Path:
        dest = tmp_path / (dest_name or name)
        shutil.copytree(FIXTURES / "projects" / name, dest)
        link_node_modules(dest)
        if (dest / "tsconfig.json").is_file() and not (dest / "edge-runtime.d.ts").exists():
            # The runtime's declarations of @telnyx/edge-runtime (the shared node_modules has
            # no link to the package; `telnyx-edge runtime link` gives real projects one).
            shutil.copy(ROOT / "telnyx_edge" / "runtime" / "js" / "edge-runtime.d.ts", dest)
        return dest

    return copy
