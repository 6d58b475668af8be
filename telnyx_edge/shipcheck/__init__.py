"""The ship-time load check: import the bundle once in Node and report what it exports.

The bundle is copied into a scratch directory where its one external import,
`@telnyx/edge-runtime`, resolves to the runtime's own module (the one `dev` and `serve` give
isolates), so the check sees exactly the exports and base class user code will. Node reports facts (each export's kind, whether `default.fetch` is a function); the rules that
turn facts into errors live in `telnyx_edge.ship`.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from telnyx_edge.errors import ShipError, ToolNotFound
from telnyx_edge.runtime.jsmodule import link_runtime

_HERE = Path(__file__).resolve().parent
CHECK_SCRIPT = _HERE / "check.mjs"

# Kinds an export can have in the report.
ACTOR = "actor"  # a class extending StatefulActor
CLASS = "class"  # any other class


@dataclass(frozen=True)
class LoadReport:
    exports: dict[str, str]  # export name -> "actor" | "class" | "function" | "object" | ...
    default_fetch: str  # typeof default.fetch ("function" when fine), or "missing"

    def classes(self) -> list[str]:
        return [name for name, kind in self.exports.items() if kind in (ACTOR, CLASS)]


def find_node() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFound(
            "Node.js was not found on PATH",
            hint="Install Node.js 18 or newer (https://nodejs.org) and run the command again.",
        )
    return node


def load_check(bundle_js: Path, *, timeout: float = 30.0) -> LoadReport:
    """Import `bundle_js` in a fresh Node process; raise ShipError if it cannot be loaded."""
    node = find_node()
    with tempfile.TemporaryDirectory(prefix="telnyx-edge-check-") as scratch:
        root = Path(scratch)
        shutil.copyfile(bundle_js, root / "bundle.mjs")
        link_runtime(root)
        report_path = root / "report.json"
        try:
            proc = subprocess.run(
                [node, str(CHECK_SCRIPT), str(root), str(report_path)],
                cwd=root, capture_output=True, text=True, timeout=timeout,
            )
        except subprocess.TimeoutExpired as exc:
            raise ShipError(
                f"Loading the bundle did not finish within {timeout:g} s",
                hint="Top-level code of main (or a module it imports) must not block; move long work into fetch or an actor method.",
            ) from exc
        if not report_path.exists():
            detail = (proc.stderr.strip().splitlines() or [f"exit code {proc.returncode}"])[-1]
            raise ShipError(
                f"The bundle exited while loading: {detail}",
                hint="Top-level code of main must not call process.exit or leave a top-level await unsettled.",
            )
        report = json.loads(report_path.read_text(encoding="utf-8"))
    if not report.get("ok"):
        raise ShipError(
            f"The bundle threw while loading: {report.get('error', 'unknown error')}",
            hint="Fix the top-level code of main (or of a module it imports); it runs when the function starts.",
        )
    return LoadReport(exports=dict(report["exports"]), default_fetch=str(report["defaultFetch"]))
