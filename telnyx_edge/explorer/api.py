"""The explorer's JSON API (docs/explorer.md, "API"), answered from the runtime's own parts.

Reads: functions and actor types from the registry (and, on `serve`, each function's serving
revision from the account); instances from the instance index; one instance from its database
file (decoded by the data plane: values are V8-serialized, only Node reads them); recent calls
from the log store. Actions go to the data plane as `explore` messages and run as turns of
the actor. Errors are `ExplorerError`s with an HTTP status; the server turns them into a
one-line JSON error.
"""

from __future__ import annotations

import time
from pathlib import Path
from collections import deque
from typing import TYPE_CHECKING, Any, TypeGuard

from telnyx_edge.config import IDENTIFIER_RE
from telnyx_edge.errors import CallError, ExplorerError
from telnyx_edge.runtime.logstore import Source, safe_name

if TYPE_CHECKING:
    from telnyx_edge.runtime.core import RuntimeCore

MAX_TYPE = 128


def is_class_name(type_: object) -> TypeGuard[str]:
    """An actor type as the manifest names it (config.IDENTIFIER_RE, ASCII as in actordb.mjs), at most 128 characters."""
    return isinstance(type_, str) and len(type_) <= MAX_TYPE and IDENTIFIER_RE.match(type_) is not None
MAX_NAME = 2048
RECENT_CALLS = 25
QUERY_BUDGET_S = 10.0  # the query box's time budget: past it, its process is killed
TAIL_BYTES = 256 * 1024
ACTIONS = frozenset({"put", "delete", "sql", "alarm_set", "alarm_delete", "alarm_fire", "evict"})

# CallError names from the data plane -> HTTP status.
_STATUS = {
    "NotFound": 404, "ActorTypeNotFoundError": 404, "FunctionNotFound": 404,
    "BadRequest": 400, "CodecError": 400, "ReadOnly": 400, "SqlError": 400, "TypeError": 400, "RangeError": 400,
    "ActorMethodTimeoutError": 504, "ActorIsolateCrashedError": 503, "QueryTimeout": 504,
}


def check_type(type_: Any) -> str:
    if not is_class_name(type_):
        raise ExplorerError(400, "BadRequest", f"actor type {type_!r} is not a class name (letters, digits, _ and $)")
    return type_


def check_name(name: Any) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise ExplorerError(400, "BadRequest", f"actor name must be a non-empty string of at most {MAX_NAME} characters")
    return name


def from_call_error(exc: CallError) -> ExplorerError:
    return ExplorerError(_STATUS.get(exc.name, 500), exc.name, exc.message)


class ExplorerApi:
    def __init__(self, core: RuntimeCore, account_home: Path | None = None) -> None:
        self._core = core
        self._account_home = account_home  # serve: functions' revisions come from this account

    # -- overview ------------------------------------------------------------------------------

    def overview(self) -> dict[str, Any]:
        registry = self._core.registry
        specs = sorted(registry.specs(), key=lambda s: s.name)
        revisions = self._revisions([s.name for s in specs])
        functions = [
            {
                "name": s.name, "hosts": list(s.hosts), "owned_types": list(s.owned_types),
                "bindings": dict(s.bindings), "revision": revisions.get(s.name),
            }
            for s in specs
        ]
        types: dict[str, dict[str, Any]] = {}
        for s in specs:
            for binding, type_ in sorted(s.bindings.items()):
                entry = types.setdefault(type_, {"type": type_, "owner": registry.owner_of(type_), "references": []})
                if type_ not in s.owned_types:
                    entry["references"].append({"function": s.name, "binding": binding})
            for type_ in s.owned_types:
                types.setdefault(type_, {"type": type_, "owner": s.name, "references": []})
        return {
            "state_dir": str(self._core.state_dir), "mode": "serve" if self._account_home else "dev",
            "functions": functions, "types": [types[t] for t in sorted(types)],
        }

    def _revisions(self, names: list[str]) -> dict[str, str]:
        if self._account_home is None:
            return {}
        from telnyx_edge.account import open_account

        account = open_account()
        try:
            found = {n: account.find(n) for n in names}
            return {n: r.serving_revision for n, r in found.items() if r is not None and r.serving_revision}
        finally:
            account.close()

    # -- instances -----------------------------------------------------------------------------

    def instances(self, type_: str, query: str, limit: int) -> dict[str, Any]:
        from telnyx_edge.runtime.actor_index import list_instances

        check_type(type_)
        rows = list_instances(self._core.state_dir, type_)
        needle = query.casefold()
        matched = [r for r in rows if needle in r.name.casefold()] if needle else rows
        return {
            "type": type_, "total": len(rows), "matched": len(matched),
            "instances": [
                {
                    "name": r.name, "keys": r.keys, "value_bytes": r.value_bytes, "sql_tables": r.sql_tables,
                    "db_bytes": r.db_bytes, "last_activity_ms": r.last_activity_ms,
                    "alarm_ms": self._core.scheduler.fire_time((type_, r.name)) or r.alarm_fire_ms,
                }
                for r in matched[:limit]
            ],
        }

    # -- one instance --------------------------------------------------------------------------

    async def read(self, type_: str, name: str, what: str, args: dict[str, Any]) -> Any:
        try:
            return await self._core.registry.plane.explore(
                check_type(type_), check_name(name), f"read_{what}", {**args, "state_dir": str(self._core.state_dir)},
            )
        except CallError as exc:
            raise from_call_error(exc) from None

    async def query(self, type_: str, name: str, args: dict[str, Any]) -> Any:
        """The query box, in a Node process of its own (explorer-cli.mjs), not in the data plane
        that serves every call: a query past its budget (a cross join, an endless recursive
        CTE) is killed with its process, and nothing else waits for it."""
        import asyncio
        import json

        from telnyx_edge.runtime.dataplane import node_binary
        from telnyx_edge.runtime.jsmodule import JS_DIR

        proc = await asyncio.create_subprocess_exec(
            node_binary(), str(JS_DIR / "explorer-cli.mjs"), str(self._core.state_dir), check_type(type_),
            check_name(name), str(self._core.packages_dir), "query",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(json.dumps(args).encode()), QUERY_BUDGET_S)
        except asyncio.TimeoutError:
            raise ExplorerError(
                504, "QueryTimeout",
                f"the query ran past its {QUERY_BUDGET_S:g} s budget and was stopped; narrow it (a WHERE, a LIMIT)",
            ) from None
        finally:
            if proc.returncode is None:
                proc.kill()  # past its budget, or the explorer is stopping
        try:
            data = json.loads(out)
        except ValueError:
            raise ExplorerError(500, "QueryFailed", err.decode(errors="replace").strip()[:500] or "the query's process failed") from None
        if proc.returncode != 0:
            raise ExplorerError(_STATUS.get(data.get("error"), 500), str(data.get("error")), str(data.get("message")))
        return data

    async def actor(self, type_: str, name: str) -> dict[str, Any]:
        try:
            view: dict[str, Any] = await self.read(type_, name, "instance", {})
        except ExplorerError as exc:
            if exc.status != 404:
                raise
            view = {"kv": [], "kv_truncated": False, "tables": [], "alarm": None, "missing": True}
        view.update(type=type_, name=name, calls=self.recent_calls(type_, name))
        return view

    def recent_calls(self, type_: str, name: str) -> list[dict[str, Any]]:
        """The last invocations of the actor (newest first) from the log store: only the end of
        the type's file is read (the page asks every second; the event loop must not stall)."""
        if not safe_name(type_):
            return []
        last: deque[list[Any]] = deque(maxlen=RECENT_CALLS)
        for record in _tail_records(self._core.logs.path(Source("actors", type_)), TAIL_BYTES):
            if record[0] == "call" and record[4] == name:
                last.append(record)
        return [
            {"ts_ms": r[1], "function": r[2], "method": r[5], "outcome": r[6], "duration_ms": r[7]}
            for r in reversed(last)
        ]

    # -- actions -------------------------------------------------------------------------------

    async def action(self, type_: str, name: str, body: dict[str, Any]) -> Any:
        check_type(type_)
        check_name(name)
        action = body.get("action")
        if action not in ACTIONS:
            raise ExplorerError(400, "BadRequest", f"unknown action {action!r}; one of {', '.join(sorted(ACTIONS))}")
        args = {k: v for k, v in body.items() if k not in ("action", "type", "name")}
        plane = self._core.registry.plane
        try:
            if action == "alarm_fire":
                return await self._fire(type_, name)
            return await plane.explore(type_, name, str(action), args)
        except CallError as exc:
            raise from_call_error(exc) from None

    async def _fire(self, type_: str, name: str) -> dict[str, Any]:
        """Fire now: arm the alarm for now (a turn), then deliver it as the scheduler would."""
        plane = self._core.registry.plane
        await plane.explore(type_, name, "alarm_set", {"time": int(time.time() * 1000), "must_exist": True})
        fire = await self._core.registry.deliver_alarm((type_, name), 0)
        self._core.scheduler.set((type_, name), fire)
        return {"ok": True, "next_fire_ms": fire}


def _tail_records(path: Path, size: int) -> list[list[Any]]:
    """The whole records in the last `size` bytes of a log file, oldest first."""
    import json

    from telnyx_edge.runtime.logstore import valid

    try:
        with open(path, "rb") as f:
            end = f.seek(0, 2)
            f.seek(max(0, end - size))
            data = f.read()
    except OSError:
        return []
    if end > size:
        data = data[data.find(b"\n") + 1:]  # the first line may be cut
    out = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if valid(record):
            out.append(record)
    return out
