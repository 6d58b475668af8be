"""The wheel carries the templates, and an installed wheel scaffolds from them."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness import ROOT

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def test_wheel_contains_templates_and_scaffolds_from_them(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(dist), str(ROOT)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    (wheel,) = dist.glob("telnyx_edge-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        str(p.relative_to(ROOT)).replace("templates/", "telnyx_edge/templates/", 1)
        for p in (ROOT / "templates").rglob("*") if p.is_file() and "__pycache__" not in p.parts
    }
    assert expected and expected <= names
    assert "telnyx_edge/templates/actor/telnyx.toml.jinja" in names
    assert any(n.startswith("telnyx_edge-") and n.endswith("entry_points.txt") for n in names)

    # Install only the wheel's files (dependencies come from this environment) and run it
    # from a directory where the checkout is not importable.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(target), str(wheel)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    work = tmp_path / "work"
    work.mkdir()
    result = subprocess.run(
        [sys.executable, "-c", "import sys; sys.path.insert(0, sys.argv[1]); import telnyx_edge.scaffold as s; "
         "print(s.templates_root()); sys.argv = ['telnyx-edge', 'new-func', '--actor', '-n', 'fromwheel', '--no-install']; "
         "from telnyx_edge.cli.app import main; main()", str(target)],
        cwd=work, env={"TELNYX_EDGE_HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin", "NO_COLOR": "1"},
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == str(target / "telnyx_edge" / "templates")
    assert (work / "fromwheel" / "src" / "counter.ts").is_file()
