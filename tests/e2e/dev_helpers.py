"""Shared pieces of the `telnyx-edge dev` end-to-end tests."""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx

from tests.harness import ROOT, ServerProcess, link_node_modules, start_server

PROJECTS = ROOT / "tests" / "fixtures" / "projects"
T = TypeVar("T")


def copy_project(name: str, dest: Path) -> Path:
    target = dest / name
    shutil.copytree(PROJECTS / name, target)
    link_node_modules(target)
    return target


def start_dev(project: Path, *extra: str, env: dict[str, str] | None = None) -> ServerProcess:
    return start_server(["dev", "--port", "0", *extra], cwd=project, env=env)


def close(server: ServerProcess, *, kill: bool = False) -> int:
    """Stop (SIGINT) or kill (SIGKILL) a server; the harness closes its output pipe."""
    if kill:
        server.kill()
        return server.proc.returncode
    return server.stop()


def rpc(client: httpx.Client, name: str, method: str, *args: Any) -> dict[str, Any]:
    response = client.post(f"/rpc/{name}/{method}", json={"args": list(args)})
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def value(client: httpx.Client, name: str, method: str, *args: Any) -> Any:
    result = rpc(client, name, method, *args)
    assert result["ok"], result
    return result["value"]


def eventually(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 10) -> T:
    """Re-check a condition that no output line announces (e.g. an alarm's effect)."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if done(result):
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s; last value: {result!r}")
        time.sleep(0.05)


def client_for(server: ServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


def hosts_of(server: ServerProcess) -> dict[str, str]:
    """Function name -> Host header, from the readiness output of a runtime serving several."""
    found = {}
    for line in server.lines:
        match = re.match(r"^\s+(\S+)\s+http://([^/:\s]+\.localhost):\d+$", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


def register(project: Path, name: str) -> str:
    """Mint a function on the current account for `project` and write its id into telnyx.toml."""
    from telnyx_edge.account import open_account
    from telnyx_edge.config import write_edge_compute

    account = open_account()
    try:
        record = account.register(name, project, "umbrella")
    finally:
        account.close()
    write_edge_compute(project / "telnyx.toml", record.id, name)
    return record.id


def ship(project: Path, name: str) -> str:
    """Register `project` as function `name` on the current account and ship it; returns its id."""
    from tests.harness import run_cli

    func_id = register(project, name)
    shipped = run_cli("ship", "-f", str(project))
    assert shipped.returncode == 0, shipped.stdout + shipped.stderr
    return func_id


def serve_function(name: str, env: dict[str, str] | None = None) -> tuple[ServerProcess, httpx.Client]:
    """Start `serve` and a client that reaches function `name` by its host name."""
    server = start_server(["serve", "--port", "0"], env=env)
    return server, httpx.Client(base_url=server.url, headers={"Host": hosts_of(server)[name]}, timeout=30)


def serving_bundle(name: str) -> tuple[str, Path]:
    """(serving revision id, its bundle file) of function `name` on the current account."""
    from telnyx_edge.account import open_account

    account = open_account()
    try:
        record = account.resolve(name)
        assert record.serving_revision is not None
        revision = account.revision(record.id, record.serving_revision)
    finally:
        account.close()
    return revision.id, Path(revision.path) / str(revision.manifest["bundle"])


def rewrite(path: Path, content: bytes) -> None:
    """Change a file `ship` stored read-only, as a hand edit or a bad copy would."""
    path.chmod(0o644)
    path.write_bytes(content)


def record_sha256(name: str, digest: str | None) -> None:
    """Make the account record `digest` as the sha256 of `name`'s serving bundle (None: record
    none, as a revision written without one): what `serve` checks the file against."""
    import json
    import sqlite3

    from telnyx_edge.account import open_account
    from telnyx_edge.account.local import DB_NAME

    account = open_account()
    try:
        record = account.resolve(name)
        manifest = dict(account.revision(record.id, record.serving_revision or "").manifest)
        home = account.home
    finally:
        account.close()
    if digest is None:
        manifest.pop("sha256", None)
    else:
        manifest["sha256"] = digest
    with sqlite3.connect(home / DB_NAME) as db:
        db.execute(
            "UPDATE revisions SET manifest = ? WHERE func_id = ? AND id = ?",
            (json.dumps(manifest, sort_keys=True), record.id, record.serving_revision),
        )
    db.close()
