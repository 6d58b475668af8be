"""`@telnyx/edge-runtime` for npm: the runtime's module as a local folder package, and projects wired to it.

Real projects depend on `@telnyx/edge-runtime`, which is not on the public npm registry, so
their `npm install` fails with a 404. The toolchain provides the package itself: a folder
`$TELNYX_EDGE_HOME/npm/edge-runtime@<version>/` whose `package.json` names the package, and whose
module and type declarations are links to the runtime's own (`runtime/js`, the one place the
declarations live). `link_project` wires a project to that folder the way npm itself records
a folder dependency: the `node_modules/@telnyx/edge-runtime` link, and in `package-lock.json`
(when there is one) a `link` entry instead of the registry tarball. `package.json` is never
changed: the folder's version is the lowest one the project's own range names (`^0.9.2` ->
0.9.2), so the dependency stays satisfied and a plain `npm install` or `npm ci` keeps the
link and fetches everything else from the registry as usual.

Bundles never use what `node_modules` holds for this package (it stays external and resolves
to the runtime's module where the bundle runs); the link is for `npm install`, editors and
`tsc --noEmit`.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telnyx_edge.errors import ConfigError
from telnyx_edge.runtime.jsmodule import JS_DIR

PACKAGE = "@telnyx/edge-runtime"
MODULE_FILE = "edge-runtime.mjs"
TYPES_FILE = "edge-runtime.d.ts"
_DEPENDENCY_FIELDS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")
# A version in a range: 0.9.2, 1.x, 2, 0.9.2-beta.1 (x and * count as 0 for the lowest version).
_VERSION_RE = re.compile(r"v?(\d+)(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?(-[0-9A-Za-z.-]+)?")
_RANGE_RE = re.compile(r"^[\s^~<>=v0-9xX*.|+-]*[0-9A-Za-z.-]*$")


@dataclass(frozen=True)
class LinkResult:
    folder: Path  # the local folder package node_modules/@telnyx/edge-runtime links to
    version: str  # the folder package's version
    spec: str  # the project's dependency range, as package.json writes it
    lock_updated: bool  # package-lock.json had a different entry and now records the link


def runtime_version() -> str:
    """The version of the runtime's own module (runtime/js/package.json)."""
    return str(json.loads((JS_DIR / "package.json").read_text(encoding="utf-8"))["version"])


def version_for(spec: str) -> str:
    """The lowest version a range names, so the range accepts it (`^0.9.2` -> 0.9.2).

    `*`, `latest`, an empty range or one with only an upper bound take the runtime's own version.
    """
    first = spec.split("||")[0].strip()
    if first.startswith("<"):
        return runtime_version()
    match = _VERSION_RE.search(first)
    if match is None:
        return runtime_version()
    major, minor, patch, pre = match.groups()
    parts = [major, *(p if p is not None and p.isdigit() else "0" for p in (minor, patch))]
    return ".".join(parts) + (pre or "")


def npm_dir(home: Path | None = None) -> Path:
    if home is None:
        from telnyx_edge.account import edge_home

        home = edge_home()
    return home / "npm"


def folder_package(version: str, home: Path | None = None) -> Path:
    """Create (or refresh) `$TELNYX_EDGE_HOME/npm/edge-runtime@<version>/` and return it.

    Its module and declarations are symlinks into the installed toolchain, so upgrading the
    toolchain updates every linked project; running this again repairs a moved install.
    """
    if not _VERSION_RE.fullmatch(version):
        raise ConfigError(f"{version!r} is not a version", hint="Use a version range such as \"^0.10.0\" in package.json.")
    folder = npm_dir(home) / f"edge-runtime@{version}"
    folder.mkdir(parents=True, exist_ok=True)
    manifest = {
        "name": PACKAGE,
        "version": version,
        "description": "The telnyx-edge local runtime's @telnyx/edge-runtime (module and type declarations).",
        "type": "module",
        "main": MODULE_FILE,
        "types": TYPES_FILE,
        "exports": {".": {"types": f"./{TYPES_FILE}", "default": f"./{MODULE_FILE}"}},
    }
    _write_if_changed(folder / "package.json", json.dumps(manifest, indent=2) + "\n")
    for name in (MODULE_FILE, TYPES_FILE):
        _symlink(folder / name, (JS_DIR / name).resolve())
    return folder


def dependency_spec(project: Path) -> str:
    """The project's `@telnyx/edge-runtime` range from package.json; ConfigError if it has none."""
    path = project / "package.json"
    try:
        data: Any = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path} does not exist", hint="Run the command in a Node project (a folder with package.json), or pass -f DIR.") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not valid JSON: {exc}", hint="Fix package.json and run the command again.") from exc
    for field in _DEPENDENCY_FIELDS:
        deps = data.get(field) if isinstance(data, dict) else None
        if isinstance(deps, dict) and PACKAGE in deps:
            spec = deps[PACKAGE]
            if not isinstance(spec, str) or not _RANGE_RE.match(spec):
                raise ConfigError(
                    f"package.json asks for {PACKAGE} {json.dumps(spec)}, which is not a version range",
                    hint=f'Use a range such as "*" or "^0.10.0" for {PACKAGE} in {field}.',
                )
            return spec
    raise ConfigError(
        f"package.json does not depend on {PACKAGE}",
        hint=f'Add "{PACKAGE}": "^{runtime_version()}" to its dependencies, then run the command again.',
    )


def declares_dependency(project: Path) -> bool:
    """Whether the project's package.json (if any, and readable) lists the package."""
    try:
        data: Any = json.loads((project / "package.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and any(isinstance(data.get(f), dict) and PACKAGE in data[f] for f in _DEPENDENCY_FIELDS)


def link_project(project: Path, home: Path | None = None) -> LinkResult:
    """Wire `project` to the local folder package so `npm install` succeeds; package.json stays as is.

    Raises ConfigError when package.json is missing, unreadable or does not depend on the package.
    """
    project = project.resolve()
    spec = dependency_spec(project)
    version = version_for(spec)
    folder = folder_package(version, home).resolve()
    scope = project / "node_modules" / "@telnyx"
    scope.mkdir(parents=True, exist_ok=True)
    _symlink(scope / "edge-runtime", Path(os.path.relpath(folder, scope)))
    lock_updated = _update_lock(project / "package-lock.json", os.path.relpath(folder, project), version)
    return LinkResult(folder=folder, version=version, spec=spec, lock_updated=lock_updated)


def _update_lock(lock: Path, resolved: str, version: str) -> bool:
    """Record the link in package-lock.json as npm does for a folder dependency (v2/v3 locks)."""
    try:
        data: Any = json.loads(lock.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return False
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{lock} is not valid JSON: {exc}", hint="Delete package-lock.json and run the command again.") from exc
    packages = data.get("packages") if isinstance(data, dict) else None
    if not isinstance(packages, dict):
        raise ConfigError(f"{lock} has no \"packages\" (lockfile v1)", hint="Delete package-lock.json and run the command again.")
    key = f"node_modules/{PACKAGE}"
    wanted = {key: {"resolved": resolved, "link": True}, resolved: {"name": PACKAGE, "version": version}}
    if all(packages.get(k) == v for k, v in wanted.items()):
        return False
    # The registry package's own nested modules go with it; hoisted ones npm prunes as extraneous.
    for name in [k for k in packages if k == key or k.startswith(key + "/")]:
        del packages[name]
    packages.update(wanted)
    data.pop("dependencies", None)  # the v1 section of a v2 lock; npm rebuilds it
    _write_if_changed(lock, json.dumps(data, indent=2) + "\n")
    return True


def _symlink(link: Path, target: Path) -> None:
    if link.is_symlink():
        if Path(os.readlink(link)) == target:
            return
        link.unlink()
    elif link.is_dir():
        shutil.rmtree(link)  # an earlier real install of the package
    elif link.exists():
        link.unlink()
    link.symlink_to(target)


def _write_if_changed(path: Path, text: str) -> None:
    if not path.is_file() or path.read_text(encoding="utf-8") != text:
        path.write_text(text, encoding="utf-8")
