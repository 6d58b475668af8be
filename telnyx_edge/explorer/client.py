"""The core of `telnyx-edge actors storage ...` and `actors alarm ...`: one actor's KV pairs and
alarm, through the explorer of the runtime running on that state directory (so every write is
a turn of the actor, as on the page), or, when none runs, read from the state files (reads only).

A runtime is found through its runtime file (runtime_file.py) and trusted only once its explorer
answers `/api/health` for the same state directory, so a file left by a killed runtime never
misleads.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from telnyx_edge.errors import AccountError, EdgeError, RuntimeStartError, UsageError
from telnyx_edge.explorer import runtime_file
from telnyx_edge.explorer.api import is_class_name


@dataclass(frozen=True)
class Target:
    state_dir: Path
    url: str | None  # the running explorer, or None: read the files


def check_type(type_: str) -> str:
    if not is_class_name(type_):
        raise UsageError(f"actor type {type_!r} is not a class name", hint="Pass the class name, e.g. Counter (letters, digits, _ and $).")
    return type_


def locate(home: Path, state_dir: Path) -> Target:
    import httpx

    found = runtime_file.find(home, state_dir)
    if found is not None:
        try:
            health = httpx.get(f"{found.url}/api/health", timeout=5).json()
            if health.get("state_dir") == str(state_dir.resolve()):
                return Target(state_dir, found.url)
        except (httpx.HTTPError, ValueError):
            pass
    return Target(state_dir, None)


def _no_runtime(target: Target) -> EdgeError:
    return RuntimeStartError(
        f"no runtime is running on {target.state_dir}: changes go through a running runtime (each one is a turn of the actor)",
        hint="Start `telnyx-edge dev` in the project (or `telnyx-edge serve` for the account's state), then run this again.",
    )


def _raise_for(status: int, data: Any) -> None:
    message = f"{data.get('error')}: {data.get('message')}" if isinstance(data, dict) else str(data)
    if status == 404:
        raise AccountError(message, hint="Check the type and name: 'telnyx-edge actors instances TYPE' lists them.")
    if status < 500:
        codec = isinstance(data, dict) and data.get("error") == "CodecError"
        hint = "See docs/explorer.md for the value forms (typed JSON)." if codec else "See docs/explorer.md (From the command line)."
        raise UsageError(message, hint=hint)
    raise RuntimeStartError(f"the runtime could not do it: {message}")


def _post(target: Target, path: str, body: dict[str, Any]) -> Any:
    import httpx

    if target.url is None:
        raise _no_runtime(target)
    try:
        response = httpx.post(f"{target.url}{path}", json=body, timeout=120)
    except httpx.HTTPError as exc:
        raise RuntimeStartError(f"the runtime's explorer at {target.url} did not answer: {exc}") from exc
    try:
        data = response.json()
    except ValueError:
        raise RuntimeStartError(
            f"the runtime's explorer answered {response.status_code} without JSON: {response.text.strip()[:200]}"
        ) from None
    if response.status_code >= 400:
        _raise_for(response.status_code, data)
    return data


def read_actor(target: Target, type_: str, name: str, packages_dir: Path | None) -> dict[str, Any]:
    """The actor's KV pairs (typed JSON), tables and alarm; from the runtime or the files."""
    import httpx

    check_type(type_)
    if target.url is not None:
        response = httpx.get(f"{target.url}/api/actor", params={"type": type_, "name": name}, timeout=30)
        data = response.json()
        if response.status_code >= 400:
            _raise_for(response.status_code, data)
        if data.get("missing"):
            raise AccountError(f"{type_} {name!r} has no stored state", hint="Check the name: 'telnyx-edge actors instances TYPE' lists them.")
        return dict(data)
    return _read_files(target.state_dir, type_, name, packages_dir)


def read_value(target: Target, type_: str, name: str, key: str, packages_dir: Path | None) -> dict[str, Any]:
    """One KV pair whole ({"key", "type", "value", "bytes"}): a large value the instance view left out."""
    import httpx

    if target.url is not None:
        response = httpx.get(f"{target.url}/api/actor/value", params={"type": type_, "name": name, "key": key}, timeout=30)
        data = response.json()
        if response.status_code == 404 and str(data.get("message", "")).startswith("no key"):
            raise AccountError(f"{type_} {name!r} has no key {key!r}", hint=f"'telnyx-edge actors storage list {type_} NAME' lists its keys.")
        if response.status_code >= 400:
            _raise_for(response.status_code, data)
        return dict(data)
    return _read_files(target.state_dir, type_, name, packages_dir, ("key", {"key": key}))


def _read_files(
    state_dir: Path, type_: str, name: str, packages_dir: Path | None, read: tuple[str, dict[str, Any]] | None = None,
) -> dict[str, Any]:
    from telnyx_edge.runtime.dataplane import node_binary
    from telnyx_edge.runtime.jsmodule import JS_DIR

    args = [node_binary(), str(JS_DIR / "explorer-cli.mjs"), str(state_dir), type_, name]
    args.append(str(packages_dir) if packages_dir is not None else "")
    if read is not None:
        args.append(read[0])
    stdin = json.dumps(read[1]) if read is not None else None
    done = subprocess.run(args, capture_output=True, text=True, timeout=60, input=stdin)
    try:
        data = json.loads(done.stdout)
    except ValueError:
        raise RuntimeStartError(f"reading {type_} {name!r} failed: {done.stderr.strip()[:500]}") from None
    if done.returncode != 0:
        if data.get("error") == "NotFound" and read is not None and read[0] == "key" and str(data.get("message", "")).startswith("no key"):
            raise AccountError(f"{type_} {name!r} has no key {read[1]['key']!r}", hint=f"'telnyx-edge actors storage list {type_} NAME' lists its keys.")
        if data.get("error") == "NotFound":
            raise AccountError(f"{type_} {name!r} has no stored state in {state_dir}", hint="Check the name: 'telnyx-edge actors instances TYPE' lists them.")
        raise RuntimeStartError(f"reading {type_} {name!r} failed: {data.get('message')}")
    return dict(data)


def action(target: Target, type_: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """Run an explorer action as a turn of the actor; refuses when no runtime runs."""
    check_type(type_)
    out = _post(target, "/api/actor/action", {"type": type_, "name": name, **body})
    if isinstance(out, dict) and out.get("conflict"):
        raise UsageError(
            f"not changed: the value of {body.get('key')!r} is not what --expect says (it changed meanwhile)",
            hint="Read it again (actors storage get) and retry with the current value.",
        )
    return dict(out)


def parse_value(raw: str, what: str) -> Any:
    """A value typed on the command line: JSON, in the explorer's typed form."""
    def not_json(text: str) -> Any:
        # Python reads NaN, Infinity and 1e999 (infinite): none is JSON, and none could be sent.
        constant = text if text in ("NaN", "Infinity", "-Infinity") else ("-Infinity" if text.startswith("-") else "Infinity")
        raise UsageError(
            f"{what} is not JSON ({text} is not a JSON number)",
            hint=f'Write it typed: {{"type": "number", "value": "{constant}"}} (docs/explorer.md).',
        )

    try:
        return json.loads(raw, parse_constant=not_json, parse_float=lambda text: _finite(text, not_json))
    except json.JSONDecodeError as exc:
        raise UsageError(
            f"{what} is not JSON ({exc.msg} at character {exc.pos})",
            hint='Quote strings as JSON (\'"text"\'); dates as {"type":"Date","value":"2026-01-01T00:00:00Z"} (docs/explorer.md).',
        ) from None



def _finite(text: str, refuse: Any) -> float:
    value = float(text)
    return refuse(text) if value in (float("inf"), float("-inf")) else value
