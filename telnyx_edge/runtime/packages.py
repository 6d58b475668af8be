"""The runtime's own Node packages (better-sqlite3, esbuild, ...), installed once per machine.

They live in `$TELNYX_EDGE_HOME/runtime-node/<key>/node_modules`, never in a user's project.
`<key>` hashes the pinned package list (`runtime/node/package.json`) with the Node ABI version,
so a new toolchain release or a Node upgrade installs a fresh set beside the old one.
`TELNYX_EDGE_NODE_PACKAGES` names another folder to use instead (tests share one install).

An install runs `npm install` into a temporary folder beside the target and renames it into
place, under an exclusive lock, so concurrent first runs install once and nobody ever sees a
half-installed folder. better-sqlite3 compiles when no prebuilt binary can be fetched (about
a minute, once).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from telnyx_edge.errors import InstallError, ToolNotFound

SPEC = Path(__file__).parent / "node" / "package.json"
ENV_DIR = "TELNYX_EDGE_NODE_PACKAGES"  # read through telnyx_edge.settings
_MARKER = ".telnyx-edge-complete"
INSTALL_TIMEOUT_S = 900


def _node_abi() -> str:
    node = shutil.which("node")
    if node is None:
        raise ToolNotFound("node was not found on PATH", hint="Install Node.js 18 or newer (https://nodejs.org).")
    out = subprocess.run([node, "-p", "process.versions.modules"], capture_output=True, text=True, timeout=30)
    return out.stdout.strip() or "unknown"


def install_key() -> str:
    """A short hash of the pinned package list and the Node ABI they are built for."""
    digest = hashlib.sha256(SPEC.read_bytes() + b"\0" + _node_abi().encode()).hexdigest()
    return digest[:12]


def packages_dir(home: Path | None = None) -> Path:
    """The folder whose `node_modules` holds the runtime's packages (it may not exist yet)."""
    from telnyx_edge import settings

    configured = settings.get().node_packages
    if configured is not None:
        return configured.resolve()
    if home is None:
        from telnyx_edge.account import edge_home

        home = edge_home()
    return (home / "runtime-node" / install_key()).resolve()


def is_installed(target: Path) -> bool:
    marker = target / _MARKER
    return marker.is_file() and marker.read_bytes() == SPEC.read_bytes()


@contextlib.contextmanager
def _locked(target: Path) -> Iterator[None]:
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{target.name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def ensure(home: Path | None = None, *, on_install: Callable[[Path], None] | None = None) -> Path:
    """Return the packages folder, installing the pinned packages first if needed.

    `on_install(target)` is called once before a (slow) install starts, so a command can show a
    spinner. Raises ToolNotFound without npm, InstallError when npm fails (offline, say).
    """
    target = packages_dir(home)
    if is_installed(target):
        return target
    with _locked(target):
        if is_installed(target):
            return target
        if on_install is not None:
            on_install(target)
        _install(target)
    return target


def _install(target: Path) -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise ToolNotFound("npm was not found on PATH", hint="Install Node.js 18 or newer; npm comes with it.")
    staging = Path(tempfile.mkdtemp(prefix=".installing-", dir=target.parent))
    try:
        shutil.copy(SPEC, staging / "package.json")
        try:
            result = subprocess.run(
                [npm, "install", "--no-audit", "--no-fund", "--omit=dev", "--loglevel=error"],
                cwd=staging, capture_output=True, text=True, timeout=INSTALL_TIMEOUT_S,
            )
        except subprocess.TimeoutExpired as exc:
            raise InstallError(
                f"Installing the runtime's Node packages took longer than {INSTALL_TIMEOUT_S} s",
                hint="Check the network connection to the npm registry, then run `telnyx-edge runtime install`.",
            ) from exc
        if result.returncode != 0:
            last = (result.stderr.strip().splitlines() or ["npm install failed"])[-1]
            raise InstallError(
                f"Could not install the runtime's Node packages: {last}",
                hint="The first run needs the npm registry: connect, then run `telnyx-edge runtime install`.",
            )
        (staging / _MARKER).write_bytes(SPEC.read_bytes())
        if target.exists():
            shutil.rmtree(target)
        os.replace(staging, target)
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)


def describe(target: Path) -> dict[str, str]:
    """Installed version of each pinned package (for `status`)."""
    spec = json.loads(SPEC.read_text(encoding="utf-8"))
    out: dict[str, str] = {}
    for name in spec.get("dependencies", {}):
        manifest = target / "node_modules" / name / "package.json"
        try:
            out[name] = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError):
            out[name] = "missing"
    return out


async def packages_for(chosen: Path | None) -> Path:
    """`chosen`, else the installed packages folder (installing it first, off the event loop)."""
    if chosen is not None:
        return chosen
    import asyncio

    return await asyncio.to_thread(ensure)
