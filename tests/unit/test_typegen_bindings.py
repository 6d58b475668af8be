"""`types` for platform bindings: the runtime's interfaces when the project declares them, else local ones."""

from __future__ import annotations

import shutil
from pathlib import Path

from telnyx_edge import config, typegen
from tests.harness import ROOT

TOML = """name = "app"
main = "src/index.ts"

[storage.kv.CACHE]
id = "5b0c6d2e-3f4a-4b5c-8d6e-7f8091a2b3c4"

[[ratelimits]]
name = "LIMITER"
limit = 1
period = 1

[env_vars]
MODE = "x"
CACHE = "shadowed by the binding"
"not-an-identifier" = "y"
"""


def render(tmp_path: Path) -> str:
    (tmp_path / "telnyx.toml").write_text(TOML)
    manifest = config.load_manifest(tmp_path, check_main=False)
    return typegen.render(manifest, {})[0]


def test_umbrella_with_the_scaffold_declarations_imports_the_runtime_types(tmp_path: Path) -> None:
    shutil.copy(ROOT / "telnyx_edge" / "runtime" / "js" / "edge-runtime.d.ts", tmp_path)
    text = render(tmp_path)
    assert 'import type { KvNamespace as __TelnyxKvNamespace, RateLimiter as __TelnyxRateLimiter } from "@telnyx/edge-runtime";' in text
    assert "interface __TelnyxKvNamespace" not in text
    assert text.count("CACHE: __TelnyxKvNamespace;") == 2 and text.count("MODE: string;") == 2
    assert "CACHE: string;" not in text and "not-an-identifier" not in text


def test_older_or_missing_declarations_get_local_interfaces(tmp_path: Path) -> None:
    (tmp_path / "edge-runtime.d.ts").write_text('declare module "@telnyx/edge-runtime" { export interface Env {} }\n')
    text = render(tmp_path)
    assert "@telnyx/edge-runtime" not in text.split("declare global")[0]
    assert "interface __TelnyxKvNamespace {" in text and "interface __TelnyxRateLimiter {" in text


def test_a_project_wired_by_runtime_link_gets_the_runtime_types(tmp_path: Path) -> None:
    # `runtime link` puts the runtime's package (declarations included) in node_modules; no copy.
    linked = tmp_path / "node_modules" / "@telnyx"
    linked.mkdir(parents=True)
    (linked / "edge-runtime").symlink_to(ROOT / "telnyx_edge" / "runtime" / "js", target_is_directory=True)
    text = render(tmp_path)
    assert "KvNamespace as __TelnyxKvNamespace" in text and "interface __TelnyxKvNamespace" not in text
