"""docs/ship.md's shared-actor walkthrough, run as written: scaffold an owner and a reference,
type-check the reference's code from the doc, ship both, serve, write through one function and
read through the other."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.e2e.dev_helpers import hosts_of
from tests.harness import NODE_MODULES, ROOT, link_node_modules, run_cli, start_server

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

DOC = ROOT / "docs" / "ship.md"


def doc_files() -> dict[str, str]:
    """Code blocks of the walkthrough whose first line is `// file: PATH`."""
    section = DOC.read_text().split("## Shared actors: a walkthrough", 1)[1].split("\n## ", 1)[0]
    files = {}
    for block in re.findall(r"```ts\n(.*?)```", section, re.S):
        lines = [line.removeprefix("   ") for line in block.splitlines()]
        match = re.match(r"// file: (\S+)$", lines[0])
        if match:
            files[match.group(1)] = "\n".join(lines[1:]) + "\n"
    return files


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["node", str(NODE_MODULES / "typescript" / "bin" / "tsc"), "--noEmit", "-p", str(project)],
        capture_output=True, text=True, timeout=120,
    )


def test_the_walkthrough_as_written(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    for name in ("counter", "counter-view"):
        made = run_cli("new-func", "--actor", f"--name={name}", "--no-install", cwd=tmp_path)
        assert made.returncode == 0, made.stderr
    (tmp_path / "counter-view" / "src" / "counter.ts").unlink()
    files = doc_files()
    assert list(files) == ["counter-view/src/index.ts"]
    for path, text in files.items():
        (tmp_path / path).write_text(text)

    for name in ("counter", "counter-view"):
        project = tmp_path / name
        assert run_cli("runtime", "link", "-f", str(project)).returncode == 0
        link_node_modules(project)
        checked = tsc(project)
        assert checked.returncode == 0, checked.stdout + checked.stderr
    # The doc's claim: without the interface, `.value()` on the untyped namespace fails tsc.
    view = tmp_path / "counter-view" / "src" / "index.ts"
    typed = view.read_text()
    view.write_text(typed.replace("ActorNamespace<CounterApi>", "ActorNamespace"))
    untyped = tsc(tmp_path / "counter-view")
    assert untyped.returncode != 0 and "Property 'value' does not exist" in untyped.stdout
    view.write_text(typed)

    owner = run_cli("ship", cwd=tmp_path / "counter")
    assert owner.returncode == 0, owner.stderr
    assert re.search(r"^COUNTER\s+Counter\s+owner\s*$", owner.stdout, re.M)
    reference = run_cli("ship", cwd=tmp_path / "counter-view")
    assert reference.returncode == 0, reference.stderr
    assert re.search(r"^COUNTER\s+Counter\s+reference\s*$", reference.stdout, re.M)
    listing = run_cli("actors", "list")
    assert re.search(r"^Counter\s+counter\s+counter-view \(COUNTER\)\s*$", listing.stdout, re.M)

    server = start_server(["serve", "--port", "0"])
    try:
        hosts = hosts_of(server)
        with httpx.Client(base_url=server.url, timeout=30) as client:
            for expected in (1, 2):
                wrote = client.post("/?name=shared", headers={"Host": hosts["counter"]})
                assert wrote.json() == {"name": "shared", "value": expected}
            read = client.get("/?name=shared", headers={"Host": hosts["counter-view"]})
            assert read.json() == {"name": "shared", "value": 2, "via": "counter-view"}
    finally:
        assert server.stop() == 0

    # Deleting the owner names the reference and asks; no answer deletes nothing.
    refused = run_cli("delete-func", "counter", input="")
    assert refused.returncode == 1
    assert "'counter' owns actor type Counter, which 'counter-view' (binding COUNTER) references" in refused.stderr
    assert run_cli("inspect", "counter").returncode == 0
