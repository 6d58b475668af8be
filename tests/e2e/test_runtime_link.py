"""`telnyx-edge runtime link`: a project that depends on `@telnyx/edge-runtime` (not on the public
npm registry) gets a working `npm install`, `npm ci` and `tsc --noEmit`, with package.json untouched.

Real npm against the real registry for every other package (`telnyx`).
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.e2e.dev_helpers import PROJECTS
from tests.harness import NODE_MODULES, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NPM_FLAGS = ("--omit=dev", "--no-audit", "--no-fund", "--loglevel=error")
# What a real example's lock holds: the package from a registry that answers 404 to everyone else.
REGISTRY_ENTRY = {
    "version": "0.10.0",
    "resolved": "https://registry.npmjs.org/@telnyx/edge-runtime/-/edge-runtime-0.10.0.tgz",
    "integrity": "sha512-" + "A" * 86 + "==",
    "dependencies": {"@aws-sdk/client-s3": "^3.1083.0"},
}


def npm(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["npm", *args], cwd=project, capture_output=True, text=True, timeout=300)


def tsc(project: Path) -> subprocess.CompletedProcess[str]:
    # The shared TypeScript; the project's devDependencies are not installed (--omit=dev).
    return subprocess.run(
        ["node", str(NODE_MODULES / "typescript" / "bin" / "tsc"), "--noEmit", "-p", str(project)],
        capture_output=True, text=True, timeout=300,
    )


def test_link_makes_npm_install_ci_and_tsc_work(tmp_path: Path, edge_home: Path, node_modules: Path) -> None:
    if shutil.which("npm") is None:
        pytest.fail("npm is required")
    project = tmp_path / "sms-notes"
    shutil.copytree(PROJECTS / "sms-notes", project)
    package_json = (project / "package.json").read_bytes()

    linked = run_cli("runtime", "link", "-f", str(project))
    assert linked.returncode == 0, linked.stderr
    folder = edge_home / "npm" / "edge-runtime@0.9.2"  # the lowest version "^0.9.2" accepts
    assert linked.stdout.splitlines() == [
        f'✅ @telnyx/edge-runtime 0.9.2 (for "^0.9.2") linked from {folder.resolve()}',
        "💡 Now run: npm install",
    ]
    installed = npm(project, "install", *NPM_FLAGS)
    assert installed.returncode == 0, installed.stderr
    assert (project / "node_modules" / "telnyx" / "package.json").is_file()  # from the registry
    assert (project / "node_modules" / "@telnyx" / "edge-runtime").resolve() == folder.resolve()
    assert (project / "package.json").read_bytes() == package_json

    checked = tsc(project)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The declarations are really used: a call they do not allow fails the check.
    notes = project / "src" / "notes.ts"
    notes.write_text(notes.read_text().replace('await this.ctx.storage.put("notes", notes);', 'await this.ctx.storage.setAlarm("soon");'))
    broken = tsc(project)
    assert broken.returncode != 0 and "src/notes.ts" in broken.stdout

    # A lock that pins the registry's tarball (as the examples' locks do) is rewritten to the link.
    lock_path = project / "package-lock.json"
    lock = json.loads(lock_path.read_text())
    del lock["packages"][lock["packages"]["node_modules/@telnyx/edge-runtime"]["resolved"]]
    lock["packages"]["node_modules/@telnyx/edge-runtime"] = REGISTRY_ENTRY
    lock_path.write_text(json.dumps(lock, indent=2))
    shutil.rmtree(project / "node_modules")
    relinked = run_cli("runtime", "link", "-f", str(project))
    assert relinked.returncode == 0, relinked.stderr
    assert "   package-lock.json now records the link" in relinked.stdout.splitlines()
    ci = npm(project, "ci", *NPM_FLAGS)
    assert ci.returncode == 0, ci.stderr
    assert (project / "node_modules" / "@telnyx" / "edge-runtime").resolve() == folder.resolve()
    assert (project / "node_modules" / "telnyx" / "package.json").is_file()


def test_link_needs_the_dependency(tmp_path: Path, edge_home: Path) -> None:
    project = tmp_path / "p"
    project.mkdir()
    (project / "package.json").write_text('{"name": "p", "dependencies": {"telnyx": "^7.13.0"}}')
    result = run_cli("runtime", "link", "-f", str(project))
    assert result.returncode == 3
    assert result.stderr.splitlines() == [
        "❌ package.json does not depend on @telnyx/edge-runtime",
        '💡 Add "@telnyx/edge-runtime": "^0.10.0" to its dependencies, then run the command again.',
    ]
    assert not (project / "node_modules").exists()
