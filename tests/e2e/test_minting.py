"""Twenty `new-func` processes started at once get twenty distinct, recorded func_ids."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import tomllib
import uuid
from pathlib import Path

import pytest

from tests.harness import child_env

pytestmark = pytest.mark.e2e


def test_concurrent_new_func_mints_distinct_ids(tmp_path: Path) -> None:
    home = tmp_path / "home"
    env = child_env({"TELNYX_EDGE_HOME": str(home)})
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "telnyx_edge", "new-func", "--actor", f"--name=fn-{i}", "--no-install"],
            cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        for i in range(20)
    ]
    results = [(p.wait(timeout=120), p.stderr.read() if p.stderr else "") for p in procs]
    for p in procs:
        for stream in (p.stdout, p.stderr):
            if stream:
                stream.close()
    assert [code for code, _ in results] == [0] * 20, results
    written = {}
    for i in range(20):
        manifest = tomllib.loads((tmp_path / f"fn-{i}" / "telnyx.toml").read_text())
        written[f"fn-{i}"] = manifest["edge_compute"]["func_id"]
        assert manifest["edge_compute"]["func_name"] == f"fn-{i}"
        uuid.UUID(manifest["edge_compute"]["func_id"])
    assert len(set(written.values())) == 20
    with sqlite3.connect(home / "account.db") as db:
        recorded = dict(db.execute("SELECT name, id FROM functions").fetchall())
    assert recorded == written
