"""The example-style fixture projects are real TypeScript: after `telnyx-edge runtime link` and
`telnyx-edge types` (no npm install, no network), `tsc --noEmit` accepts them against the
runtime's declarations of `@telnyx/edge-runtime`, as an editor would."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.dev_helpers import PROJECTS
from tests.harness import NODE_MODULES, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


@pytest.mark.parametrize("name", ["sms-followup-agent", "kv-limiter", "sql-notes-agent", "chat"])
def test_example_project_type_checks(name: str, tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    project = tmp_path / name
    shutil.copytree(PROJECTS / name, project)
    linked = run_cli("runtime", "link", "-f", str(project))
    assert linked.returncode == 0, linked.stderr
    typed = run_cli("types", "-f", str(project))
    assert typed.returncode == 0, typed.stderr
    checked = subprocess.run(
        ["node", str(NODE_MODULES / "typescript" / "bin" / "tsc"), "--noEmit", "-p", str(project)],
        capture_output=True, text=True, timeout=120,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
