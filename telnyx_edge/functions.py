"""The life of a function on the account: create (scaffold + mint), inspect, delete."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from telnyx_edge import config, scaffold
from telnyx_edge.account import OWNER, AccountBackend, FunctionRecord, RevisionRecord
from telnyx_edge.errors import ConfigError


@dataclass(frozen=True)
class Created:
    record: FunctionRecord
    path: Path
    plan: scaffold.Plan


@dataclass(frozen=True)
class BindingView:
    binding: str
    type: str
    role: str  # "owner", "reference", or "not shipped"
    status: str = "-"  # for a shipped binding: "serving" (owner), "resolves to NAME" or "unresolved" (reference)


@dataclass(frozen=True)
class Details:
    record: FunctionRecord
    bindings: tuple[BindingView, ...]
    serving: RevisionRecord | None
    manifest_problem: str | None = None


def create_function(
    account: AccountBackend, name: str, *, parent: Path, actor: bool = False,
    language: str | None = None, from_dir: Path | None = None, agent: bool = False,
) -> Created:
    """Validate, mint the func_id on the account, then write the project (or undo the mint)."""
    plan = scaffold.plan(name, parent=parent, actor=actor, language=language, from_dir=from_dir, agent=agent)
    record = account.register(name, plan.destination, plan.kind)
    try:
        path = scaffold.write(plan, record.id)
    except BaseException:
        account.delete(record.id)
        raise
    return Created(record=record, path=path, plan=plan)


def inspect_function(account: AccountBackend, ref: str) -> Details:
    record = account.resolve(ref)
    serving = account.revision(record.id, record.serving_revision) if record.serving_revision else None
    if serving is not None:
        owners = account.owners()
        views = []
        for b in serving.manifest.get("actors", []):
            role = str(b.get("role", OWNER))
            owner = owners.get(str(b["type"]))
            if role == OWNER:
                status = "serving"
            elif owner is not None and owner.id != record.id:
                status = f"resolves to '{owner.name}'"
            else:
                status = "unresolved: no owner on this account"
            views.append(BindingView(str(b["binding"]), str(b["type"]), role, status))
        return Details(record, tuple(views), serving)
    try:
        manifest = config.load_manifest(Path(record.directory), check_main=False)
    except ConfigError as exc:
        return Details(record, (), None, manifest_problem=exc.message)
    bindings = tuple(BindingView(a.binding, a.type, "not shipped") for a in manifest.actors)
    return Details(record, bindings, None)


@dataclass(frozen=True)
class Orphan:
    """An actor type that deleting its owner leaves without one, and who still binds it."""

    type: str
    referrers: tuple[tuple[FunctionRecord, str], ...]  # (function, its binding name)


def orphaned_by_delete(account: AccountBackend, record: FunctionRecord) -> list[Orphan]:
    """The types `record` owns that other functions' serving revisions reference: deleting it
    makes their calls fail with ActorTypeNotFoundError until another function ships the class."""
    orphans = []
    for type_, owner in sorted(account.owners().items()):
        if owner.id != record.id:
            continue
        referrers = []
        for other in account.referrers(type_):
            if other.id == record.id or not other.serving_revision:
                continue
            manifest = account.revision(other.id, other.serving_revision).manifest
            referrers += [
                (other, str(a.get("binding"))) for a in manifest.get("actors", [])
                if a.get("type") == type_ and a.get("role") != OWNER
            ]
        if referrers:
            orphans.append(Orphan(type_, tuple(referrers)))
    return orphans


def delete_function(account: AccountBackend, ref: str) -> FunctionRecord:
    record = account.resolve(ref)
    account.delete(record.id)
    return record
