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


def test_error_names_have_one_home_per_side() -> None:
    """Python's names of runtime failures are in the data plane's one list (errors.mjs NAMES), and
    no runtime module spells an error name as a string literal outside errors.mjs / errors.py."""
    from telnyx_edge import errors

    script = f'import("{(JS_DIR / "errors.mjs").as_uri()}").then((m) => console.log(Object.keys(m.NAMES).join(" ")))'
    names = set(subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30).stdout.split())
    assert {errors.ISOLATE_CRASHED, errors.STARTUP_ERROR, errors.STARTUP_TIMEOUT} <= names
    literal = re.compile(r"""["'](%s)["']""" % "|".join(sorted(names)))
    offenders = [
        f"{path.relative_to(ROOT)}:{n}"
        for path in sorted((ROOT / "telnyx_edge" / "runtime").rglob("*"))
        if path.suffix in (".py", ".mjs") and path.name not in ("errors.mjs",)
        for n, line in enumerate(path.read_text().splitlines(), 1)
        if literal.search(line)
    ]
    assert offenders == []
