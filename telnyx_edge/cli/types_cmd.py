"""`telnyx-edge types [-f DIR]`: write telnyx-env.d.ts from the manifest's bindings."""

from __future__ import annotations

from pathlib import Path

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import path_value


def register(app: typer.Typer) -> None:
    app.command("types", help="Generate telnyx-env.d.ts: a typed global Env from telnyx.toml's bindings.")(types)


def types(
    from_dir: Path = typer.Option(Path("."), "-f", "--from-dir", parser=path_value, help="Path to the project directory."),
) -> None:
    from telnyx_edge.typegen import write_types

    result = write_types(from_dir.expanduser())
    for warning in result.warnings:
        console.warning(warning)
    console.success(f"Wrote {result.path} ({len(result.bindings)} binding{'s' if len(result.bindings) != 1 else ''})")
