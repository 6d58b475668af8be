"""`telnyx-edge actors list|inspect|instances`: actor types on the account and their instances."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import path_value


def register(app: typer.Typer) -> None:
    from telnyx_edge.cli.group import new_group

    group = new_group("Inspect Stateful Actor types on the account and their instances.")
    group.command("list", help="The actor types on the account, with owner and referencing functions.")(list_types)
    group.command("inspect", help="One type: its owner, the functions that bind it, and its instance count.")(inspect)
    group.command("instances", help="Persisted instances of a type (names, keys, bytes, activity, alarm; never values).")(instances)
    from telnyx_edge.cli.logs import actor_logs

    group.command("logs", help="Invocations and output of a type's actors, recorded by dev and serve (oldest first).")(actor_logs)
    from telnyx_edge.cli.actor_state import register as register_state

    register_state(group)
    app.add_typer(group, name="actors")


def _state_dir(state: Optional[Path], project: Optional[Path]) -> Path:
    from telnyx_edge.account import edge_home
    from telnyx_edge.actors import account_state_dir, existing_dir, project_state_dir
    from telnyx_edge.errors import UsageError

    if state is not None and project is not None:
        raise UsageError("--state and -f/--from-dir cannot be used together", hint="Pass one of them.")
    if state is not None:
        return existing_dir(state.expanduser().resolve(), "--state")
    if project is not None:
        return project_state_dir(existing_dir(project.expanduser().resolve(), "-f/--from-dir"))
    return account_state_dir(edge_home())


def _ms(value: int | None) -> str:
    """A time, or "-" for none (0: the index has no report of it yet, never 1970)."""
    return "-" if not value else console.timestamp(value)


_STATE = typer.Option(None, "--state", parser=path_value, help="Read this state directory (default: the account's, used by serve).")
_JSON = typer.Option(False, "--json", help="Print JSON (shape: docs/cli.md, JSON output).")
_PROJECT = typer.Option(None, "-f", "--from-dir", parser=path_value, help="Read the dev state of this project (.telnyx/dev/state).")


def list_types(as_json: bool = _JSON) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.actors import list_types as core_list
    from telnyx_edge.cli import json_shapes

    views = core_list(open_account())
    if as_json:
        console.json_out([json_shapes.actor_type(v) for v in views])
        return
    if not views:
        console.info("No actor types on this account yet. Ship a function with an [[actors]] binding.")
        return
    console.table(
        ["TYPE", "OWNER", "REFERENCED BY"],
        [[v.type, v.owner.name if v.owner else "(no owner)", ", ".join(f"{f.name} ({b})" for f, b in v.referrers) or "-"] for v in views],
    )


def inspect(
    type_: str = typer.Argument(..., metavar="TYPE", help="Actor type (class name)."),
    state: Optional[Path] = _STATE,
    project: Optional[Path] = _PROJECT,
    as_json: bool = _JSON,
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.actors import inspect_type, list_instances
    from telnyx_edge.cli import json_shapes

    view = inspect_type(open_account(), type_)
    count = len(list_instances(_state_dir(state, project), type_, limit=1_000_000))
    if as_json:
        console.json_out({**json_shapes.actor_type(view), "instances": count})
        return
    console.info(f"Type:       {console.one_line(view.type)}")
    owner = console.one_line(f"{view.owner.name} ({view.owner.id})") if view.owner else "(no owner: references do not resolve)"
    console.info(f"Owner:      {owner}")
    console.info(f"Instances:  {count}")
    rows = [[view.owner.name, "owner", "-"]] if view.owner else []
    rows += [[f.name, "reference", b] for f, b in view.referrers]
    console.info("")
    console.table(["FUNCTION", "ROLE", "BINDING"], rows)


def instances(
    type_: str = typer.Argument(..., metavar="TYPE", help="Actor type (class name)."),
    state: Optional[Path] = _STATE,
    project: Optional[Path] = _PROJECT,
    limit: int = typer.Option(50, "--limit", min=1, max=1000, help="At most this many, newest activity first."),
    as_json: bool = _JSON,
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.actors import instances_of
    from telnyx_edge.cli import json_shapes

    source = project.expanduser().resolve() if project is not None and state is None else None
    found = instances_of(open_account(), _state_dir(state, project), type_, project=source, limit=limit)
    if as_json:
        console.json_out([json_shapes.instance(i) for i in found])
        return
    if not found:
        console.info(f"No persisted instances of {console.one_line(type_)}.")
        if state is None and project is None and (Path.cwd() / "telnyx.toml").is_file():
            console.info("💡 This read serve's state; for this project's dev state add -f . (or --state DIR).")
        return
    console.table(
        ["NAME", "KEYS", "BYTES", "SQL TABLES", "DB BYTES", "LAST ACTIVITY", "NEXT ALARM"],
        [
            [i.name, str(i.keys), str(i.bytes), str(i.sql_tables), str(i.db_bytes), _ms(i.last_activity_ms), _ms(i.alarm_ms)]
            for i in found
        ],
    )
