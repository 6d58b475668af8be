"""`telnyx-edge types`: telnyx.toml's bindings -> `telnyx-env.d.ts` (declarations only).

Each `[[actors]]` binding is typed `ActorNamespace<Class>` with the class its type names:
imported from `main` when main exports it (an owner), else from the project file that
declares `export class <type>` (e.g. a reference function that keeps a copy of the class for
its types; `import type` never puts it in the bundle). A reference binding whose class is not
in the project gets the untyped `ActorNamespace`: its stubs offer only `fetch` and `id` until
the user narrows the namespace by hand, as the shared-actor walkthrough does.

The file declares the same members twice: on a global `Env` and on the `Env` interface of
`@telnyx/edge-runtime` (module augmentation), so both `env: Env` parameters and
`StatefulActor<Env>` see them. Platform bindings are typed with the interfaces
`@telnyx/edge-runtime` exports (`KvNamespace`, `SqlDatabase`, `CloudStorageBucket`,
`RateLimiter`; declared by the scaffold's `edge-runtime.d.ts`), as the platform's own `types`
does; a project without those declarations (classic func.toml, or scaffolded before they
existed) gets small local interfaces instead.
"""

from __future__ import annotations

import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from telnyx_edge import config
from telnyx_edge.errors import UsageError

OUTPUT_NAME = "telnyx-env.d.ts"
RUNTIME_DECLARATIONS = "edge-runtime.d.ts"  # written by new-func --actor
_SKIP_DIRS = {"node_modules", ".telnyx", ".git", "dist", "build"}
_SOURCE_SUFFIXES = (".ts", ".tsx", ".mts", ".js", ".mjs")

_HELPERS = {
    "storage.kv": """interface __TelnyxKvNamespace {
  get(key: string, options?: { type?: "text" }): Promise<string | null>;
  get<T = unknown>(key: string, options: { type: "json" }): Promise<T | null>;
  put(key: string, value: string, options?: { expirationTtl?: number }): Promise<void>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<{
    keys: { name: string; sizeBytes?: number; updatedAt?: string }[];
    list_complete: boolean;
    cursor?: string;
  }>;
}""",
    "storage.cloudstorage": """interface __TelnyxCloudStorageBucket {
  get(key: string): Promise<Response | null>;
  put(key: string, value: string | ArrayBuffer | Uint8Array): Promise<void>;
  head(key: string): Promise<Record<string, unknown> | null>;
  delete(key: string): Promise<void>;
  list(options?: { prefix?: string; cursor?: string; limit?: number }): Promise<unknown>;
}""",
    "storage.sqldb": """interface __TelnyxSqlDatabase {
  prepare(query: string): unknown;
  batch(statements: unknown[]): Promise<unknown[]>;
  exec(query: string): Promise<unknown>;
}""",
    "ratelimits": """interface __TelnyxRateLimiter {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}""",
}
_PLATFORM_TYPES = {
    "storage.kv": "__TelnyxKvNamespace",
    "storage.cloudstorage": "__TelnyxCloudStorageBucket",
    "storage.sqldb": "__TelnyxSqlDatabase",
    "ratelimits": "__TelnyxRateLimiter",
}
# What @telnyx/edge-runtime exports for each, used when the project's edge-runtime.d.ts declares
# them (the scaffold's does); otherwise (a classic func.toml project, or one scaffolded before
# these declarations existed) the small local interfaces above keep the file type-checking.
_RUNTIME_TYPES = {
    "storage.kv": "KvNamespace",
    "storage.cloudstorage": "CloudStorageBucket",
    "storage.sqldb": "SqlDatabase",
    "ratelimits": "RateLimiter",
}


@dataclass(frozen=True)
class TypesResult:
    path: Path
    text: str
    bindings: tuple[str, ...]
    warnings: tuple[str, ...]


def write_types(directory: Path) -> TypesResult:
    manifest = config.load_manifest(directory, check_main=False)
    text, warnings = render(manifest, find_classes(manifest))
    path = manifest.root / OUTPUT_NAME
    _write_regular(path, text)
    names = tuple(a.binding for a in manifest.actors) + tuple(p.binding for p in manifest.platform_bindings)
    return TypesResult(path, text, names, tuple(warnings))


def _write_regular(path: Path, text: str) -> None:
    """Write `path` only as a regular file of its own: a symlink there (which a plain write would
    follow, overwriting its target) or a directory, FIFO or device is refused with UsageError.
    The text goes to a temporary file renamed over `path`, so nothing is ever written through
    a link that appears between the check and the write."""
    hint = f"Remove or rename {path.name} (types writes a regular file of that name), then run types again."
    try:
        st = path.lstat()
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"cannot look at {path}: {exc.strerror or exc}", hint=hint) from None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise UsageError(f"{path} is a symbolic link: types will not write through it", hint=hint)
    if st is not None and not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path} is a directory or another non-file, not a declarations file", hint=hint)
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(text, encoding="utf-8")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise UsageError(f"cannot write {path}: {exc.strerror or exc}", hint="Check that the project directory is writable.") from None


def find_classes(manifest: config.Manifest) -> dict[str, str]:
    """Actor type -> the module (import path relative to the project root) that exports its class."""
    wanted = {a.type for a in manifest.actors}
    found: dict[str, str] = {}
    main = manifest.main_path
    if main is not None and main.is_file():
        source = main.read_text(encoding="utf-8", errors="replace")
        for type_ in wanted:
            if _exports_name(source, type_):
                found[type_] = _import_path(manifest.root, main)
    for path in sorted(_sources(manifest.root)):
        missing = wanted - set(found)
        if not missing:
            break
        if path == main:
            continue
        source = path.read_text(encoding="utf-8", errors="replace")
        for type_ in missing:
            if re.search(rf"\bexport\s+(?:default\s+)?(?:abstract\s+)?class\s+{re.escape(type_)}\b", source):
                found[type_] = _import_path(manifest.root, path)
    return found


def render(manifest: config.Manifest, classes: dict[str, str]) -> tuple[str, list[str]]:
    warnings: list[str] = []
    members: list[str] = []
    notes: list[str] = []
    for actor in manifest.actors:
        if actor.type in classes:
            members.append(f"{actor.binding}: __TelnyxActorNamespace<{actor.type}>;")
        else:
            members.append(f"{actor.binding}: __TelnyxActorNamespace;")
            notes.append(
                f"// {actor.binding}: no class {actor.type} in this project (a reference binding), so its stubs are "
                "untyped;\n// narrow the namespace by hand or keep a type-only copy of the class (see docs/ship.md)."
            )
            warnings.append(f"binding {actor.binding}: no class {actor.type} found in the project; typed as untyped ActorNamespace")
    helpers: list[str] = []
    runtime_types: list[str] = ["ActorNamespace"] if manifest.actors else []
    declared_by_runtime = _runtime_declares_bindings(manifest.root)
    telnyx_import = ""
    for platform in manifest.platform_bindings:
        if platform.kind == "secrets":
            handles = " | ".join(f'"{s.binding}"' for s in manifest.secrets) or "string"
            members.append(f"{platform.binding}: {{ get(handle: {handles}): Promise<string> }};")
        elif platform.kind == "telnyx":
            if (manifest.root / "node_modules" / "telnyx").is_dir():
                telnyx_import = 'import type { default as __TelnyxClient } from "telnyx";\n'
                members.append(f"{platform.binding}: __TelnyxClient;")
            else:
                members.append(f"{platform.binding}: unknown;")
                warnings.append(f"binding {platform.binding}: the telnyx npm package is not installed; typed as unknown")
        elif platform.kind in _PLATFORM_TYPES:
            if declared_by_runtime:
                if _RUNTIME_TYPES[platform.kind] not in runtime_types:
                    runtime_types.append(_RUNTIME_TYPES[platform.kind])
            elif _HELPERS[platform.kind] not in helpers:
                helpers.append(_HELPERS[platform.kind])
            members.append(f"{platform.binding}: {_PLATFORM_TYPES[platform.kind]};")
    # [env_vars] reach env.NAME as strings too (a binding of the same name wins).
    claimed = {a.binding for a in manifest.actors} | {p.binding for p in manifest.platform_bindings}
    members += [f"{name}: string;" for name in manifest.env_vars if name not in claimed and config.IDENTIFIER_RE.match(name)]
    by_module: dict[str, list[str]] = {}
    for type_, module in sorted(classes.items()):
        by_module.setdefault(module, []).append(type_)
    lines = [
        "// Code generated by `telnyx-edge types`. DO NOT EDIT.",
        f"// From {manifest.path.name}; run `telnyx-edge types` again after changing its bindings.",
        "",
    ]
    if runtime_types:
        names = ", ".join(f"{name} as __Telnyx{name}" for name in runtime_types)
        lines.append(f'import type {{ {names} }} from "@telnyx/edge-runtime";')
    lines += [f'import type {{ {", ".join(names)} }} from "{module}";' for module, names in by_module.items()]
    if telnyx_import:
        lines.append(telnyx_import.rstrip("\n"))
    body = "\n".join(f"    {m}" for m in members)
    for block in (notes, helpers):
        if block:
            lines += ["", *block]
    lines += [
        "",
        "declare global {",
        "  interface Env {",
        *([body] if body else []),
        "  }",
        "}",
        "",
        'declare module "@telnyx/edge-runtime" {',
        "  interface Env {",
        *([body] if body else []),
        "  }",
        "}",
        "",
        "export {};",
        "",
    ]
    return "\n".join(lines), warnings


def _runtime_declares_bindings(root: Path) -> bool:
    """Whether the runtime's declarations the project sees export the binding interfaces: the
    package `runtime link` wires into node_modules, or an older scaffold's copied file."""
    for path in (root / "node_modules" / "@telnyx" / "edge-runtime" / RUNTIME_DECLARATIONS, root / RUNTIME_DECLARATIONS):
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if "interface KvNamespace" in text and "interface RateLimiter" in text:
            return True
    return False


def _exports_name(source: str, name: str) -> bool:
    escaped = re.escape(name)
    if re.search(rf"\bexport\s+(?:default\s+)?(?:abstract\s+)?class\s+{escaped}\b", source):
        return True
    for group in re.findall(r"\bexport\s+(?:type\s+)?\{([^}]*)\}", source):
        for item in group.split(","):
            exported = item.strip().split(" as ")[-1].strip().removeprefix("type ").strip()
            if exported == name:
                return True
    return False


def _import_path(root: Path, module: Path) -> str:
    relative = PurePosixPath(module.resolve().relative_to(root.resolve()).as_posix())
    stem = relative.with_suffix("") if relative.suffix in _SOURCE_SUFFIXES else relative
    return f"./{stem}"


def _sources(root: Path) -> list[Path]:
    result: list[Path] = []
    for folder, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and not d.startswith(".")]
        for name in files:
            if name.endswith(_SOURCE_SUFFIXES) and not name.endswith(".d.ts"):
                result.append(Path(folder) / name)
    return result
