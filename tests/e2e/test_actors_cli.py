"""`actors list|inspect|instances` over a real account and a real state file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telnyx_edge.account import open_account
from telnyx_edge.actors import account_state_dir
from telnyx_edge.config import write_edge_compute
from telnyx_edge.runtime.actor_index import INDEX_FILE, ActorIndex
from telnyx_edge.runtime.migrate import write_actor
from tests.harness import run_cli

pytestmark = pytest.mark.e2e


def ship(project: Path, name: str) -> None:
    account = open_account()
    record = account.register(name, project, "umbrella")
    account.close()
    write_edge_compute(project / "telnyx.toml", record.id, name)
    result = run_cli("ship", "-f", str(project))
    assert result.returncode == 0, result.stdout + result.stderr


def write_state(state_dir: Path, *, indexed: bool = True) -> None:
    """Actor databases as a runtime leaves them; `indexed`: with the index a stopped runtime leaves."""
    write_actor(state_dir, "Account", "carol", [(b"balance", b"x" * 10), (b"owner", b"yy")])
    write_actor(state_dir, "Account", "dave", [(b"balance", b"z")], (4_102_444_800_000, 4_102_444_800_000, 0))
    write_actor(state_dir, "Other", "x", [(b"k", b"v")])
    if indexed:
        index = ActorIndex(state_dir)
        index.open()
        index.close()


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
    assert [r[6] for r in found if r[0] == "dave"] == ["2100-01-01 00:00:00"]
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
    write_state(project / ".telnyx" / "dev" / "state", indexed=False)
    result = run_cli("actors", "instances", "Other", "-f", str(project))
    assert rows(result.stdout)[0][:3] == ["x", "1", "1"]
    both = run_cli("actors", "instances", "Other", "-f", str(project), "--state", str(tmp_path))
    assert both.returncode == 2 and "--state and -f/--from-dir cannot be used together" in both.stderr
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / INDEX_FILE).write_text("not a database")
    corrupt = run_cli("actors", "instances", "Other", "--state", str(tmp_path / "bad"))
    assert corrupt.returncode != 0 and "Traceback" not in corrupt.stderr
    assert corrupt.stderr.startswith("❌ ")
