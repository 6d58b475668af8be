"""`@telnyx/edge-runtime` as a local folder package: versions, the folder, the lock rewrite."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from telnyx_edge.errors import ConfigError
from telnyx_edge.runtime import npmlink
from telnyx_edge.runtime.jsmodule import JS_DIR


@pytest.mark.parametrize(("spec", "version"), [
    ("^0.9.2", "0.9.2"), ("~0.8", "0.8.0"), (">=0.6.0 <1", "0.6.0"), ("0.3.x", "0.3.0"), ("1", "1.0.0"),
    ("^0.16.1-beta.2", "0.16.1-beta.2"), ("0.8.0 || ^0.9.2", "0.8.0"),
    ("*", npmlink.runtime_version()), ("latest", npmlink.runtime_version()), ("", npmlink.runtime_version()),
    ("<1.0.0", npmlink.runtime_version()),
])
def test_the_folder_version_is_the_lowest_the_range_accepts(spec: str, version: str) -> None:
    assert npmlink.version_for(spec) == version


def test_the_folder_package_links_the_runtimes_module_and_declarations(tmp_path: Path) -> None:
    node_types = tmp_path / "types-node"
    node_types.mkdir()
    folder = npmlink.folder_package("0.9.2", tmp_path, node_types)
    assert folder == tmp_path / "npm" / "edge-runtime@0.9.2"
    manifest = json.loads((folder / "package.json").read_text())
    assert (manifest["name"], manifest["version"], manifest["types"]) == ("@telnyx/edge-runtime", "0.9.2", "index.d.ts")
    assert '/// <reference path="./edge-runtime.d.ts" />' in (folder / "index.d.ts").read_text()
    assert (folder / "node_modules" / "@types" / "node").resolve() == node_types
    assert (folder / "edge-runtime.d.ts").resolve() == (JS_DIR / "edge-runtime.d.ts").resolve()
    assert (folder / "edge-runtime.mjs").resolve() == (JS_DIR / "edge-runtime.mjs").resolve()
    assert npmlink.folder_package("0.9.2", tmp_path, node_types) == folder  # idempotent


def test_the_lock_records_the_link_once(tmp_path: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "package.json").write_text('{"name": "p", "dependencies": {"@telnyx/edge-runtime": "*"}}')
    registry = {"version": "0.10.0", "resolved": "https://registry.npmjs.org/x.tgz", "dependencies": {"y": "1"}}
    lock = {"lockfileVersion": 3, "packages": {
        "": {"name": "p"}, "node_modules/@telnyx/edge-runtime": registry,
        "node_modules/@telnyx/edge-runtime/node_modules/y": {"version": "1.0.0"}, "node_modules/ms": {"version": "2.1.3"},
    }}
    (project / "package-lock.json").write_text(json.dumps(lock))
    first = npmlink.link_project(project, tmp_path / "home")
    assert first.lock_updated and first.version == npmlink.runtime_version() and first.spec == "*"
    packages = json.loads((project / "package-lock.json").read_text())["packages"]
    resolved = f"../home/npm/edge-runtime@{first.version}"
    assert packages == {
        "": {"name": "p"}, "node_modules/ms": {"version": "2.1.3"},
        "node_modules/@telnyx/edge-runtime": {"resolved": resolved, "link": True},
        resolved: {"name": "@telnyx/edge-runtime", "version": first.version},
    }
    assert (project / "node_modules" / "@telnyx" / "edge-runtime").resolve() == first.folder
    assert not npmlink.link_project(project, tmp_path / "home").lock_updated


@pytest.mark.parametrize("spec", ["file:../edge-runtime", "github:team-telnyx/edge-runtime", "npm:other@1"])
def test_a_spec_that_is_not_a_range_is_refused(tmp_path: Path, spec: str) -> None:
    (tmp_path / "package.json").write_text(json.dumps({"dependencies": {"@telnyx/edge-runtime": spec}}))
    with pytest.raises(ConfigError, match="is not a version range"):
        npmlink.link_project(tmp_path, tmp_path / "home")
