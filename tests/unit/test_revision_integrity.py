"""The check `serve` runs on a shipped bundle before the runtime loads it (account/integrity.py)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from telnyx_edge.account.integrity import check_bundle, recorded_sha256
from telnyx_edge.errors import AccountError, RevisionDamagedError

HINT = "Run telnyx-edge ship again in that project (/work/proj)."


def check(path: Path, expected: str | None) -> None:
    check_bundle(path, expected, revision="0123456789ab", project="/work/proj")


def test_a_bundle_with_the_recorded_digest_passes(tmp_path: Path) -> None:
    bundle = tmp_path / "index.js"
    bundle.write_bytes(b"export default {};\n")
    check(bundle, hashlib.sha256(b"export default {};\n").hexdigest())
    check(bundle, recorded_sha256({"sha256": hashlib.sha256(b"export default {};\n").hexdigest().upper()}))


def test_a_changed_bundle_names_both_digests_and_the_fix(tmp_path: Path) -> None:
    bundle = tmp_path / "index.js"
    bundle.write_bytes(b"changed")
    expected = hashlib.sha256(b"shipped").hexdigest()
    with pytest.raises(RevisionDamagedError) as refused:
        check(bundle, expected)
    actual = hashlib.sha256(b"changed").hexdigest()
    assert refused.value.message == (
        f"revision 0123456789ab: bundle changed since ship: sha256 {actual[:12]}… expected {expected[:12]}…"
    )
    assert refused.value.hint == HINT
    assert isinstance(refused.value, AccountError)


def test_a_missing_or_unreadable_bundle_is_refused_even_without_a_recorded_digest(tmp_path: Path) -> None:
    for expected in (None, hashlib.sha256(b"").hexdigest()):
        with pytest.raises(RevisionDamagedError) as refused:
            check(tmp_path / "index.js", expected)
        assert refused.value.message == f"revision 0123456789ab: bundle missing ({tmp_path / 'index.js'})"
        (tmp_path / "dir.js").mkdir(exist_ok=True)
        with pytest.raises(RevisionDamagedError, match=r"^revision 0123456789ab: bundle unreadable \("):
            check(tmp_path / "dir.js", expected)


def test_a_revision_recorded_without_a_digest_is_loaded_as_it_is(tmp_path: Path) -> None:
    bundle = tmp_path / "index.js"
    bundle.write_bytes(b"anything")
    assert recorded_sha256({"actors": []}) is None and recorded_sha256({"sha256": ""}) is None
    assert recorded_sha256({"sha256": 12}) is None
    check(bundle, None)
