"""The real thing a user does first: scaffold with a real `npm install`, then type-check."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.harness import run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_new_func_actor_installs_and_type_checks(tmp_path: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is required")
    result = run_cli("new-func", "--actor", "--name=typed", cwd=tmp_path, env={"TELNYX_EDGE_HOME": str(tmp_path / "home")}, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "✓ Installed dependencies" in result.stdout.splitlines()
    project = tmp_path / "typed"
    # No esbuild (the toolchain brings its own); @telnyx/edge-runtime is the runtime's own package.
    assert not (project / "node_modules" / ".bin" / "esbuild").exists()
    assert (project / "node_modules" / "@telnyx" / "edge-runtime" / "edge-runtime.d.ts").is_file()
    assert (project / "package-lock.json").is_file()
    check = subprocess.run(["npx", "--no-install", "tsc", "--noEmit"], cwd=project, capture_output=True, text=True, timeout=300)
    assert check.returncode == 0, check.stdout + check.stderr

    # The check can fail: a type error in the scaffold's own code is reported.
    (project / "src" / "index.ts").write_text((project / "src" / "index.ts").read_text().replace("counter.increment(1)", "counter.increment('1')"))
    broken = subprocess.run(["npx", "--no-install", "tsc", "--noEmit"], cwd=project, capture_output=True, text=True, timeout=300)
    assert broken.returncode != 0 and "src/index.ts" in broken.stdout
