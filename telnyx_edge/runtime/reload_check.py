"""What a hot reload refuses, so it refuses what start refuses: a reload either serves code that
`dev` would have started with, or reports why not and keeps the old code serving."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from telnyx_edge.errors import BundleError, ConfigError, EdgeError, OwnershipError, RuntimeStartError
from telnyx_edge.runtime.registry import FunctionSpec


class ServedProject(Protocol):
    @property
    def root(self) -> Path: ...
    @property
    def spec(self) -> FunctionSpec | None: ...


class Owners(Protocol):
    def owned_types(self) -> set[str]: ...


def reload_check(spec: FunctionSpec, project: ServedProject, projects: Sequence[ServedProject], registry: Owners) -> None:
    """Raise RuntimeStartError if `spec`, the new build of `project`, could not have started.

    The rules of start: each project has its own name; every actor type a binding names has an
    owner (a project here, or the account's function `dev` already runs). A reload may not rename
    a function either: its state, gate and host are keyed by the name.
    """
    old = project.spec
    if old is not None and spec.name != old.name:
        raise RuntimeStartError(
            f"the function's name changed from {old.name!r} to {spec.name!r}",
            hint="Restart telnyx-edge dev to serve it under the new name.",
        )
    for other in projects:
        if other is not project and other.spec is not None and other.spec.name == spec.name:
            raise RuntimeStartError(
                f"{project.root} and {other.root} are both named {spec.name!r}",
                hint="Each project served by one dev needs its own name (telnyx.toml name / func_name).",
            )
    mine = set(old.owned_types) if old is not None else set()
    owned = (registry.owned_types() - mine) | set(spec.owned_types)
    for binding, type_ in sorted(spec.bindings.items()):
        if type_ not in owned:
            raise RuntimeStartError(
                f"binding {binding} of {spec.name}: actor type {type_} has no owner: no project here exports class {type_}",
                hint=f"Export class {type_} from main, or run the project that does with --with DIR (restart dev).",
            )


def failure_details(exc: EdgeError) -> tuple[str, ...]:
    """The lines under a failed reload: every problem the error lists, then its hint."""
    lines: list[str] = []
    if isinstance(exc, ConfigError):
        lines += exc.problems
    elif isinstance(exc, (BundleError, OwnershipError)):
        lines += exc.details
    if exc.hint:
        lines.append(exc.hint)
    return tuple(lines)
