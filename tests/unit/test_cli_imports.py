"""Every CLI module imports on its own, in a fresh interpreter (no import cycle through cli.app)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.harness import ROOT, child_env

MODULES = sorted(p.stem for p in (ROOT / "telnyx_edge" / "cli").glob("*.py") if p.stem != "__init__")


@pytest.mark.parametrize("module", MODULES)
def test_cli_module_imports_first(module: str) -> None:
    result = subprocess.run(
        [sys.executable, "-c", f"import telnyx_edge.cli.{module}"], env=child_env(), capture_output=True, text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr


def test_every_command_module_is_covered() -> None:
    assert {"app", "group", "revisions", "ship"} <= set(MODULES)
