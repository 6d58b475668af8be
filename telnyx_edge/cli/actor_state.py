"""`telnyx-edge actors storage get|put|delete|list` and `actors alarm get|set|delete|fire`: one
actor's KV pairs and alarm, for scripts. Changes go through the running runtime's explorer (each
one a turn of the actor); with no runtime running, reads come from the state files."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional

import typer

from telnyx_edge import console
from telnyx_edge.cli.params import path_value

_TYPE = typer.Argument(..., metavar="TYPE", help="Actor type (class name).")
_NAME = typer.Argument(..., metavar="NAME", help="Actor name (as given to idFromName).")
_KEY = typer.Argument(..., metavar="KEY", help="Storage key.")
_STATE = typer.Option(None, "--state", parser=path_value, help="The runtime's state directory (default: the account's, used by serve).")
_PROJECT = typer.Option(None, "-f", "--from-dir", parser=path_value, help="The dev state of this project (.telnyx/dev/state).")
_JSON = typer.Option(False, "--json", help="Print JSON: typed values as in docs/explorer.md.")
_EXPECT = typer.Option(None, "--expect", metavar="JSON", help="Only if the key now holds this value (compare-and-set), else exit 2 and change nothing.")


def register(actors: typer.Typer) -> None:
    from telnyx_edge.cli.group import new_group

    storage = new_group("One actor's key-value storage (changes run as turns of the actor in the running runtime).")
    storage.command("list", help="The actor's keys with their types and values.")(storage_list)
    storage.command("get", help="One key's value and type.")(storage_get)
    storage.command("put", help="Write a key (VALUE as JSON; Date, Map, Set, BigInt, bytes in typed form).")(storage_put)
    storage.command("delete", help="Delete a key.")(storage_delete)
    actors.add_typer(storage, name="storage")
    alarm = new_group("One actor's alarm (changes run as turns of the actor in the running runtime).")
    alarm.command("get", help="When the alarm fires next, and its retry count.")(alarm_get)
    alarm.command("set", help="Set the alarm (TIME: ISO 8601 or ms since the epoch).")(alarm_set)
    alarm.command("delete", help="Delete the alarm.")(alarm_delete)
    alarm.command("fire", help="Fire the alarm now: runs alarm() and waits for it.")(alarm_fire)
    actors.add_typer(alarm, name="alarm")


def _target(state: Optional[Path], project: Optional[Path]) -> Any:
    from telnyx_edge import settings
    from telnyx_edge.cli.actors import _state_dir
    from telnyx_edge.explorer.client import locate

    return locate(settings.get().home, _state_dir(state, project))


def _packages(target: Any) -> Optional[Path]:
    """The runtime's Node packages, to read the state files when no runtime runs."""
    if target.url is not None:
        return None
    from telnyx_edge.cli.runtime_cmd import ensure_with_spinner

    return ensure_with_spinner()


def _read(type_: str, name: str, state: Optional[Path], project: Optional[Path], whole: Optional[set[str]] = None) -> dict[str, Any]:
    """The instance view; the values of the keys in `whole` (all: `None`) that it left out for
    their size are read one at a time."""
    from telnyx_edge.explorer.client import check_type, read_actor, read_value

    check_type(type_)
    target = _target(state, project)
    packages = _packages(target)
    view = read_actor(target, type_, name, packages)
    view["kv"] = [
        read_value(target, type_, name, p["key"], packages) if p.get("omitted") and (whole is None or p["key"] in whole) else p
        for p in view["kv"]
    ]
    return view


def show(v: Any) -> str:
    """A typed JSON value as one readable line (the page shows the same)."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, list):
        return "[" + ", ".join(show(x) for x in v) + "]"
    if isinstance(v, str):
        import json

        return json.dumps(v, ensure_ascii=False)
    if not isinstance(v, dict):
        return str(v)
    kind = v.get("type")
    if kind == "Date" or kind == "number":
        return str(v.get("value"))
    if kind == "BigInt":
        return f"{v.get('value')}n"
    if kind == "Map":
        return f"Map({len(v['entries'])}) {{" + ", ".join(f"{show(k)} => {show(x)}" for k, x in v["entries"]) + "}"
    if kind == "Set":
        return f"Set({len(v['values'])}) {{" + ", ".join(show(x) for x in v["values"]) + "}"
    if kind == "bytes":
        return f"{v.get('view', 'bytes')} base64:{v.get('base64', '')}"
    if kind == "undefined":
        return "undefined"
    if kind == "RegExp":
        return f"/{v.get('source')}/{v.get('flags')}"
    if kind == "Object":
        return show(v.get("value"))
    return "{" + ", ".join(f"{show(k)}: {show(x)}" for k, x in v.items()) + "}"


def storage_list(type_: str = _TYPE, name: str = _NAME, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT, as_json: bool = _JSON) -> None:
    view = _read(type_, name, state, project, whole=None if as_json else set())
    pairs = [{"key": p["key"], "type": p["type"], "value": p["value"]} for p in view["kv"]]
    if view.get("kv_truncated"):
        console.warning("only the first 1,000 keys are listed (in key order); 'actors storage get TYPE NAME KEY' reads any key")
    if as_json:
        console.json_out(pairs)
        return
    if not pairs:
        console.info(f"{console.one_line(type_)} {console.one_line(repr(name))} has no keys.")
        return
    console.table(["KEY", "TYPE", "VALUE"], [[_cut(p["key"]), p["type"], _shown(p)] for p in view["kv"]])


LIST_WIDTH = 120


def _shown(pair: dict[str, Any]) -> str:
    if not pair.get("omitted"):
        return _cut(show(pair["value"]))
    preview = show(pair["preview"]) if isinstance(pair.get("preview"), str) else ""
    return f"{preview[:LIST_WIDTH]}… ({pair['bytes']:,} bytes; actors storage get shows it whole)"


def _cut(text: str) -> str:
    """One cell of `storage list`: a long value would widen every row of the table to its length."""
    if len(text) <= LIST_WIDTH:
        return text
    return f"{text[:LIST_WIDTH]}… ({len(text):,} characters; actors storage get shows it whole)"


def storage_get(type_: str = _TYPE, name: str = _NAME, key: str = _KEY, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT, as_json: bool = _JSON) -> None:
    from telnyx_edge.explorer.client import check_type, read_value

    check_type(type_)
    target = _target(state, project)
    pair = read_value(target, type_, name, key, _packages(target))
    if as_json:
        console.json_out({"key": key, "type": pair["type"], "value": pair["value"]})
        return
    console.info(f"{console.one_line(show(pair['value']))}  ({pair['type']})")


def _act(type_: str, name: str, state: Optional[Path], project: Optional[Path], body: dict[str, Any]) -> dict[str, Any]:
    from telnyx_edge.explorer.client import action, check_type

    check_type(type_)
    return action(_target(state, project), type_, name, body)


def storage_put(
    type_: str = _TYPE, name: str = _NAME, key: str = _KEY,
    value: str = typer.Argument(..., metavar="VALUE", help='JSON: 42, "text", {"a": 1}, {"type": "Date", "value": "2026-01-01T00:00:00Z"}.'),
    expect: Optional[str] = _EXPECT, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT,
) -> None:
    from telnyx_edge.explorer.client import parse_value

    body: dict[str, Any] = {"action": "put", "key": key, "value": parse_value(value, "VALUE")}
    if expect is not None:
        body["expect"] = parse_value(expect, "--expect")
    _act(type_, name, state, project, body)
    console.success(f"Stored {console.one_line(repr(key))} in {console.one_line(type_)} {console.one_line(repr(name))}")


def storage_delete(type_: str = _TYPE, name: str = _NAME, key: str = _KEY, expect: Optional[str] = _EXPECT, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT) -> None:
    from telnyx_edge.explorer.client import parse_value

    body: dict[str, Any] = {"action": "delete", "key": key}
    if expect is not None:
        body["expect"] = parse_value(expect, "--expect")
    out = _act(type_, name, state, project, body)
    verb = "Deleted" if out.get("existed") else "No such key (nothing to delete):"
    console.success(f"{verb} {console.one_line(repr(key))} in {console.one_line(type_)} {console.one_line(repr(name))}")


def alarm_get(type_: str = _TYPE, name: str = _NAME, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT, as_json: bool = _JSON) -> None:
    alarm = _read(type_, name, state, project)["alarm"]
    if as_json:
        console.json_out(alarm)
        return
    if alarm is None:
        console.info("No alarm set.")
        return
    console.info(f"Next fire:  {console.timestamp(alarm['fire_ms'])}  ({alarm['fire_ms']} ms)")
    console.info(f"Set for:    {console.timestamp(alarm['alarm_ms'])}")
    console.info(f"Retries:    {alarm['retries']}")


def alarm_set(
    type_: str = _TYPE, name: str = _NAME,
    time: str = typer.Argument(..., metavar="TIME", help="ISO 8601 (2026-01-01T00:00:00Z) or milliseconds since the epoch."),
    state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT,
) -> None:
    when: Any = int(time) if time.strip().isdigit() else time
    out = _act(type_, name, state, project, {"action": "alarm_set", "time": when})
    console.success(f"Alarm set for {console.timestamp(int(out['alarm_ms']))}")


def alarm_delete(type_: str = _TYPE, name: str = _NAME, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT) -> None:
    _act(type_, name, state, project, {"action": "alarm_delete"})
    console.success("Alarm deleted")


def alarm_fire(type_: str = _TYPE, name: str = _NAME, state: Optional[Path] = _STATE, project: Optional[Path] = _PROJECT) -> None:
    out = _act(type_, name, state, project, {"action": "alarm_fire"})
    nxt = out.get("next_fire_ms")
    console.success("alarm() ran" + (f"; next fire {console.timestamp(int(nxt))}" if nxt is not None else ""))
