"""`telnyx-edge storage kv|sqldb`: KV namespaces and SQL databases on the local account (spec 1.10)."""

from __future__ import annotations

import os

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from telnyx_edge import console
from telnyx_edge.cli.params import path_value
from telnyx_edge.account.namespaces import KINDS, Catalog, Kind, StoreRecord


def register(app: typer.Typer) -> None:
    from telnyx_edge.cli.group import new_group

    storage = new_group("Manage KV namespaces and SQL databases (local: under TELNYX_EDGE_HOME/storage).")
    kv = new_group("KV namespaces: env.NAME of a [storage.kv.NAME] binding.")
    kv.command("create", help="Create a KV namespace; prints its id for telnyx.toml.")(_create("kv"))
    kv.command("list", help="List the KV namespaces.")(_list("kv"))
    kv.command("get", help="Show one KV namespace.")(_get("kv"))
    kv.command("delete", help="Delete a KV namespace and every key in it.")(_delete("kv"))
    key = new_group("Keys of a KV namespace.")
    key.command("put", help="Write a key (last write wins).")(key_put)
    key.command("get", help="Print a key's value.")(key_get)
    key.command("list", help="List keys (name, size, updated).")(key_list)
    key.command("delete", help="Delete a key (deleting a missing key is not an error).")(key_delete)
    kv.add_typer(key, name="key")
    sqldb = new_group("SQL databases: env.NAME of a [storage.sqldb.NAME] binding.")
    sqldb.command("create", help="Create a SQL database; prints its id for telnyx.toml.")(_create("sqldb"))
    sqldb.command("list", help="List the SQL databases.")(_list("sqldb"))
    sqldb.command("get", help="Show one SQL database.")(_get("sqldb"))
    sqldb.command("delete", help="Delete a SQL database and its data.")(_delete("sqldb"))
    sqldb.command("execute", help="Run SQL (--command or --file) in one transaction and print the rows.")(execute)
    storage.add_typer(kv, name="kv")
    storage.add_typer(sqldb, name="sqldb")
    app.add_typer(storage, name="storage")


def _catalog() -> Catalog:
    from telnyx_edge.account import edge_home

    return Catalog(edge_home())


_REF = typer.Argument(..., metavar="ID|NAME", help="The id (or name) from create/list.")
_REMOTE = typer.Option(False, "--remote", hidden=True, help="Accepted for compatibility; everything is local.")


def _create(kind: Kind) -> Callable[..., None]:
    def create(name: str = typer.Option(..., "--name", help="A name to find it by (unique per kind).")) -> None:
        record = _catalog().create(kind, name)
        console.step(f"Created {KINDS[kind]} '{record.name}'")
        console.info(record.id)
    return create


def _list(kind: Kind) -> Callable[..., None]:
    def list_(as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        records = _catalog().list(kind)
        if as_json:
            console.info(json.dumps([_as_dict(r) for r in records], indent=2))
            return
        if not records:
            console.info(f"No {KINDS[kind]}s on this account yet. Create one with: telnyx-edge storage {kind} create --name NAME")
            return
        console.table(["ID", "NAME", "CREATED AT", "SIZE"], [[r.id, r.name, r.created_at, _size(r.size_bytes)] for r in records])
    return list_


def _get(kind: Kind) -> Callable[..., None]:
    def get(ref: str = _REF, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
        record = _catalog().get(kind, ref)
        if as_json:
            console.info(json.dumps(_as_dict(record), indent=2))
            return
        console.info(f"ID:       {record.id}")
        console.info(f"Name:     {record.name}")
        console.info(f"Created:  {record.created_at}")
        console.info(f"Size:     {_size(record.size_bytes)}")
        console.info(f"File:     {record.path}")
    return get


def _delete(kind: Kind) -> Callable[..., None]:
    def delete(ref: str = _REF, yes: bool = typer.Option(False, "-y", "--yes", help="Skip the confirmation prompt.")) -> None:
        catalog = _catalog()
        record = catalog.get(kind, ref)
        if not yes and not typer.confirm(f"Delete {KINDS[kind]} '{record.name}' ({record.id}) and its data?", default=False):
            console.info("Nothing deleted.")
            raise typer.Exit(1)
        catalog.delete(kind, record.id)
        console.success(f"{KINDS[kind]} '{record.name}' deleted")
    return delete


def _as_dict(record: StoreRecord) -> dict[str, object]:
    return {"id": record.id, "name": record.name, "created_at": record.created_at, "size_bytes": record.size_bytes}


def _size(size: int) -> str:
    return f"{size} B" if size < 1024 else f"{size / 1024:.1f} KiB" if size < 1024 * 1024 else f"{size / 1048576:.1f} MiB"


def _iso(ms: int) -> str:
    """As the runtime's KvNamespace.list() gives `updatedAt`."""
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _print_value(value: bytes) -> None:
    """Raw bytes into a pipe; escaped text on a terminal (a value may hold control characters)."""
    if not sys.stdout.isatty():
        sys.stdout.buffer.write(value)
        sys.stdout.buffer.flush()
        return
    text = value.decode("utf-8", errors="backslashreplace")
    console.info("".join(ch if ch.isprintable() or ch in "\n\t" else ch.encode("unicode_escape").decode() for ch in text))


def key_put(
    ref: str = _REF,
    key: str = typer.Argument(..., metavar="KEY"),
    value: Optional[str] = typer.Argument(None, metavar="[VALUE]", help="The value (or use --path)."),
    ttl: Optional[str] = typer.Option(None, "--ttl", help="Expire after this long: 30s, 10m, 2h, 1d or seconds."),
    path: Optional[Path] = typer.Option(None, "--path", parser=path_value, help="Read the value from this file."),
    remote: bool = _REMOTE,
) -> None:
    from telnyx_edge.account import kv
    from telnyx_edge.errors import UsageError

    if (value is None) == (path is None):
        raise UsageError("Pass the value either as VALUE or with --path FILE", hint="e.g. storage kv key put ID user/1 hello")
    if path is not None:
        try:
            data = path.expanduser().read_bytes()
        except OSError as exc:
            raise UsageError(f"Cannot read {path}: {exc.strerror}", hint="Check the path.") from exc
    else:
        data = os.fsencode(value or "")  # the argument's bytes exactly, even when they are not UTF-8
    record = _catalog().get("kv", ref)
    kv.put(record.path, key, data, kv.parse_ttl(ttl) if ttl else None)
    console.step(f"Put '{key}' ({len(data)} bytes) in '{record.name}'")


def key_get(ref: str = _REF, key: str = typer.Argument(..., metavar="KEY"), remote: bool = _REMOTE) -> None:
    from telnyx_edge.account import kv
    from telnyx_edge.errors import AccountError

    record = _catalog().get("kv", ref)
    value = kv.get(record.path, key)
    if value is None:
        raise AccountError(f"No key '{key}' in KV namespace '{record.name}'", hint="List the keys with: telnyx-edge storage kv key list ID")
    _print_value(value)


def key_list(
    ref: str = _REF,
    prefix: str = typer.Option("", "--prefix", help="Only keys starting with this."),
    cursor: Optional[str] = typer.Option(None, "--cursor", help="Continue after a previous page."),
    limit: int = typer.Option(1000, "--limit", min=1, max=1000, help="Keys per page."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    remote: bool = _REMOTE,
) -> None:

    from telnyx_edge.account import kv

    record = _catalog().get("kv", ref)
    keys, next_cursor = kv.list_keys(record.path, prefix, cursor, limit)
    if as_json:
        console.info(json.dumps({
            "keys": [
                {"name": k.name, "sizeBytes": k.size_bytes, "updatedAt": _iso(k.updated_at_ms),
                 **({"expiration": k.expires_at_ms // 1000} if k.expires_at_ms else {})}
                for k in keys
            ],
            "list_complete": next_cursor is None, "cursor": next_cursor,
        }, indent=2))
        return
    if not keys:
        console.info(f"No keys{f' starting with {prefix!r}' if prefix else ''} in '{record.name}'.")
        return
    when = console.timestamp
    console.table(["KEY", "SIZE", "UPDATED AT", "EXPIRES AT"], [
        [escape(k.name), str(k.size_bytes), when(k.updated_at_ms), when(k.expires_at_ms) if k.expires_at_ms else "-"] for k in keys
    ])
    if next_cursor:
        console.info(f"More with --cursor {next_cursor}")


def key_delete(ref: str = _REF, key: str = typer.Argument(..., metavar="KEY"), remote: bool = _REMOTE) -> None:
    from telnyx_edge.account import kv

    record = _catalog().get("kv", ref)
    existed = kv.delete(record.path, key)
    console.success(f"Key '{key}' deleted" if existed else f"Key '{key}' was not there; nothing to delete")


def execute(
    ref: str = typer.Argument(..., metavar="ID|NAME", help="The database id or name."),
    command: Optional[str] = typer.Option(None, "--command", help="SQL to run."),
    file: Optional[Path] = typer.Option(None, "--file", parser=path_value, help="A file of SQL statements to run."),
    as_json: bool = typer.Option(False, "--json", help="Print the results as JSON."),
    remote: bool = _REMOTE,
) -> None:
    from telnyx_edge.account import sqldb
    from telnyx_edge.errors import UsageError

    if (command is None) == (file is None):
        raise UsageError("Pass exactly one of --command SQL or --file PATH", hint='e.g. --command "SELECT 1"')
    if file is not None:
        try:
            script = file.expanduser().read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"Cannot read {file}: {exc}", hint="Pass a UTF-8 text file of SQL statements.") from exc
    else:
        script = command or ""
    record = _catalog().get("sqldb", ref)
    results = sqldb.execute(record.path, script)
    if as_json:
        console.info(json.dumps([
            {"columns": list(r.columns), "rows": [list(row) for row in r.rows], "changes": r.changes} for r in results
        ], indent=2, default=lambda v: v.hex() if isinstance(v, bytes) else str(v)))
        return
    for result in results:
        if result.columns:
            console.table(list(result.columns), [[_cell(v) for v in row] for row in result.rows])
        else:
            console.step(f"{result.sql.splitlines()[0][:60]}: {result.changes} row(s) changed")


def _cell(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bytes):
        return f"x'{value.hex()}'"
    text = escape(str(value))
    return "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode() for ch in text)
