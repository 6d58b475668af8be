"""Actor types on the account, and their instances as the storage engine records them.

Types are account-scoped: the owner is the function whose serving revision exports the class;
referrers bind the type without shipping it. Instances are read from a runtime's state file
(read-only, so `serve` or `dev` can keep running); values are never read.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from telnyx_edge.account import AccountBackend, FunctionRecord
from telnyx_edge.errors import AccountError, RuntimeStartError, UsageError

def account_state_dir(home: Path) -> Path:
    """Where `serve` keeps the durable state of every actor on the account."""
    return home / "state"


def existing_dir(path: Path, flag: str) -> Path:
    """`path` when it is an existing directory; a UsageError naming `flag` otherwise."""
    if not path.exists():
        raise UsageError(f"{flag} {path} does not exist", hint="Pass an existing directory.")
    if not path.is_dir():
        raise UsageError(f"{flag} {path} is a file, not a directory", hint="Pass an existing directory.")
    return path


def project_state_dir(project: Path) -> Path:
    """Where `dev` keeps a project's actor state unless `--state` says otherwise."""
    return project / ".telnyx" / "dev" / "state"


@dataclass(frozen=True)
class TypeView:
    type: str
    owner: FunctionRecord | None
    referrers: tuple[tuple[FunctionRecord, str], ...]  # (function, its binding name)


@dataclass(frozen=True)
class Instance:
    name: str
    keys: int
    bytes: int
    last_activity_ms: int
    alarm_ms: int | None
    sql_tables: int = 0
    db_bytes: int = 0


def list_types(account: AccountBackend) -> list[TypeView]:
    """Every type that a serving revision on the account owns or references."""
    owners = account.owners()
    bindings: dict[str, list[tuple[FunctionRecord, str]]] = {}
    for record in account.functions():
        if not record.serving_revision:
            continue
        manifest = account.revision(record.id, record.serving_revision).manifest
        for binding in manifest.get("actors", []):
            if binding.get("role") != "owner":
                bindings.setdefault(binding["type"], []).append((record, binding["binding"]))
    types = sorted(set(owners) | set(bindings))
    return [TypeView(t, owners.get(t), tuple(bindings.get(t, []))) for t in types]


def inspect_type(account: AccountBackend, type_: str) -> TypeView:
    for view in list_types(account):
        if view.type == type_:
            return view
    raise AccountError(
        f"No actor type '{type_}' on this account",
        hint="Run 'telnyx-edge actors list' to see the types; a type appears once a function that binds it is shipped.",
    )


def list_instances(state_dir: Path, type_: str, *, limit: int = 50) -> list[Instance]:
    """Instances of `type_` recorded under `state_dir`, newest activity first.

    Read from the runtime's instance index (read-only, so `serve` or `dev` can keep running);
    its figures are as of the activation's last report (every few seconds while in use).
    """
    from telnyx_edge.runtime.actor_index import list_instances as read_index

    try:
        rows = read_index(state_dir, type_, limit)
    except (sqlite3.DatabaseError, OSError) as exc:  # a corrupt or foreign file
        raise RuntimeStartError(
            f"Cannot read actor state in {state_dir}: {exc}", hint="Point --state at a runtime's state directory."
        ) from exc
    return [
        Instance(r.name, r.keys, r.value_bytes, r.last_activity_ms, r.alarm_fire_ms, r.sql_tables, r.db_bytes)
        for r in rows
    ]


def instances_of(
    account: AccountBackend, state_dir: Path, type_: str, *, project: Path | None = None, limit: int = 50,
) -> list[Instance]:
    """`list_instances`, and an AccountError (exit 7, as `inspect_type`) when there are none
    because `type_` is unknown: neither on the account, nor bound in `project`'s manifest (the
    types `dev` runs from source), nor with any instance under `state_dir`. Instances of a type
    the account does not know (state of a function since deleted, or of `dev`) are listed as
    usual. The account is read only when no instance is found."""
    found = list_instances(state_dir, type_, limit=limit)
    if found or type_ in _project_types(project) or any(v.type == type_ for v in list_types(account)):
        return found
    raise AccountError(
        f"No actor type '{type_}' on this account, and no persisted instances of it in {state_dir}",
        hint="Check the name (the class name, case-sensitive); 'telnyx-edge actors list' shows the account's types.",
    )


def _project_types(project: Path | None) -> set[str]:
    if project is None:
        return set()
    from telnyx_edge import config
    from telnyx_edge.errors import EdgeError

    try:
        return {a.type for a in config.load_manifest(project, check_main=False).actors}
    except EdgeError:  # no readable manifest: only the account and the state say what exists
        return set()
