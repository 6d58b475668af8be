"""One home for each contract: exceptions are defined in errors.py, environment variables are
read in settings.py. The few reads still elsewhere are listed here by name with the reason, so a new
one anywhere else fails this test."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.harness import ROOT

PACKAGE = ROOT / "telnyx_edge"

# Pending the runtime rewrite: moving them means editing these modules.
EXCEPTIONS_ELSEWHERE: set[str] = set()
ENVIRONMENT_READS_ELSEWHERE = {
    "runtime/dataplane.py",  # the environment the data plane inherits (its own variables come from settings)
    "runtime/watcher.py",  # WATCHFILES_FORCE_POLLING, watchfiles' own variable
    "console.py",  # COLUMNS, a terminal convention read before anything else
}


def _modules() -> list[tuple[str, ast.Module]]:
    return [(str(p.relative_to(PACKAGE)), ast.parse(p.read_text())) for p in sorted(PACKAGE.rglob("*.py"))]


def test_exceptions_are_defined_in_errors_py() -> None:
    found = set()
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef) and any(
                isinstance(b, ast.Name) and (b.id.endswith(("Error", "Exception")) or b.id == "Exception") for b in node.bases
            ) and rel != "errors.py":
                found.add(f"{rel}:{node.name}")
    assert found == EXCEPTIONS_ELSEWHERE


def test_protocol_error_is_the_one_in_errors_py() -> None:
    from telnyx_edge import errors
    from telnyx_edge.runtime import protocol

    assert protocol.ProtocolError is errors.ProtocolError


def test_the_environment_is_read_in_settings_py() -> None:
    readers = set()
    for rel, tree in _modules():
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv") and rel != "settings.py":
                readers.add(rel)
    assert readers == ENVIRONMENT_READS_ELSEWHERE
