"""`new-func --agent` scaffolds an Agent SDK project that type-checks and runs; the Agent fixtures
type-check against the same `@telnyx/edge-runtime` declarations."""

from __future__ import annotations

import shutil
import subprocess
import tomllib
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import PROJECTS, close, eventually, start_dev
from tests.harness import ROOT, link_node_modules, run_cli

pytestmark = pytest.mark.e2e


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(project / "node_modules" / ".bin" / "tsc"), "--noEmit", "-p", str(project)],
        capture_output=True, text=True, timeout=120,
    )


def test_new_func_agent_type_checks_and_runs(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    created = run_cli("new-func", "--actor", "--agent", "--name=helper", "--no-install", cwd=tmp_path)
    assert created.returncode == 0, created.stderr
    project = tmp_path / "helper"
    files = sorted(str(p.relative_to(project)) for p in project.rglob("*") if p.is_file() and "node_modules" not in p.parts)
    assert files == [
        ".gitignore", "README.md", "package.json", "src/assistant.ts",
        "src/index.ts", "telnyx.toml", "tsconfig.json",
    ]
    # @telnyx/edge-runtime (the declarations included) is wired by `runtime link`, not copied.
    assert (project / "node_modules" / "@telnyx" / "edge-runtime" / "edge-runtime.d.ts").is_file()
    manifest = tomllib.loads((project / "telnyx.toml").read_text())
    assert manifest["actors"] == [{"binding": "ASSISTANT", "type": "Assistant"}]
    assert manifest["edge_compute"]["func_name"] == "helper"
    assert "export class Assistant extends Agent<" in (project / "src" / "assistant.ts").read_text()
    link_node_modules(project)
    checked = tsc(project)
    assert checked.returncode == 0, checked.stdout

    server = start_dev(project, "--no-watch")
    try:
        with httpx.Client(base_url=server.url, timeout=30) as client:
            sent = client.post("/messages?name=ann", content="Hello there")
            assert sent.status_code == 202 and sent.json() == {"name": "ann", "seq": 1, "status": "queued"}
            seen = eventually(lambda: client.get("/messages?name=ann").json(), lambda d: d["state"]["status"] == "answered")
            assert [m["content"] for m in seen["messages"]] == ["Hello there", "You said: Hello there"]
            assert [(t["id"], t["name"]) for t in seen["pending"]] == [("follow-up", "followUp")]
    finally:
        assert close(server) == 0

    # The check has teeth: SDK members are protected, and setState takes a patch of the state.
    (project / "src" / "misuse.ts").write_text(
        'import type { ActorNamespace } from "@telnyx/edge-runtime";\n'
        'import type { Assistant } from "./assistant";\n'
        'export const a = (ns: ActorNamespace<Assistant>) => ns.idFromName("x").getState();\n'
        'export const b = (x: Assistant) => x["setState"]({ status: 5 });\n'
    )
    failed = tsc(project).stdout
    assert "Property 'getState' does not exist" in failed
    assert "Type 'number' is not assignable" in failed


def test_agent_scaffold_flags(tmp_path: Path, edge_home: Path) -> None:
    alone = run_cli("new-func", "--agent", "-n", "alone", "--no-install", cwd=tmp_path)
    assert alone.returncode == 0, alone.stderr
    assert (tmp_path / "alone" / "src" / "assistant.ts").is_file()
    assert not (tmp_path / "alone" / "src" / "counter.ts").exists()
    wrong = run_cli("new-func", "--agent", "-l", "python", "-n", "py", "--no-install", cwd=tmp_path)
    assert wrong.returncode != 0
    assert "❌ Agent projects are TypeScript only" in wrong.stderr
    mixed = run_cli("new-func", "--agent", "--from-dir", str(tmp_path / "alone"), "-n", "copy", "--no-install", cwd=tmp_path)
    assert mixed.returncode != 0 and "--from-dir cannot be combined with --agent" in mixed.stderr


def test_agent_fixtures_type_check(tmp_path: Path, node_modules: Path) -> None:
    # One tsc run over both Agent fixtures, against the scaffold's declarations.
    for fixture in ("agent-lab", "sms-followup-agent"):
        shutil.copytree(PROJECTS / fixture / "src", tmp_path / fixture)
    shutil.copy(ROOT / "telnyx_edge" / "runtime" / "js" / "edge-runtime.d.ts", tmp_path)
    shutil.copy(PROJECTS / "agent-lab" / "tsconfig.json", tmp_path)
    (tmp_path / "tsconfig.json").write_text((tmp_path / "tsconfig.json").read_text().replace('"src/**/*.ts"', '"*/**/*.ts"'))
    link_node_modules(tmp_path)
    checked = tsc(tmp_path)
    assert checked.returncode == 0, checked.stdout
