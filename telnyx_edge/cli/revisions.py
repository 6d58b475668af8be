"""`telnyx-edge revisions list NAME|ID` and `telnyx-edge rollback NAME|ID REVISION`."""

from __future__ import annotations

import typer

from telnyx_edge import console
from telnyx_edge.cli.group import new_group


def register(app: typer.Typer) -> None:
    group = new_group("A function's shipped revisions (each ship makes one; they never change).")
    group.command("list", help="List a function's revisions, newest first; the serving one is marked.")(list_revisions)
    app.add_typer(group, name="revisions")
    app.command("rollback", help="Serve an earlier deploy_ok revision of a function again.")(rollback)


def list_revisions(
    ref: str = typer.Argument(..., metavar="NAME|ID", help="Function name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (shape: docs/cli.md, JSON output)."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.cli import json_shapes

    account = open_account()
    record = account.resolve(ref)
    revisions = account.revisions(record.id)
    if as_json:
        console.json_out([json_shapes.revision(rev, record.serving_revision) for rev in revisions])
        return
    if not revisions:
        console.info(f"Func '{record.name}' has no revisions yet. Ship it with: telnyx-edge ship -f {record.directory}")
        return
    rows = []
    for rev in revisions:
        roles = ", ".join(f"{a['binding']}={a['type']}:{a['role']}" for a in rev.manifest.get("actors", []))
        rows.append([
            rev.id, rev.created_at[:19].replace("T", " "), rev.status,
            f"{rev.manifest.get('size', 0):,}", roles or "-",
            "* serving" if rev.id == record.serving_revision else "",
        ])
    console.table(["REVISION", "SHIPPED", "STATUS", "BYTES", "ACTORS", "SERVING"], rows)


def rollback(
    ref: str = typer.Argument(..., metavar="NAME|ID", help="Function name or id."),
    revision: str = typer.Argument(..., metavar="REVISION", help="Revision id (or a unique prefix) from 'revisions list'."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.ship import rollback as run_rollback

    record, target = run_rollback(open_account(), ref, revision)
    console.success(
        f"Rollback of '{record.name}' to revision {target.id} accepted; the local edge serves it from the next request."
    )
