"""Ship rules without esbuild: durations, roles, ownership, and the account's atomic deploy."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from telnyx_edge.account import LocalAccount
from telnyx_edge.config import ActorBinding
from telnyx_edge.errors import AccountError, OwnershipError, UsageError
from telnyx_edge.ship import ShipBinding, check_ownership, ownership_problems, parse_duration, plan_bindings


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m0s", 300.0), ("300s", 300.0), ("2m", 120.0), ("1h30m", 5400.0), ("1.5m", 90.0), ("500ms", 0.5), ("0", 0.0)],
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("seconds", "text"), [(300, "5m0s"), (5400, "1h30m0s"), (2.5, "2.5s"), (0.5, "500ms"), (1e-6, "1µs"), (0, "0s")]
)
def test_format_duration(seconds: float, text: str) -> None:
    from telnyx_edge.ship import format_duration

    assert format_duration(seconds) == text
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "5", "5 m", "m", "5d", "1h-2m", "abc"])
def test_parse_duration_rejects(text: str) -> None:
    with pytest.raises(UsageError, match="Invalid duration"):
        parse_duration(text)


def test_roles_follow_the_exports() -> None:
    actors = (ActorBinding("ACCOUNT", "Account"), ActorBinding("READONLY", "Ledger"), ActorBinding("A2", "Account"))
    assert plan_bindings(actors, ("Account", "default")) == (
        ShipBinding("ACCOUNT", "Account", "owner"),
        ShipBinding("READONLY", "Ledger", "reference"),
        ShipBinding("A2", "Account", "owner"),
    )
    # `default` is the front door, never an actor class.
    assert plan_bindings((ActorBinding("D", "default"),), ("default",))[0].role == "reference"


@pytest.fixture
def account(tmp_path: Path) -> LocalAccount:
    return LocalAccount(tmp_path / "home")


def _deploy(account: LocalAccount, func_id: str, *bindings: ShipBinding, body: bytes = b"js") -> str:
    manifest = {"actors": [{"binding": b.binding, "type": b.type, "role": b.role} for b in bindings]}
    return account.deploy(
        func_id, {"index.js": body}, manifest, check=lambda owners: check_ownership(bindings, func_id, owners)
    ).id


def test_ownership_rules(account: LocalAccount, tmp_path: Path) -> None:
    owner = account.register("account", tmp_path, "umbrella")
    other = account.register("account-2", tmp_path, "umbrella")
    ref = account.register("account-readonly", tmp_path, "umbrella")
    readonly = ShipBinding("READONLY", "Account", "reference")
    own = ShipBinding("ACCOUNT", "Account", "owner")

    assert ownership_problems((readonly,), ref.id, account.owners()) == [
        "binding READONLY: type Account has no owner on this account; ship the function that exports class Account first"
    ]
    with pytest.raises(OwnershipError):
        _deploy(account, ref.id, readonly)
    assert account.revisions(ref.id) == []
    assert not (account.home / "revisions" / ref.id).exists() or not any((account.home / "revisions" / ref.id).iterdir())

    _deploy(account, owner.id, own)
    assert account.owners()["Account"].id == owner.id
    _deploy(account, ref.id, readonly)
    _deploy(account, owner.id, own)  # re-shipping its own type is fine

    with pytest.raises(OwnershipError) as caught:
        _deploy(account, other.id, own)
    assert caught.value.message == (
        f"binding ACCOUNT: type Account is already owned by function 'account' ({owner.id}); "
        "only one function may ship class Account"
    )
    assert account.revisions(other.id) == []
    assert account.resolve(other.id).status == "created"


def test_an_owner_that_stops_owning_cannot_reference_itself(account: LocalAccount, tmp_path: Path) -> None:
    owner = account.register("account", tmp_path, "umbrella")
    _deploy(account, owner.id, ShipBinding("ACCOUNT", "Account", "owner"))
    with pytest.raises(OwnershipError, match="type Account has no owner"):
        _deploy(account, owner.id, ShipBinding("ACCOUNT", "Account", "reference"))


def test_revisions_are_immutable_newest_first_and_rollback(account: LocalAccount, tmp_path: Path) -> None:
    from telnyx_edge.ship import rollback

    record = account.register("account", tmp_path, "umbrella")
    own = ShipBinding("ACCOUNT", "Account", "owner")
    first = _deploy(account, record.id, own, body=b"one")
    second = _deploy(account, record.id, own, body=b"two")
    assert [r.id for r in account.revisions(record.id)] == [second, first]
    assert account.resolve(record.id).serving_revision == second
    stored = Path(account.revision(record.id, first).path) / "index.js"
    assert stored.read_bytes() == b"one"
    assert not stored.stat().st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    if os.geteuid() != 0:  # root ignores file modes
        with pytest.raises(PermissionError):
            stored.write_bytes(b"changed")

    updated, target = rollback(account, "account", first[:6])
    assert target.id == first and updated.serving_revision == first
    assert [r.id for r in account.revisions(record.id)] == [second, first]  # rollback adds no revision
    with pytest.raises(AccountError, match="No revision 'nope'"):
        rollback(account, "account", "nope")


def test_rollback_may_not_take_a_type_another_function_owns(account: LocalAccount, tmp_path: Path) -> None:
    from telnyx_edge.ship import rollback

    a = account.register("a", tmp_path, "umbrella")
    b = account.register("b", tmp_path, "umbrella")
    old = _deploy(account, a.id, ShipBinding("X", "Account", "owner"))
    _deploy(account, a.id)  # a no longer owns Account
    _deploy(account, b.id, ShipBinding("Y", "Account", "owner"))
    with pytest.raises(OwnershipError, match="already owned by function 'b'"):
        rollback(account, "a", old)
    assert account.resolve("a").serving_revision != old


def test_deploy_to_a_missing_function(account: LocalAccount) -> None:
    with pytest.raises(AccountError, match="is not on this account"):
        account.deploy("00000000-0000-4000-8000-00000000abcd", {"index.js": b""}, {"actors": []})


def test_dropping_an_owned_type_that_others_reference_is_warned(copy_fixture, tmp_path: Path) -> None:
    from telnyx_edge.config import write_edge_compute
    from telnyx_edge.ship import ship

    account = LocalAccount(tmp_path / "home")
    project = copy_fixture("ship-owner")
    owner = account.register("account", project, "umbrella")
    write_edge_compute(project / "telnyx.toml", owner.id, "account")
    ref = account.register("account-readonly", tmp_path, "umbrella")
    ship(project, account)
    _deploy(account, ref.id, ShipBinding("READONLY", "Account", "reference"))
    assert [r.name for r in account.referrers("Account")] == ["account-readonly"]

    # The owner drops its [[actors]] block and the class export.
    toml = project / "telnyx.toml"
    text = toml.read_text()
    toml.write_text(text[: text.index("[[actors]]")] + text[text.index("[edge_compute]"):])
    index = project / "src" / "index.ts"
    index.write_text(index.read_text().replace('export { Account } from "./account";', ""))
    result = ship(project, account)
    assert result.warnings == (
        "type Account has no owner after this ship, but functions still reference it: 'account-readonly'; "
        "those bindings will not resolve until a function ships class Account",
    )
    assert "Account" not in account.owners()


def test_running_out_of_time_is_not_a_build_failure(copy_fixture, tmp_path: Path) -> None:
    from telnyx_edge.config import write_edge_compute
    from telnyx_edge.errors import ShipError
    from telnyx_edge.ship import ship

    account = LocalAccount(tmp_path / "home")
    project = copy_fixture("ship-owner")
    record = account.register("account", project, "umbrella")
    write_edge_compute(project / "telnyx.toml", record.id, "account")
    with pytest.raises(ShipError, match="Shipping did not finish within the --timeout of 1µs"):
        ship(project, account, timeout=parse_duration("1us"))
    assert account.resolve(record.id).status == "created"
    assert account.revisions(record.id) == []
