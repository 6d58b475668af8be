"""Where the Node side of the runtime lives, and how bundles find its `@telnyx/edge-runtime`."""

from __future__ import annotations

from pathlib import Path

JS_DIR = Path(__file__).parent / "js"


def link_runtime(root: Path) -> None:
    """Make `import "@telnyx/edge-runtime"` in any bundle below `root` resolve to the runtime's module.

    Bundles keep that import external; Node looks for bare specifiers in the `node_modules` of
    every parent directory, so one link at `root` serves every bundle below it. Node follows the
    link to its real path, so user code and the host share one StatefulActor class. A
    `package.json` with `"type": "module"` at `root` (written if absent) makes Node read the
    bundles below as ES modules whatever the project's own package.json says.
    """
    # Bundles are ESM named `.js`: without a package.json of ours above them, Node would take the
    # project's (many real ones have no "type": "module") and warn on every isolate start.
    marker = root / "package.json"
    if not marker.exists():
        root.mkdir(parents=True, exist_ok=True)
        marker.write_text('{"private": true, "type": "module"}\n', encoding="utf-8")
    scope = root / "node_modules" / "@telnyx"
    link = scope / "edge-runtime"
    scope.mkdir(parents=True, exist_ok=True)
    if link.is_symlink() and link.resolve() == JS_DIR.resolve():
        return
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(JS_DIR.resolve(), target_is_directory=True)
