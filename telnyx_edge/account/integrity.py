"""A shipped revision's bundle, checked against the sha256 `ship` recorded for it.

`ship` stores the bundle read-only under `revisions/<func_id>/<revision>/` and records its sha256
in the revision's row of the account database. A file edited by hand, cut short by a bad copy or
damaged on disk afterwards is not what was shipped (nor what ship's load check ran): it is
refused before a runtime is handed it. The reference is the database row, not the
`manifest.json` beside the bundle, which can be changed along with it.

A revision recorded without a sha256 (the manifest format does not require one; every `ship`
since revisions exist records it) has nothing to check against and is loaded as it is.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from telnyx_edge.errors import RevisionDamagedError

SHOWN = 12  # hex digits of a digest shown in a message: enough to tell two apart


def recorded_sha256(manifest: dict[str, Any]) -> str | None:
    """The sha256 a revision's manifest records for its bundle, None when it records none."""
    value = manifest.get("sha256")
    return value.lower() if isinstance(value, str) and value else None


def check_bundle(path: Path, expected: str | None, *, revision: str, project: str) -> None:
    """Raise RevisionDamagedError unless the bundle at `path` is there and hashes to `expected`.

    `revision` and `project` (the function's project directory) name the revision and the fix
    in the message. With `expected` None (a revision recorded without a digest) only a missing
    bundle is an error: the runtime could not load it anyway, and this says why.
    """
    hint = f"Run telnyx-edge ship again in that project ({project})." if project else (
        "Run telnyx-edge ship again in the function's project."
    )
    try:
        with path.open("rb") as file:
            actual = hashlib.file_digest(file, "sha256").hexdigest()
    except FileNotFoundError:
        raise RevisionDamagedError(f"revision {revision}: bundle missing ({path})", hint=hint) from None
    except OSError as exc:
        raise RevisionDamagedError(
            f"revision {revision}: bundle unreadable ({path}: {exc.strerror or type(exc).__name__})", hint=hint,
        ) from None
    if expected is not None and actual != expected:
        raise RevisionDamagedError(
            f"revision {revision}: bundle changed since ship: sha256 {actual[:SHOWN]}… expected {expected[:SHOWN]}…",
            hint=hint,
        )
