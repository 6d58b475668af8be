"""`telnyx-edge new-func`: scaffold a project and mint its func_id on the account."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Optional

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import path_value


def register(app: typer.Typer) -> None:
    app.command("new-func", help="Create a new edge function: register it on the account and scaffold ./NAME/.")(new_func)


def new_func(
    name: str = typer.Option(..., "-n", "--name", help="Name of the function to create (1-64 letters, digits, dashes)."),
    actor: bool = typer.Option(False, "--actor", help="Scaffold a StatefulActor project (TypeScript, telnyx.toml)."),
    agent: bool = typer.Option(False, "--agent", help="Scaffold an Agent SDK project (an actor extending Agent; implies --actor)."),
    language: Optional[str] = typer.Option(None, "-l", "--language", help="ts|typescript, js|javascript, python, go."),
    from_dir: Optional[Path] = typer.Option(None, "--from-dir", parser=path_value, help="Copy files from an existing directory."),
    parent: Path = typer.Option(Path("."), "--dir", parser=path_value, help="Create the project under this directory instead of the current one."),
    install: bool = typer.Option(True, "--install/--no-install", help="Run npm install in the new project (Node projects)."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.errors import EdgeError
    from telnyx_edge.functions import create_function
    from telnyx_edge.scaffold import npm_install

    account = open_account()
    console.verbose(f"account: {account.home}")
    created = create_function(
        account, name, parent=parent, actor=actor, language=language, from_dir=from_dir, agent=agent,
    )
    console.verbose(f"scaffold: {created.plan.template or created.plan.from_dir}")
    console.success(f"Func '{created.record.name}' created")
    console.info(f"   func_id:   {created.record.id}")
    console.info(f"   directory: {created.path}")
    install_failed: EdgeError | None = None
    if install and created.plan.uses_npm:
        with console.err.status("Installing dependencies (npm install)..."):
            try:
                npm_install(created.path)
            except EdgeError as exc:
                install_failed = exc
        if install_failed is None:
            console.step("Installed dependencies")
    console.info("")
    console.info("💡 Next steps:")
    console.info(f"   cd {os.path.relpath(created.path)}")
    if created.plan.uses_npm and (not install or install_failed is not None):
        console.info("   npm install")
    if created.plan.kind == "umbrella":
        console.info("   telnyx-edge dev")
    console.info("   telnyx-edge ship")
    if install_failed is not None:
        raise install_failed
