"""`actors list|inspect|instances` over a real account and a real state file."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest

from telnyx_edge.account import open_account
from telnyx_edge.actors import STATE_FILE, account_state_dir
from telnyx_edge.config import write_edge_compute
from telnyx_edge.runtime.storage import Put, SetAlarm, StorageEngine
from tests.harness import run_cli

pytestmark = pytest.mark.e2e


def ship(project: Path, name: str) -> None:
    account = open_account()
    record = account.register(name, project, "umbrella")
    account.close()
    write_edge_compute(project / "telnyx.toml", record.id, name)
    result = run_cli("ship", "-f", str(project))
    assert result.returncode == 0, result.stdout + result.stderr


def write_state(state_dir: Path) -> None:
    async def go() -> None:
        engine = StorageEngine(state_dir / STATE_FILE)
        await engine.start()
        await engine.commit(("Account", "carol"), [Put("balance", b"x" * 10), Put("owner", b"yy")])
        await engine.commit(("Account", "dave"), [Put("balance", b"z"), SetAlarm(4_102_444_800_000)])
        await engine.commit(("Other", "x"), [Put("k", b"v")])
        await engine.stop()

    asyncio.run(go())


def rows(stdout: str) -> list[list[str]]:
    return [re.split(r"\s{2,}", line.strip()) for line in stdout.splitlines()[2:] if line.strip()]


def test_types_owner_referrers_and_instances(copy_fixture, edge_home: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("actors", "list").stdout == "No actor types on this account yet. Ship a function with an [[actors]] binding.\n"
    ship(copy_fixture("ship-owner", "account"), "account")
    ship(copy_fixture("ship-readonly", "account-readonly"), "account-readonly")

    listing = run_cli("actors", "list")
    assert listing.returncode == 0
    assert rows(listing.stdout) == [["Account", "account", "account-readonly (READONLY)"]]

    assert run_cli("actors", "instances", "Account").stdout == "No persisted instances of Account.\n"
    write_state(account_state_dir(edge_home))
    instances = run_cli("actors", "instances", "Account")
    found = rows(instances.stdout)
    assert sorted(r[:3] for r in found) == [["carol", "2", "12"], ["dave", "1", "1"]]
    assert [r[4] for r in found if r[0] == "dave"] == ["2100-01-01 00:00:00"]
    assert "yy" not in instances.stdout  # never values

    inspect = run_cli("actors", "inspect", "Account")
    lines = inspect.stdout.splitlines()
    assert lines[0] == "Type:       Account"
    assert lines[1].startswith("Owner:      account (")
    assert lines[2] == "Instances:  2"
    assert rows("\n".join(lines[4:])) == [["account", "owner", "-"], ["account-readonly", "reference", "READONLY"]]

    missing = run_cli("actors", "inspect", "Nope")
    assert missing.returncode == 7
    assert missing.stderr.startswith("❌ No actor type 'Nope' on this account")


def test_instances_of_a_dev_project_and_bad_flags(tmp_path: Path, edge_home: Path) -> None:
    project = tmp_path / "proj"
    write_state(project / ".telnyx" / "dev" / "state")
    result = run_cli("actors", "instances", "Other", "-f", str(project))
    assert rows(result.stdout)[0][:3] == ["x", "1", "1"]
    both = run_cli("actors", "instances", "Other", "-f", str(project), "--state", str(tmp_path))
    assert both.returncode == 2 and "--state and -f/--from-dir cannot be used together" in both.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / STATE_FILE).write_text("not a database")
    corrupt = run_cli("actors", "instances", "Other", "--state", str(tmp_path / "bad"))
    assert corrupt.returncode != 0 and "Traceback" not in corrupt.stderr
    assert corrupt.stderr.startswith("❌ ")
