"""The bundle and its roles, with the real esbuild and the real Node load check (no account)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from telnyx_edge import bundle
from telnyx_edge.errors import BundleError, ShipError
from telnyx_edge.ship import ship

# esbuild emits `var Account = class extends StatefulActor`; either form means the class shipped.
CLASS_RE = r"\bclass\s+{name}\b|\b{name}\s*=\s*class\b"
# Text only the Account class's method bodies produce.
ACCOUNT_BODY_MARKERS = ('storage.put("balance"', "async deposit(", "async debit(", "insufficient")


def _prepend(path: Path, text: str) -> None:
    path.write_text(text + "\n" + path.read_text(encoding="utf-8"), encoding="utf-8")


def test_owner_bundle_ships_the_class(copy_fixture, tmp_path: Path) -> None:
    project = copy_fixture("ship-owner")
    result = ship(project, None, dry_run=True)
    text = result.bundle.js_path.read_text()
    assert re.search(r"\bAccount = class extends StatefulActor\b", text)
    assert all(marker in text for marker in ACCOUNT_BODY_MARKERS[:3])
    assert set(result.bundle.exports) == {"Account", "default"}
    assert [(b.binding, b.type, b.role) for b in result.bindings] == [("ACCOUNT", "Account", "owner")]
    assert result.files == ("src/account.ts", "src/index.ts")
    assert result.outdir == project / ".telnyx" / "build"
    for name in ("index.js", "index.js.map", "meta.json", "manifest.json"):
        assert (result.outdir / name).is_file()
    assert result.manifest["actors"] == [{"binding": "ACCOUNT", "type": "Account", "role": "owner"}]
    assert 0 < result.gzip_size < result.bundle.size


READONLY_VARIANTS = {
    "not imported": "",
    "import type": 'import type { Account } from "./account";\nexport type Balance = Awaited<ReturnType<Account["balance"]>>;',
    "inline type specifier": 'import { type Account } from "./account";\nexport type Balance = Awaited<ReturnType<Account["balance"]>>;',
    "class used only as a type": 'import { Account } from "./account";\nlet last: Account | undefined;\nexport const seen = () => last !== undefined;',
    "counter imported as type": 'import type { Counter } from "./counter";\nexport type C = Counter;',
}


@pytest.mark.parametrize("variant", list(READONLY_VARIANTS))
def test_reference_bundle_is_class_free(copy_fixture, variant: str) -> None:
    project = copy_fixture("ship-readonly")
    assert (project / "src" / "account.ts").is_file() and (project / "src" / "counter.ts").is_file()
    _prepend(project / "src" / "index.ts", READONLY_VARIANTS[variant])
    result = ship(project, None, dry_run=True)
    text = result.bundle.js_path.read_text()
    for name in ("Account", "Counter", "StatefulActor"):
        assert not re.search(CLASS_RE.format(name=name), text), f"class {name} leaked ({variant})"
    for marker in (*ACCOUNT_BODY_MARKERS, "increment("):
        assert marker not in text, f"{marker!r} leaked into the reference bundle ({variant})"
    assert result.bundle.size < 5 * 1024
    assert result.files == ("src/index.ts",)
    assert [(b.binding, b.type, b.role) for b in result.bindings] == [("READONLY", "Account", "reference")]
    assert result.warnings == ()


def test_side_effect_import_of_the_class_module_still_ships_no_class(copy_fixture) -> None:
    # The module is in the graph, but nothing uses its class, so esbuild drops it.
    project = copy_fixture("ship-readonly")
    _prepend(project / "src" / "index.ts", 'import "./account";')
    result = ship(project, None, dry_run=True)
    assert not re.search(CLASS_RE.format(name="Account"), result.bundle.js_path.read_text())
    assert result.bindings[0].role == "reference"


def test_outdir_gets_every_output(copy_fixture, tmp_path: Path) -> None:
    project = copy_fixture("ship-owner")
    out = tmp_path / "out"
    result = ship(project, None, dry_run=True, outdir=out)
    assert sorted(p.name for p in out.iterdir()) == [".telnyx-ship-outputs.json", "index.js", "index.js.map", "manifest.json", "meta.json"]
    assert result.outdir == out.resolve()
    assert not (project / ".telnyx").exists()


def test_syntax_error_reports_file_and_line(copy_fixture) -> None:
    project = copy_fixture("ship-owner")
    index = project / "src" / "index.ts"
    index.write_text(index.read_text() + "\nexport const broken = (;\n")
    with pytest.raises(BundleError) as caught:
        bundle.build(project, "src/index.ts", project / ".telnyx" / "build")
    line = len(index.read_text().splitlines())
    assert caught.value.exit_code == 8
    assert any(re.match(rf"src/index\.ts:{line}:\d+: ", d) for d in caught.value.details), caught.value.details


def test_failed_ship_leaves_no_stale_bundle(copy_fixture) -> None:
    project = copy_fixture("ship-owner")
    out = project / ".telnyx" / "build"
    ship(project, None, dry_run=True)
    assert (out / "index.js").exists()
    (project / "src" / "index.ts").write_text("export default {\n")
    with pytest.raises(BundleError):
        bundle.build(project, "src/index.ts", out)
    assert (out / "index.js").exists()  # build() alone keeps the last good output (dev serves it)
    with pytest.raises(BundleError):
        ship(project, None, dry_run=True)
    assert sorted(p.name for p in out.iterdir()) == []


def test_without_node_modules_the_toolchains_esbuild_bundles(tmp_path: Path) -> None:
    import shutil

    from telnyx_edge.runtime import packages
    from tests.conftest import FIXTURES

    project = tmp_path / "p"
    shutil.copytree(FIXTURES / "projects" / "ship-owner", project)
    assert bundle.project_esbuild(project) is None
    assert bundle.find_esbuild(project) == packages.ensure() / "node_modules" / ".bin" / "esbuild"
    result = ship(project, None, dry_run=True)
    assert set(result.bundle.exports) == {"Account", "default"}


def test_the_projects_own_esbuild_comes_first(copy_fixture) -> None:
    project = copy_fixture("ship-owner")
    assert bundle.find_esbuild(project) == project / "node_modules" / ".bin" / "esbuild"


def test_missing_imports_become_one_line() -> None:
    errors = ['src/index.ts:1:16: Could not resolve "left-pad"', 'src/a.ts:2:1: Could not resolve "@scope/pkg/sub"']
    assert bundle.missing_imports(errors) == [("left-pad", "src/index.ts:1:16"), ("@scope/pkg/sub", "src/a.ts:2:1")]
    assert bundle._missing_import_message(bundle.missing_imports(errors[1:])) == (
        'Cannot resolve import "@scope/pkg/sub" in src/a.ts:2:1: not found; add it with npm install @scope/pkg'
    )
    assert bundle._missing_import_message([("./nope", "src/index.ts:3:8")]) == (
        'Cannot resolve import "./nope" in src/index.ts:3:8: not found; check the path'
    )
    assert bundle.missing_imports(["src/index.ts:1:1: Expected \";\""]) == []


def test_owned_export_must_extend_stateful_actor(copy_fixture) -> None:
    project = copy_fixture("ship-owner")
    (project / "src" / "account.ts").write_text("export class Account { balance() { return 1; } }\n")
    with pytest.raises(ShipError, match="binding ACCOUNT: main exports Account, but it is a class, not a class extending StatefulActor"):
        ship(project, None, dry_run=True)


def test_default_export_needs_fetch(copy_fixture) -> None:
    project = copy_fixture("ship-readonly")
    (project / "src" / "index.ts").write_text("export default { hello() { return 1; } };\n")
    with pytest.raises(ShipError, match="main has no default export with a fetch method"):
        ship(project, None, dry_run=True)


def test_top_level_throw_is_reported(copy_fixture) -> None:
    project = copy_fixture("ship-readonly")
    _prepend(project / "src" / "index.ts", 'throw new TypeError("boom at load");')
    with pytest.raises(ShipError, match="The bundle threw while loading: TypeError: boom at load"):
        ship(project, None, dry_run=True)


def test_exported_class_without_binding_is_a_warning(copy_fixture) -> None:
    project = copy_fixture("ship-owner")
    _prepend(project / "src" / "index.ts", 'export { Counter } from "./counter";')
    (project / "src" / "counter.ts").write_text(
        'import { StatefulActor } from "@telnyx/edge-runtime";\nexport class Counter extends StatefulActor {}\n'
    )
    result = ship(project, None, dry_run=True)
    assert result.warnings == (
        "main exports class Counter, which no [[actors]] type names; it is shipped but no binding reaches it",
    )


def test_gzip_size(tmp_path: Path) -> None:
    path = tmp_path / "f.js"
    path.write_text("x" * 10_000)
    assert 0 < bundle.gzip_size(path) < 200


def test_reference_that_imports_the_class_as_a_value_is_warned(copy_fixture) -> None:
    # The counter-case of the class-free tests: a value use pulls the class in.
    project = copy_fixture("ship-readonly")
    _prepend(project / "src" / "index.ts", 'import { Account } from "./account";\nexport const kind = Account.name;')
    result = ship(project, None, dry_run=True)
    assert re.search(CLASS_RE.format(name="Account"), result.bundle.js_path.read_text())
    assert result.bindings[0].role == "reference"
    assert result.warnings == (
        "binding READONLY: the bundle contains class Account without exporting it; "
        "a reference function should import the class only as a type",
    )
