"""`telnyx-edge status`: what this machine has for running telnyx-edge."""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from pathlib import Path

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
    checks = [_config_file(home / "config.toml"), _account_database(home)]
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


def _config_file(path: Path) -> Check:
    """Found means read: a config file that is not TOML fails the check."""
    if not path.exists():
        return Check(True, "Config file", f"{path} (not created yet; defaults apply)")
    try:
        tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return Check(False, "Config file", f"{path} cannot be read as TOML: {exc}")
    return Check(True, "Config file", f"{path} (found and read)")


def _account_database(home: Path) -> Check:
    """Found means opened and read (read-only): a damaged database fails the check."""
    from telnyx_edge.account.local import DB_NAME, count_functions
    from telnyx_edge.errors import AccountError

    database = home / DB_NAME
    if not database.exists() and not database.is_symlink():
        ok = not home.exists() or home.is_dir()
        detail = "created on first new-func" if ok else f"{home} is not a directory; point TELNYX_EDGE_HOME at one"
        return Check(ok, "Account database", f"{database} ({detail})")
    try:
        count = count_functions(home)
    except AccountError as exc:
        return Check(False, "Account database", exc.message)
    return Check(True, "Account database", f"{database} (read: {count} function{'s' if count != 1 else ''})")
