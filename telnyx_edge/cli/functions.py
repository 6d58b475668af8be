"""`telnyx-edge list`, `inspect` and `delete-func`: the functions on the account."""

from __future__ import annotations

import typer

from telnyx_edge import console


def register(app: typer.Typer) -> None:
    app.command("list", help="List the functions on the account.")(list_functions)
    app.command("inspect", help="Show a function's details and its actor bindings.")(inspect)
    app.command("delete-func", help="Delete a function from the account (asks first unless -y).")(delete_func)


def _when(timestamp: str) -> str:
    return timestamp[:19].replace("T", " ")


def list_functions(
    page: int = typer.Option(1, "--page", min=1, help="Page number."),
    page_size: int = typer.Option(25, "--page-size", min=1, max=250, help="Functions per page."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (shape: docs/cli.md, JSON output)."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.cli import json_shapes

    records = open_account().functions()
    if as_json:
        page_records = records[(page - 1) * page_size: page * page_size]
        console.json_out({
            "functions": [json_shapes.function(r) for r in page_records],
            "page": page, "page_size": page_size, "total": len(records),
        })
        return
    if not records:
        console.info("No functions on this account yet. Create one with: telnyx-edge new-func --actor --name=NAME")
        return
    shown = records[(page - 1) * page_size: page * page_size]
    console.table(
        ["ID", "NAME", "STATUS", "CREATED", "URL"],
        [[r.id, r.name, r.status, _when(r.created_at), r.url()] for r in shown],
    )
    if len(records) > page * page_size:
        console.info(f"Page {page}; more with --page {page + 1}")


def inspect(
    ref: str = typer.Argument(..., metavar="NAME|ID", help="Function name or id."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON (shape: docs/cli.md, JSON output)."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.cli import json_shapes
    from telnyx_edge.functions import inspect_function

    details = inspect_function(open_account(), ref)
    if as_json:
        console.json_out(json_shapes.details(details))
        return
    r = details.record
    console.info(f"Name:       {r.name}")
    console.info(f"ID:         {r.id}")
    console.info(f"Status:     {r.status}")
    console.info(f"URL:        {r.url()}")
    console.info(f"Kind:       {'umbrella (telnyx.toml)' if r.kind == 'umbrella' else 'classic (func.toml)'}")
    console.info(f"Directory:  {r.directory}")
    console.info(f"Created:    {_when(r.created_at)}")
    console.info(f"Updated:    {_when(r.updated_at)}")
    if details.serving:
        console.info(f"Revision:   {details.serving.id} (serving, shipped {_when(details.serving.created_at)})")
    else:
        console.info("Revision:   - (never shipped)")
    if details.manifest_problem:
        console.warning(f"Cannot read the project manifest: {details.manifest_problem}")
    if details.bindings:
        console.info("")
        console.info("Actor bindings:")
        console.table(
            ["BINDING", "TYPE", "ROLE", "STATUS"], [[b.binding, b.type, b.role, b.status] for b in details.bindings]
        )


def delete_func(
    ref: str = typer.Argument(..., metavar="NAME|ID", help="Function name or id."),
    yes: bool = typer.Option(False, "-y", "--yes", help="Skip the confirmation prompt (for scripts and CI)."),
) -> None:
    from telnyx_edge.account import open_account
    from telnyx_edge.functions import delete_function, orphaned_by_delete

    account = open_account()
    record = account.resolve(ref)
    orphans = orphaned_by_delete(account, record)
    for orphan in orphans:
        users = ", ".join(f"'{f.name}' (binding {binding})" for f, binding in orphan.referrers)
        console.warning(
            f"'{record.name}' owns actor type {orphan.type}, which {users} reference{'s' if len(orphan.referrers) == 1 else ''}: "
            "after the delete their calls fail with ActorTypeNotFoundError until another function ships the class"
        )
    question = f"Delete func '{record.name}' ({record.id}) with its revisions"
    question += f", leaving {len(orphans)} actor type{'s' if len(orphans) != 1 else ''} without an owner?" if orphans else "?"
    if not yes and not typer.confirm(f"{question} This cannot be undone", default=False):
        console.info("Nothing deleted.")
        raise typer.Exit(1)
    delete_function(account, record.id)
    console.success(f"Func '{record.name}' deleted")
