"""Project scaffolds: render `templates/` into a new project directory.

Files ending in `.jinja` are rendered (and lose the suffix); everything else is copied.
A file named `gitignore` becomes `.gitignore`. The project is built in a hidden sibling
directory and renamed into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import shutil
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path

import jinja2

from telnyx_edge import config
from telnyx_edge.errors import InstallError, ScaffoldError, ToolNotFound, UsageError

COMPATIBILITY_DATE = "2026-05-01"

LANGUAGES = {
    "ts": "ts", "typescript": "ts",
    "js": "js", "javascript": "js",
    "python": "python", "py": "python",
    "go": "go",
}
_UNSUPPORTED = {"quarkus": "Quarkus (Java) projects are not scaffolded by this toolchain"}
_NODE_TEMPLATES = {"actor", "agent", "ts", "js"}
# A template may build on another: it is rendered over its base, and a top-level file or folder
# it has (e.g. `src/`) replaces the base's entirely. The agent project shares the actor project's
# package.json, tsconfig.json and @telnyx/edge-runtime declarations.
_TEMPLATE_BASES = {"agent": "actor"}


@dataclass(frozen=True)
class Plan:
    """What `new-func` will create, checked before anything touches the account or disk."""

    name: str
    destination: Path
    template: str | None  # None when copying --from-dir
    from_dir: Path | None

    @property
    def uses_npm(self) -> bool:
        if self.template is not None:
            return self.template in _NODE_TEMPLATES
        return self.from_dir is not None and (self.from_dir / "package.json").is_file()

    @property
    def kind(self) -> str:
        if self.from_dir is not None:
            return "umbrella" if (self.from_dir / config.UMBRELLA).is_file() else "classic"
        return "umbrella" if self.template in ("actor", "agent") else "classic"


def templates_root() -> Path:
    """`templates/` inside the installed package (wheel), else the checkout's top-level folder."""
    packaged = Path(__file__).parent / "templates"
    return packaged if packaged.is_dir() else Path(__file__).resolve().parent.parent / "templates"


def resolve_language(language: str) -> str:
    key = language.strip().lower()
    if key in _UNSUPPORTED:
        raise ScaffoldError(f"{_UNSUPPORTED[key]}", hint="Use -l ts, js, python or go, or --actor.")
    if key not in LANGUAGES:
        raise ScaffoldError(
            f"Unknown language {language!r}",
            hint="Use -l ts (typescript), js (javascript), python or go; --actor for a Stateful Actor project.",
        )
    return LANGUAGES[key]


def plan(
    name: str, *, parent: Path, actor: bool = False, language: str | None = None,
    from_dir: Path | None = None, agent: bool = False,
) -> Plan:
    """Validate the request: name, language, source and destination. Touches nothing.

    `agent` asks for an Agent SDK project (an actor project whose class extends `Agent`); it
    implies `actor`.
    """
    actor = actor or agent
    if "/" in name or "\\" in name or ".." in name:
        raise ScaffoldError(
            f"Invalid function name {name!r}: it must not contain a path separator or '..'",
            hint="Pass a plain name such as my-func; use --dir to choose where it is created.",
        )
    if not config.valid_func_name(name):
        raise ScaffoldError(
            f"Invalid function name {name!r}",
            hint="Names are 1-64 letters, digits and dashes, with no leading or trailing dash.",
        )
    template: str | None = None
    if from_dir is not None:
        if actor:
            flag = "--agent" if agent else "--actor"
            raise ScaffoldError(f"--from-dir cannot be combined with {flag}", hint="Use one or the other.")
        from_dir = from_dir.expanduser().resolve()
        if not from_dir.is_dir():
            raise ScaffoldError(f"--from-dir {from_dir} is not a directory", hint="Pass an existing directory to copy.")
    elif actor:
        if language is not None and resolve_language(language) != "ts":
            kind = "Agent" if agent else "Stateful Actor"
            raise ScaffoldError(f"{kind} projects are TypeScript only", hint="Drop -l, or use -l ts.")
        template = "agent" if agent else "actor"
    elif language is not None:
        template = resolve_language(language)
    else:
        raise ScaffoldError(
            "Say what kind of project to create",
            hint="Use --actor for a Stateful Actor project, -l LANG for a classic function, or --from-dir DIR.",
        )
    parent = parent.expanduser().resolve()
    _check_parent(parent)
    destination = parent / name
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise ScaffoldError(
            f"{destination} already exists and is not empty",
            hint="Choose another name, remove the directory, or use --dir to create it elsewhere.",
        )
    if from_dir is not None and (destination == from_dir or destination.is_relative_to(from_dir)):
        raise ScaffoldError("The new project cannot be created inside the --from-dir source", hint="Use --dir to create it elsewhere.")
    return Plan(name=name, destination=destination, template=template, from_dir=from_dir)


def _check_parent(parent: Path) -> None:
    """`--dir` must be a directory, or a path where one can be created: the nearest part of it
    that exists must be a directory (a file or a device such as /dev/null is refused)."""
    for path in (parent, *parent.parents):
        if path.is_dir():
            return
        if path.exists():
            where = "" if path == parent else f": {path}"
            raise UsageError(
                f"--dir {parent}{where} is not a directory",
                hint="Pass a directory to create the project in (it is created if missing).",
            )


def write(plan: Plan, func_id: str) -> Path:
    """Create the project; on any failure, remove what was written and re-raise."""
    staging = plan.destination.parent / f".{plan.name}.{uuid.uuid4().hex[:8]}.partial"
    try:
        plan.destination.parent.mkdir(parents=True, exist_ok=True)
        from telnyx_edge.runtime import npmlink

        if plan.from_dir is not None:
            _copy_from(plan.from_dir, staging, plan.name, func_id)
        else:
            assert plan.template is not None
            context = {
                "name": plan.name, "func_id": func_id, "compatibility_date": COMPATIBILITY_DATE,
                "edge_runtime_version": npmlink.runtime_version(),
            }
            overlay = templates_root() / plan.template
            base = _TEMPLATE_BASES.get(plan.template)
            if base is not None:
                replaced = {child.name for child in overlay.iterdir()}
                _render(templates_root() / base, staging, context, skip=replaced)
            _render(overlay, staging, context)
        if npmlink.declares_dependency(staging):
            # `@telnyx/edge-runtime` is not on npm: wire it so the npm install that follows works.
            # The staging folder is at the destination's depth, so the relative link survives the rename.
            npmlink.link_project(staging)
        if plan.destination.exists():
            plan.destination.rmdir()  # checked empty in plan()
        staging.rename(plan.destination)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise ScaffoldError(f"Cannot create {plan.destination}: {exc}", hint="Check the parent directory is writable.") from exc
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return plan.destination


def _render(source: Path, target: Path, context: dict[str, str], skip: frozenset[str] | set[str] = frozenset()) -> None:
    """Render `source` into `target`; `skip` names top-level entries of `source` to leave out."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(source)), keep_trailing_newline=True,
        undefined=jinja2.StrictUndefined, autoescape=False,
    )
    for path in sorted(source.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts:
            continue
        relative = path.relative_to(source)
        if relative.parts[0] in skip:
            continue
        out_name = relative.name.removesuffix(".jinja")
        if out_name == "gitignore":
            out_name = ".gitignore"
        out = target / relative.parent / out_name
        out.parent.mkdir(parents=True, exist_ok=True)
        if path.suffix == ".jinja":
            out.write_text(env.get_template(relative.as_posix()).render(context), encoding="utf-8")
        else:
            shutil.copy2(path, out)


def _copy_from(source: Path, target: Path, name: str, func_id: str) -> None:
    shutil.copytree(source, target, symlinks=True, ignore=shutil.ignore_patterns("node_modules", ".telnyx", ".git"))
    manifest = target / config.UMBRELLA
    if not manifest.is_file():
        manifest = target / config.CLASSIC
    if not manifest.is_file():
        (target / config.CLASSIC).write_text(f'[edge_compute]\nfunc_id = "{func_id}"\nfunc_name = "{name}"\n', encoding="utf-8")
        return
    config.write_edge_compute(manifest, func_id, name)


def npm_install(project: Path) -> None:
    """Run `npm install` in the project; the project stays whatever happens."""
    npm = shutil.which("npm")
    hint = f"Install Node.js 18+ and npm, then run: cd {project} && npm install"
    if npm is None:
        raise ToolNotFound("npm was not found on PATH", hint=hint)
    try:
        result = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund"], cwd=project, capture_output=True, text=True, timeout=900,
        )
    except subprocess.TimeoutExpired as exc:
        raise InstallError("npm install timed out after 15 minutes", hint=f"Finish by hand: cd {project} && npm install") from exc
    if result.returncode != 0:
        lines = [line for line in (result.stderr or result.stdout).splitlines() if line.strip()]
        reason = next((line for line in lines if "ERR!" in line and "code" not in line.lower()), lines[-1] if lines else "")
        raise InstallError(
            f"npm install failed in {project} (exit {result.returncode}): {reason.strip()}",
            hint=f"The project was created; finish by hand: cd {project} && npm install",
        )
