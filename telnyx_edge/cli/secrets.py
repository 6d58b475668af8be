"""`telnyx-edge secrets add|list|delete`: the account's secrets (spec 1.9). Values are never printed."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from typing import Optional

import typer

from telnyx_edge import console
from telnyx_edge.account.secrets import SecretStore


def register(app: typer.Typer) -> None:
    from telnyx_edge.cli.group import new_group

    group = new_group(
        "Manage the account's secrets: each is an environment variable of every function "
        "(local, stored unencrypted in a file only you can read)."
    )
    group.command("add", help="Add or update a secret (NAME is upper-cased; VALUE from stdin when omitted).")(add)
    group.command("list", help="List the secrets (never their values).")(list_secrets)
    group.command("delete", help="Delete a secret.")(delete)
    app.add_typer(group, name="secrets")


def _store() -> SecretStore:
    from telnyx_edge.account import edge_home

    return SecretStore(edge_home())


def _read_value() -> str:
    if sys.stdin.isatty():
        import getpass

        return getpass.getpass("Value (not echoed): ")
    return sys.stdin.read().removesuffix("\n")


def add(
    name: str = typer.Argument(..., metavar="NAME", help="Secret name (stored upper-cased)."),
    value: Optional[str] = typer.Argument(None, metavar="[VALUE]", help="The value; omit it (or pass -) to read stdin."),
) -> None:
    secret, existed = _store().add(name, _read_value() if value in (None, "-") else value)
    if existed:
        console.success(f"Secret '{secret.name}' updated successfully")
    else:
        console.step(f"Secret '{secret.name}' added successfully")


def _when(timestamp: str) -> str:
    moment = datetime.fromisoformat(timestamp.replace("Z", "+00:00"))
    return f"{moment:%b} {moment.day}, {moment:%Y, %H:%M}"


def list_secrets(as_json: bool = typer.Option(False, "--json", help="Print JSON (still without values).")) -> None:
    records = _store().list()
    if as_json:
        console.info(json.dumps(
            [{"id": r.id, "name": r.name, "created_at": r.created_at, "updated_at": r.updated_at} for r in records], indent=2,
        ))
        return
    if not records:
        console.info("No secrets on this account yet. Add one with: telnyx-edge secrets add NAME VALUE")
        return
    console.table(
        ["SECRET ID", "SECRET NAME", "CREATED AT", "UPDATED AT"],
        [[r.id, r.name, _when(r.created_at), _when(r.updated_at)] for r in records],
    )


def delete(name: str = typer.Argument(..., metavar="NAME", help="Secret name (case-insensitive).")) -> None:
    secret = _store().delete(name)
    console.success(f"Secret '{secret.name}' deleted successfully")
