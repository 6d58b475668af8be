"""Where `ship` writes its outputs, and what it may remove there.

`ship` clears its earlier outputs before it builds, so a failed build never leaves a stale
bundle behind. In a directory the user names (`--outdir`) it only ever removes files it wrote
itself: it records their names in a marker file (MARKER) before writing them, refuses a
directory that already holds a file of one of those names without the marker, and refuses
the project directory and any directory that holds `main`, where the outputs would land
among the sources. The default `.telnyx/build` is the toolchain's own and is cleared as is.
"""

from __future__ import annotations

import json
from pathlib import Path

from telnyx_edge import bundle
from telnyx_edge.errors import UsageError

MANIFEST_NAME = "manifest.json"
OUTPUTS = (bundle.BUNDLE_NAME, bundle.MAP_NAME, bundle.META_NAME, MANIFEST_NAME)
MARKER = ".telnyx-ship-outputs.json"
_HINT = "Pass a directory of its own for the build outputs, e.g. --outdir dist (or leave --outdir out for .telnyx/build)."


def check_placement(outdir: Path, root: Path, main: str) -> None:
    """Raise UsageError (before anything is written) when `outdir` is the project directory
    `root`, holds `main` (or is an ancestor of it), or already holds a file named like an
    output (OUTPUTS) that no earlier ship wrote there."""
    out = outdir.expanduser().resolve()
    project = root.resolve()
    entry = (project / main).resolve()
    if out == project:
        raise UsageError(
            f"--outdir {outdir} is the project directory: ship would overwrite files among its sources",
            hint=_HINT,
        )
    if entry.is_relative_to(out):
        raise UsageError(f"--outdir {outdir} holds main ({main}): ship would write over the sources", hint=_HINT)
    foreign = [name for name in OUTPUTS if _present(out / name) and name not in written_by_ship(out)]
    if foreign:
        raise UsageError(
            f"--outdir {outdir} already holds {', '.join(foreign)}, which ship did not write (it would replace them)",
            hint="Pass an empty directory (or one ship wrote to before), or move those files away first.",
        )


def written_by_ship(out: Path) -> set[str]:
    """The output names the marker in `out` records (empty when there is no readable marker)."""
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return set()
    files = data.get("files") if isinstance(data, dict) else None
    return {name for name in files if name in OUTPUTS} if isinstance(files, list) else set()


def prepare(out: Path, *, own: bool) -> None:
    """Create `out` and remove earlier outputs: every output name when `own` (the toolchain's
    own build directory, which needs no marker), else only those the marker recorded
    (check_placement has refused any other), after claiming every output name in it."""
    out.mkdir(parents=True, exist_ok=True)
    earlier = set(OUTPUTS) if own else written_by_ship(out)
    if not own:
        # The claim is written first: a ship stopped half-way still owns what it may have written.
        (out / MARKER).write_text(json.dumps({"written_by": "telnyx-edge ship", "files": list(OUTPUTS)}) + "\n", encoding="utf-8")
    for name in OUTPUTS:
        if name in earlier:
            (out / name).unlink(missing_ok=True)


def _present(path: Path) -> bool:
    return path.exists() or path.is_symlink()
