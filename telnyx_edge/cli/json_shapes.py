"""The `--json` shapes of the read commands: one builder per record, so every command that shows a
function (or revision, actor type, instance) shows it with the same keys. Documented in
docs/cli.md ("JSON output"); keys are only ever added, never renamed or removed.

Timestamps are the account's ISO 8601 UTC strings; instance times are milliseconds since the
epoch (as the runtime records them), `null` when there is none.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from telnyx_edge.account import FunctionRecord, RevisionRecord
    from telnyx_edge.actors import Instance, TypeView
    from telnyx_edge.functions import Details


def function(record: FunctionRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "name": record.name,
        "status": record.status,
        "kind": record.kind,
        "url": record.url(),
        "directory": record.directory,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "serving_revision": record.serving_revision,
    }


def function_ref(record: FunctionRecord | None) -> dict[str, str] | None:
    return None if record is None else {"id": record.id, "name": record.name}


def details(found: Details) -> dict[str, Any]:
    serving = found.serving
    return {
        **function(found.record),
        "serving": None if serving is None else {"id": serving.id, "created_at": serving.created_at},
        "bindings": [{"binding": b.binding, "type": b.type, "role": b.role, "status": b.status} for b in found.bindings],
        "manifest_problem": found.manifest_problem,
    }


def revision(rev: RevisionRecord, serving_id: str | None) -> dict[str, Any]:
    return {
        "id": rev.id,
        "created_at": rev.created_at,
        "status": rev.status,
        "size_bytes": int(rev.manifest.get("size", 0)),
        "actors": [
            {"binding": str(a.get("binding")), "type": str(a.get("type")), "role": str(a.get("role", "owner"))}
            for a in rev.manifest.get("actors", [])
        ],
        "serving": rev.id == serving_id,
    }


def actor_type(view: TypeView) -> dict[str, Any]:
    return {
        "type": view.type,
        "owner": function_ref(view.owner),
        "references": [{"function": function_ref(f), "binding": b} for f, b in view.referrers],
    }


def instance(found: Instance) -> dict[str, Any]:
    return {
        "name": found.name,
        "keys": found.keys,
        "bytes": found.bytes,
        "sql_tables": found.sql_tables,
        "db_bytes": found.db_bytes,
        "last_activity_ms": found.last_activity_ms,
        "next_alarm_ms": found.alarm_ms,
    }
