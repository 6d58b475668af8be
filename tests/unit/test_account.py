from __future__ import annotations

import stat
import uuid
from pathlib import Path

import pytest

from telnyx_edge.account import CREATED, DEPLOY_OK, LocalAccount
from telnyx_edge.errors import AccountError


@pytest.fixture
def account(tmp_path: Path) -> LocalAccount:
    return LocalAccount(tmp_path / "home")


def test_register_mints_a_uuid_and_records_the_function(account: LocalAccount, tmp_path: Path) -> None:
    record = account.register("demo", tmp_path / "demo", "umbrella")
    assert uuid.UUID(record.id).version == 4
    assert (record.name, record.status, record.kind) == ("demo", CREATED, "umbrella")
    assert record.directory == str(tmp_path / "demo")
    assert record.created_at == record.updated_at and record.created_at.endswith("Z")
    assert record.url() == f"http://demo-{record.id[:10]}.localhost:8788"
    assert (account.home / "account.db").is_file()


def test_duplicate_name_is_refused(account: LocalAccount, tmp_path: Path) -> None:
    account.register("demo", tmp_path, "classic")
    with pytest.raises(AccountError, match="A function named 'demo' already exists on this account"):
        account.register("demo", tmp_path, "classic")
    assert len(account.functions()) == 1


def test_resolve_by_name_id_and_unique_prefix(account: LocalAccount, tmp_path: Path) -> None:
    a = account.register("alpha", tmp_path, "classic")
    account.register("beta", tmp_path, "classic")
    assert account.resolve("alpha") == a
    assert account.resolve(a.id) == a
    assert account.resolve(a.id[:8]) == a
    with pytest.raises(AccountError, match="No function 'gamma' on this account"):
        account.resolve("gamma")
    assert account.find("%%%%%%%%") is None


def test_status_and_delete(account: LocalAccount, tmp_path: Path) -> None:
    record = account.register("demo", tmp_path, "umbrella")
    assert account.set_status(record.id, DEPLOY_OK).status == DEPLOY_OK
    account.delete(record.id)
    assert account.functions() == []


def test_revisions_are_immutable_files_listed_newest_first(account: LocalAccount, tmp_path: Path) -> None:
    record = account.register("demo", tmp_path, "umbrella")
    first = account.add_revision(record.id, {"index.js": b"one"}, {"actors": []})
    second = account.add_revision(record.id, {"index.js": b"two"}, {"actors": []})
    assert [r.id for r in account.revisions(record.id)] == [second.id, first.id]
    bundle = Path(first.path) / "index.js"
    assert bundle.read_bytes() == b"one"
    assert not bundle.stat().st_mode & stat.S_IWUSR
    assert account.set_serving(record.id, first.id).serving_revision == first.id
    account.delete(record.id)
    assert not Path(first.path).exists()
