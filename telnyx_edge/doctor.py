"""`telnyx-edge status`: what this machine has for running telnyx-edge."""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import dataclass

from telnyx_edge.account import edge_home

MIN_NODE_MAJOR = 18


@dataclass(frozen=True)
class Check:
    ok: bool
    label: str
    detail: str


def _version(tool: str) -> str | None:
    path = shutil.which(tool)
    if path is None:
        return None
    try:
        result = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout.strip() or None


def node_major(version: str) -> int | None:
    match = re.match(r"v?(\d+)\.", version)
    return int(match.group(1)) if match else None


def run_checks() -> list[Check]:
    home = edge_home()
    config_file = home / "config.toml"
    database = home / "account.db"
    checks = [
        Check(True, "Config file", f"{config_file} ({'found' if config_file.is_file() else 'not created yet; defaults apply'})"),
        Check(
            database.is_file() or not home.exists() or home.is_dir(), "Account database",
            f"{database} ({'found' if database.is_file() else 'created on first new-func'})",
        ),
    ]
    node = _version("node")
    if node is None:
        checks.append(Check(False, "Node.js", "not found on PATH; install Node.js 18 or newer"))
    else:
        major = node_major(node)
        ok = major is not None and major >= MIN_NODE_MAJOR
        checks.append(Check(ok, "Node.js", node if ok else f"{node} is too old; Node.js 18 or newer is required"))
    npm = _version("npm")
    checks.append(Check(npm is not None, "npm", npm or "not found on PATH; it comes with Node.js"))
    checks.append(_runtime_packages())
    return checks


def _runtime_packages() -> Check:
    from telnyx_edge.errors import EdgeError
    from telnyx_edge.runtime import packages

    try:
        target = packages.packages_dir()
    except EdgeError as exc:
        return Check(False, "Runtime packages", exc.message)
    if not packages.is_installed(target):
        # Not a failure: dev, serve and ship install them on first use.
        return Check(True, "Runtime packages", f"{target} (installed on first dev/serve/ship, or run `telnyx-edge runtime install`)")
    versions = ", ".join(f"{name} {version}" for name, version in packages.describe(target).items())
    return Check("missing" not in versions, "Runtime packages", f"{target} ({versions})")
