"""esbuild: one ESM file from the manifest's `main`, with a source map and a metafile.

Bundling needs nothing from the project but its source. esbuild is the project's own when
its `node_modules` has one (the version the project pinned), else the toolchain's pinned
esbuild from the runtime's Node packages (`runtime/packages.py`): real Telnyx projects list no
esbuild, because the platform's CLI carries its own bundler. `@telnyx/edge-runtime` stays
external whatever `node_modules` holds, so it always resolves to the runtime's module where
the bundle runs (`runtime/jsmodule.link_runtime`). Every other import resolves from the
project's `node_modules`; a missing one is a one-line BundleError naming the import and the
file that imports it.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from telnyx_edge.errors import BundleError, ToolNotFound

RUNTIME_MODULE = "@telnyx/edge-runtime"
BUNDLE_NAME = "index.js"
MAP_NAME = "index.js.map"
META_NAME = "meta.json"
DEFAULT_TIMEOUT = 120.0
_LOCATION_RE = re.compile(r"^\s+(\S.*?):(\d+):(\d+):\s*$")
_UNRESOLVED_RE = re.compile(r'^(?P<where>.+?:\d+:\d+): Could not resolve "(?P<spec>[^"]+)"')


@dataclass(frozen=True)
class BundleResult:
    js_path: Path
    map_path: Path
    meta_path: Path
    metafile: dict[str, Any]
    exports: tuple[str, ...]  # names the bundle exports ("default" included)
    inputs: tuple[str, ...]  # source files that ended up in the bundle (relative to the project)
    size: int
    elapsed_ms: float
    warnings: tuple[str, ...] = field(default_factory=tuple)


def project_esbuild(project: Path) -> Path | None:
    """The esbuild in the project's own `node_modules`, if it has one."""
    for candidate in (project / "node_modules" / ".bin" / "esbuild", project / "node_modules" / "esbuild" / "bin" / "esbuild"):
        if candidate.exists():
            return candidate
    return None


def find_esbuild(project: Path) -> Path:
    """The project's esbuild, else the toolchain's pinned one (installed on first use).

    Raises ToolNotFound/InstallError only when the runtime's packages cannot be installed.
    """
    own = project_esbuild(project)
    if own is not None:
        return own
    from telnyx_edge.runtime import packages

    bundled = packages.ensure() / "node_modules" / ".bin" / "esbuild"
    if not bundled.exists():
        raise ToolNotFound(
            f"esbuild is missing from the runtime's Node packages ({bundled.parent.parent})",
            hint="Reinstall them: telnyx-edge runtime install",
        )
    return bundled


def build(project: Path, main: str, outdir: Path, *, timeout: float = DEFAULT_TIMEOUT) -> BundleResult:
    """Bundle `main` of `project` into `outdir/index.js` (+ `.map`, `meta.json`).

    A failed build leaves the previous outputs in place (a dev server may still be serving
    them); callers that must not see a stale bundle call `clean` first.
    """
    esbuild = find_esbuild(project)
    outdir.mkdir(parents=True, exist_ok=True)
    js_path = outdir / BUNDLE_NAME
    meta_path = outdir / META_NAME
    args = [
        str(esbuild), main, "--bundle", "--format=esm", "--platform=node", "--target=es2022",
        f"--external:{RUNTIME_MODULE}", "--sourcemap", f"--metafile={meta_path}",
        f"--outfile={js_path}", "--log-level=warning", "--color=false", "--charset=utf8",
    ]
    started = time.perf_counter()
    try:
        result = subprocess.run(args, cwd=project, capture_output=True, text=True, timeout=timeout)
    except OSError as exc:
        raise ToolNotFound(f"Cannot run esbuild at {esbuild}: {exc}", hint="Reinstall it (npm install in the project, or telnyx-edge runtime install)") from exc
    except subprocess.TimeoutExpired as exc:
        raise BundleError(f"esbuild did not finish within {timeout:g} s", hint="Check main for an import cycle or a huge input.") from exc
    elapsed_ms = (time.perf_counter() - started) * 1000
    errors, warnings = parse_messages(result.stderr)
    if result.returncode != 0:
        missing = missing_imports(errors)
        if missing and len(missing) == len(errors):
            raise BundleError(_missing_import_message(missing))
        raise BundleError(
            f"Build failed with {len(errors) or 1} error{'s' if len(errors) != 1 else ''}",
            details=errors or [result.stderr.strip()],
            # No "below"/"above": ship prints the hint before the errors, a failed reload after them.
            hint="Fix each error at the file:line:column it names, then run the command again (dev reloads on save).",
        )
    metafile = json.loads(meta_path.read_text(encoding="utf-8"))
    output: dict[str, Any] = next(
        (v for k, v in metafile.get("outputs", {}).items() if k.endswith("/" + BUNDLE_NAME) or k == BUNDLE_NAME), {}
    )
    return BundleResult(
        js_path=js_path, map_path=js_path.with_suffix(".js.map"), meta_path=meta_path,
        metafile=metafile, exports=tuple(output.get("exports", [])),
        inputs=tuple(output.get("inputs", {}).keys()), size=js_path.stat().st_size,
        elapsed_ms=elapsed_ms, warnings=tuple(warnings),
    )


def parse_messages(stderr: str) -> tuple[list[str], list[str]]:
    """esbuild's text log -> (errors, warnings), each as `file:line:col: message`."""
    errors: list[str] = []
    warnings: list[str] = []
    current: tuple[list[str], str] | None = None
    for line in stderr.splitlines():
        for marker, sink in (("[ERROR]", errors), ("[WARNING]", warnings)):
            if marker in line:
                current = (sink, line.split(marker, 1)[1].strip())
                sink.append(current[1])
                break
        else:
            match = _LOCATION_RE.match(line)
            if match and current is not None:
                sink, message = current
                sink[-1] = f"{match.group(1)}:{match.group(2)}:{match.group(3)}: {message}"
                current = None
    return errors, warnings


def missing_imports(errors: list[str]) -> list[tuple[str, str]]:
    """The `(import, file:line:col)` of each "Could not resolve" error esbuild reported."""
    found: list[tuple[str, str]] = []
    for error in errors:
        match = _UNRESOLVED_RE.match(error)
        if match:
            found.append((match.group("spec"), match.group("where")))
    return found


def _missing_import_message(missing: list[tuple[str, str]]) -> str:
    """One line: the first unresolved import, where it is imported, and the fix."""
    spec, where = missing[0]
    more = f" (and {len(missing) - 1} more unresolved import{'s' if len(missing) > 2 else ''})" if len(missing) > 1 else ""
    if spec.startswith((".", "/")):
        fix = "check the path"
    else:
        fix = f"add it with npm install {_package_name(spec)}"
    return f'Cannot resolve import "{spec}" in {where}: not found; {fix}{more}'


def _package_name(spec: str) -> str:
    """`@scope/name/sub` -> `@scope/name`; `name/sub` -> `name`."""
    parts = spec.split("/")
    return "/".join(parts[:2]) if spec.startswith("@") and len(parts) > 1 else parts[0]


def gzip_size(path: Path) -> int:
    """Size of the file gzip-compressed (what a transfer of the bundle costs)."""
    return len(gzip.compress(path.read_bytes(), compresslevel=9))
