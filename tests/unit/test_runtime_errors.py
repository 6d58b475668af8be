"""The error names user code branches on: the runtime's JS and the scaffold's types agree."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from telnyx_edge.runtime.jsmodule import JS_DIR
from tests.harness import ROOT


@pytest.mark.skipif(shutil.which("node") is None, reason="node is required")
def test_declared_errors_match_the_runtime() -> None:
    declared = set(re.findall(r"export class (\w+Error) extends Error", (ROOT / "telnyx_edge" / "runtime" / "js" / "edge-runtime.d.ts").read_text()))
    script = f'import("{(JS_DIR / "errors.mjs").as_uri()}").then((m) => console.log(Object.keys(m.ERRORS).join(" ")))'
    out = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout
    assert declared == set(out.split())
