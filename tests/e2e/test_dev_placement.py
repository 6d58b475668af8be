"""Placement: one owner function per actor type, so one activation per (type, name).

Promise 1 of the design ("one activation per (type, name) across the whole runtime") rests on
the registry refusing a second owner of a type. Under `dev --with` two local projects can both
export the class; these tests fail if that refusal goes, at start and on a hot reload.

Under `serve` two shipped functions cannot both own a type: `ship` and `rollback` refuse it in
the account's write transaction (tests/e2e/test_ship.py::test_second_owner_is_refused,
tests/unit/test_bundle_ship.py::test_rollback_may_not_take_a_type_another_function_owns).
"""

from __future__ import annotations

import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import close, copy_project, start_dev, value
from tests.harness import READY_RE, ServerProcess, child_env

pytestmark = pytest.mark.e2e


def _twin(tmp_path: Path) -> tuple[Path, Path]:
    """The lab project and a copy named `twin`: both main modules export class Lab."""
    lab = copy_project("lab", tmp_path / "a")
    twin = copy_project("lab", tmp_path / "b")
    manifest = twin / "telnyx.toml"
    text = manifest.read_text()
    manifest.write_text(
        text.replace('name = "lab"', 'name = "twin"')
        .replace('func_name = "lab"', 'func_name = "twin"')
        .replace("0c9a7b3e-1f2d-4e5a-8b6c-abcdefabcdef", "1c9a7b3e-1f2d-4e5a-8b6c-abcdefabcdef")
    )
    return lab, twin


def _start_or_exit(args: list[str]) -> tuple[int | None, str]:
    """Start `telnyx-edge ARGS`: (exit code, output) if it exits, (None, output) if it got ready."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "telnyx_edge", *args], env=child_env(), stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, start_new_session=True,
    )
    server = ServerProcess(proc)
    server._reader = threading.Thread(target=server._read, daemon=True)
    server._reader.start()
    try:
        server.wait_for(READY_RE, timeout=60)
    except RuntimeError:  # exited before it was ready
        server.stop()
        return proc.returncode, server.output
    server.stop()
    return None, server.output


def test_dev_with_two_owners_of_one_type_is_refused(tmp_path: Path, edge_home: Path) -> None:
    lab, twin = _twin(tmp_path)
    code, output = _start_or_exit(["dev", "-f", str(lab), "--with", str(twin), "--port", "0", "--no-watch"])
    assert "Ready on" not in output, output
    assert code == 10, output
    assert output.splitlines()[-2:] == [
        "❌ actor type 'Lab' is owned by 'lab'; 'twin' cannot own it too",
        "💡 Only one function may export the class; bind to it from the others.",
    ]


def test_reload_that_makes_a_second_owner_is_refused(tmp_path: Path, edge_home: Path) -> None:
    lab = copy_project("lab", tmp_path)
    peer = copy_project("peer", tmp_path)  # binds Lab as a reference: lab owns it
    server = start_dev(lab, "--with", str(peer))
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert value(client, "owner", "version") == "v1"
            # The peer's main starts exporting a class named Lab: it would own the type too.
            index = peer / "src" / "index.ts"
            index.write_text(
                index.read_text()
                + '\nexport class Lab extends StatefulActor<Env> { async version(): Promise<string> { return "impostor"; } }\n'
            )
            outcome = server.wait_for(r"^(❌ Reload failed: .*|Reloaded peer in \d+ ms)$").group(0)
            assert outcome == (
                "❌ Reload failed: actor type 'Lab' is owned by 'lab'; 'peer' cannot own it too; "
                "the previous code keeps serving"
            )
            assert value(client, "owner", "version") == "v1"  # still the one owner's activation
            assert "Reloaded peer" not in server.output
            # The owner itself still reloads.
            source = lab / "src" / "lab.ts"
            source.write_text(source.read_text().replace('VERSION = "v1"', 'VERSION = "v2"'))
            server.wait_for(r"^Reloaded in \d+ ms$")
            assert value(client, "owner", "version") == "v2"
    finally:
        assert close(server) == 0
