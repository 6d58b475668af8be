"""Output scripts can trust: `--json` on the read commands (shapes of docs/cli.md), complete tables
in a pipe, and the messages around shipping and ownership (`ship`, `rollback`, `delete-func`,
`dev -f REFERENCE`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from telnyx_edge.actors import account_state_dir
from tests.e2e.dev_helpers import close, start_dev
from tests.e2e.test_actors_cli import ship, write_state
from tests.harness import run_cli

pytestmark = pytest.mark.e2e

FUNCTION_KEYS = ["id", "name", "status", "kind", "url", "directory", "created_at", "updated_at", "serving_revision"]


def as_json(*args: str) -> Any:
    result = run_cli(*args, "--json")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    return json.loads(result.stdout)


@pytest.fixture
def shared(copy_fixture, edge_home: Path) -> dict[str, Path]:  # type: ignore[no-untyped-def]
    owner = copy_fixture("ship-owner", "account")
    reader = copy_fixture("ship-readonly", "account-readonly")
    ship(owner, "account")
    ship(reader, "account-readonly")
    return {"owner": owner, "reader": reader}


def test_json_shapes_of_the_read_commands(shared: dict[str, Path], edge_home: Path) -> None:
    listing = as_json("list")
    assert list(listing) == ["functions", "page", "page_size", "total"]
    assert (listing["page"], listing["page_size"], listing["total"]) == (1, 25, 2)
    account, readonly = listing["functions"]
    assert list(account) == FUNCTION_KEYS
    assert (account["name"], account["status"], account["kind"]) == ("account", "deploy_ok", "umbrella")
    assert account["url"] == f"http://account-{account['id'][:10]}.localhost:8788"
    assert as_json("list", "--page", "2", "--page-size", "1")["functions"] == [readonly]

    details = as_json("inspect", "account-readonly")
    assert list(details) == [*FUNCTION_KEYS, "serving", "bindings", "manifest_problem"]
    assert details["serving"]["id"] == readonly["serving_revision"]
    assert details["bindings"] == [
        {"binding": "READONLY", "type": "Account", "role": "reference", "status": "resolves to 'account'"}
    ]

    revisions = as_json("revisions", "list", "account")
    assert len(revisions) == 1
    assert list(revisions[0]) == ["id", "created_at", "status", "size_bytes", "actors", "serving"]
    assert revisions[0]["serving"] is True and revisions[0]["size_bytes"] > 0
    assert revisions[0]["actors"] == [{"binding": "ACCOUNT", "type": "Account", "role": "owner"}]

    assert as_json("ship", "status", "account") == account

    owner_ref = {"id": account["id"], "name": "account"}
    types = as_json("actors", "list")
    assert types == [{
        "type": "Account", "owner": owner_ref,
        "references": [{"function": {"id": readonly["id"], "name": "account-readonly"}, "binding": "READONLY"}],
    }]
    write_state(account_state_dir(edge_home))
    assert as_json("actors", "inspect", "Account") == {**types[0], "instances": 2}
    instances = sorted(as_json("actors", "instances", "Account"), key=lambda i: i["name"])
    assert [list(i) for i in instances] == [["name", "keys", "bytes", "sql_tables", "db_bytes", "last_activity_ms", "next_alarm_ms"]] * 2
    assert [(i["name"], i["keys"], i["bytes"], i["next_alarm_ms"]) for i in instances] == [
        ("carol", 2, 12, None), ("dave", 1, 1, 4_102_444_800_000),
    ]


def test_json_of_empty_account_and_user_data_stays_json(edge_home: Path) -> None:
    assert as_json("list") == {"functions": [], "page": 1, "page_size": 25, "total": 0}
    assert as_json("actors", "list") == []
    from telnyx_edge.runtime.migrate import write_actor

    state = edge_home / "state"
    write_actor(state, "Chat", "evil\x1b[31m\n:smile:", [(b"k", b"v")])
    found = run_cli("actors", "instances", "Chat", "--json")
    assert "\x1b" not in found.stdout and "😄" not in found.stdout
    assert json.loads(found.stdout)[0]["name"] == "evil\x1b[31m\n:smile:"
    table = run_cli("actors", "instances", "Chat")
    assert len(table.stdout.splitlines()) == 3 and "evil\\x1b[31m\\x0a:smile:" in table.stdout


def test_piped_list_is_complete(tmp_path: Path, edge_home: Path) -> None:
    name = "f" * 64
    made = run_cli("new-func", "-l", "js", f"--name={name}", "--no-install", cwd=tmp_path, env={"COLUMNS": "80"})
    assert made.returncode == 0, made.stderr
    listing = run_cli("list", env={"COLUMNS": "80"})
    assert "…" not in listing.stdout
    header, _dashes, row = listing.stdout.splitlines()
    assert re.split(r"\s{2,}", header.strip()) == ["ID", "NAME", "STATUS", "CREATED", "URL"]
    func_id, shown_name, status, _created, url = re.split(r"\s{2,}", row.strip())
    assert (len(func_id), shown_name, status) == (36, name, "created")
    assert url == f"http://{name}-{func_id[:10]}.localhost:8788"


def test_ship_says_how_to_serve_and_rollback_hint_names_the_function(shared: dict[str, Path]) -> None:
    again = run_cli("ship", "-f", str(shared["owner"]))
    assert again.returncode == 0, again.stderr
    assert "live at" not in again.stdout
    assert "💡 Serve every shipped function with 'telnyx-edge serve' (a running serve picks up this revision), then:" in again.stdout
    missing = run_cli("rollback", "account", "nope")
    assert missing.returncode == 7
    assert missing.stderr.splitlines()[-1] == "💡 Run 'telnyx-edge revisions list account' to see its revisions."
    assert "FUNCTION" not in missing.stderr


def test_delete_of_an_owner_names_its_references(shared: dict[str, Path]) -> None:
    warning = (
        "⚠️  'account' owns actor type Account, which 'account-readonly' (binding READONLY) references: after "
        "the delete their calls fail with ActorTypeNotFoundError until another function ships the class"
    )
    declined = run_cli("delete-func", "account", input="n\n")
    assert declined.returncode == 1 and declined.stderr.splitlines()[0] == warning
    assert "leaving 1 actor type without an owner?" in declined.stdout and "Nothing deleted." in declined.stdout
    assert run_cli("inspect", "account").returncode == 0
    reader = run_cli("delete-func", "account-readonly", "-y")  # a reference owns nothing: no warning
    assert (reader.returncode, reader.stderr) == (0, "")
    forced = run_cli("delete-func", "account", "-y")
    assert forced.returncode == 0 and forced.stderr == ""  # nobody references it any more


def test_dev_of_a_reference_says_it_runs_the_owners_shipped_revision(shared: dict[str, Path]) -> None:
    server = start_dev(shared["reader"], "--no-watch")
    try:
        revision = as_json("ship", "status", "account")["serving_revision"]
        notice = (
            f"ℹ️  actor type Account: served by 'account' as shipped on the account (revision {revision}), "
            "not from its source; to run its source (with reload), add --with DIR"
        )
        assert notice in server.lines
        assert server.lines.index(notice) < next(i for i, line in enumerate(server.lines) if line.startswith("Ready on"))
    finally:
        assert close(server) == 0
