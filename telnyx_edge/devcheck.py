"""`dev`'s paths, checked before anything is built or written: the project (and every `--with`
project) loads, `--state` is a directory of its own, `--env-file` is a readable file."""

from __future__ import annotations

import os
from pathlib import Path

from telnyx_edge.errors import UsageError


def check_dev_paths(project: Path, state: Path | None, with_projects: tuple[Path, ...], env_file: Path | None) -> set[str]:
    """The names of the functions dev runs from local source (the project and each `--with`);
    raises ConfigError for a project that does not load, UsageError for a bad `--state` or
    `--env-file`."""
    names = {_load(project)}
    for other in with_projects:
        names.add(_load(other.expanduser().resolve()))
    if state is not None:
        _check_state(state.expanduser().resolve(), project, with_projects)
    if env_file is not None:
        path = env_file.expanduser()
        if not path.exists():
            raise UsageError(f"--env-file {env_file} does not exist", hint="Pass a dotenv file (NAME=value lines).")
        if not path.is_file():
            raise UsageError(f"--env-file {env_file} is not a file", hint="Pass a dotenv file (NAME=value lines).")
    return names


def _check_state(state: Path, project: Path, with_projects: tuple[Path, ...]) -> None:
    hint = "Use a directory of its own, e.g. --state .telnyx/dev/state (the default, which .gitignore covers)."
    for path in (state, *state.parents):
        try:
            exists, is_dir = path.exists(), path.is_dir()
        except OSError as exc:  # e.g. a parent this user may not search
            raise UsageError(f"--state {state}: cannot look at {path} ({exc.strerror or exc})", hint=hint) from None
        if exists and not is_dir:
            where = "" if path == state else f": {path}"
            raise UsageError(f"--state {state}{where} is a file, not a directory", hint=hint)
        if exists:  # the nearest directory that exists: the state directory is made in it
            if not os.access(path, os.W_OK | os.X_OK):
                raise UsageError(f"--state {state}: {path} is not writable by this user", hint=hint)
            break
    for root in (project, *(p.resolve() for p in with_projects)):
        if state == root or root.is_relative_to(state):
            raise UsageError(
                f"--state {state} is a project directory (or holds one): actor state would be written among its sources",
                hint=hint,
            )


def _load(project: Path) -> str:
    from telnyx_edge.config import CLASSIC, UMBRELLA, find_manifest
    from telnyx_edge.runtime.devserver import load_project

    if not project.is_dir() or any((project / n).exists() and not (project / n).is_file() for n in (UMBRELLA, CLASSIC)):
        find_manifest(project)  # a missing directory, or a manifest that is not a file, named as such
    return load_project(project).display_name
