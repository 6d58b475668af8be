"""The data plane's JavaScript is package data: a wheel without it could not run `dev`."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness import ROOT

JS_FILES = [
    "host.mjs", "actors.mjs", "storage.mjs", "actordb.mjs", "actor-schema.sql", "sql.mjs", "keys.mjs", "wire.mjs",
    "packages.mjs", "codec.mjs", "errors.mjs", "edge-runtime.mjs", "msgpack.mjs", "package.json",
    "agent.mjs", "agent-messages.mjs", "agent-tasks.mjs", "agent-storage.mjs",
    *(f"bindings/{name}.mjs" for name in ("index", "errors", "sqlite", "secrets", "kv", "sqldb", "bucket", "ratelimit")),
    "edge-runtime.d.ts", "bindings/telnyx.mjs",
    "dataplane.mjs", "ingress.mjs", "authority.mjs", "group.mjs", "placement.mjs", "channel.mjs", "worker.mjs",
    "streams.mjs", "spares.mjs", "delivery.mjs",
    "explorer-read.mjs", "explorer-route.mjs", "explorer-turns.mjs", "explorer-values.mjs", "explorer-cli.mjs",
]
EXPLORER_PAGE = ["index.html", "app.js", "app.css"]


@pytest.mark.slow
def test_wheel_ships_the_runtime_js(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--outdir", str(tmp_path), str(ROOT)],
        check=True, capture_output=True, timeout=300,
    )
    wheel = next(tmp_path.glob("*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in JS_FILES if f"telnyx_edge/runtime/js/{f}" not in names]
    assert missing == []
    assert "telnyx_edge/runtime/node/package.json" in names
    assert [f for f in EXPLORER_PAGE if f"telnyx_edge/explorer/static/{f}" not in names] == []
